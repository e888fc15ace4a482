"""The billing run: due subscriptions billed once, failures isolated, plugins consulted."""

from datetime import date
from decimal import Decimal

import pytest
from praho.core.errors import TaxDecisionPending
from praho.core.hookspecs import hookimpl
from praho.core.models import (
    BillingOutcome,
    BillingRunChunk,
    Customer,
    CustomerStatus,
    DocumentKind,
    Invoice,
    InvoiceMode,
    JournalEntry,
    PriceVersion,
    SubscriptionEvent,
    SubscriptionPeriod,
)
from praho.core.pricing import DraftAllowance, DraftLine, ResolvedPrice
from praho.core.services import ledger
from praho.core.services.billing import bill_subscriptions
from praho.core.services.billing_run import (
    bill_run_chunk,
    finish_billing_run,
    pending_chunk_ids,
    run_billing,
    run_progress,
    start_billing_run,
)
from praho.core.testing import PrahoFactory, StaticTaxRegime, StaticTestPlugin, at
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

RENEWAL = at("2026-02-28", 3)


class PendingForGermany(StaticTaxRegime):
    """The static regime, except German buyers whose VIES check has not answered yet."""

    def decide(self, session, request):
        if request.buyer.country == "DE":
            raise TaxDecisionPending("VIES did not answer for DE136695976; retry later")
        return super().decide(session, request)


class PricingPlugin:
    """Answers the pricing hooks for the subscriptions it was told about."""

    def __init__(self):
        self.prices = {}  # subscription id -> unit amount
        self.extra_lines = {}  # subscription id -> [DraftLine]
        self.discounts = {}  # subscription id -> percent
        self.explode = set()  # subscription ids whose charges hook raises
        self.explode_final = set()  # subscription ids whose final charges hook raises
        self.renewed = []
        self.issued = []

    @hookimpl
    def resolve_subscription_price(self, subscription, item, period_start):
        if subscription.id in self.prices:
            return ResolvedPrice(
                self.prices[subscription.id],
                subscription.currency,
                "grandfathering",
                f"price kept from {period_start.year - 1}",
            )
        return None

    @hookimpl
    def collect_renewal_charges(self, session, subscription, period_start, period_end, invoice):
        if subscription.id in self.explode:
            session.add(
                SubscriptionEvent(
                    subscription_id=subscription.id,
                    occurred_at=RENEWAL,
                    event="plugin_scribble",
                    data={},
                )
            )
            session.flush()
            raise RuntimeError("usage meter unreachable")
        assert invoice.subscription_id == subscription.id and invoice.period_start == period_start
        return self.extra_lines.get(subscription.id, [])

    @hookimpl
    def collect_final_charges(self, subscription):
        if subscription.id in self.explode_final:
            raise RuntimeError("usage store unreachable")
        return []

    @hookimpl
    def collect_renewal_allowances(self, subscription, invoice):
        percent = self.discounts.get(subscription.id)
        if not percent:
            return []
        base = sum(line.net_amount_minor for line in invoice.lines)
        return [
            DraftAllowance(
                amount_minor=base * percent // 100,
                reason=f"Promo {percent}%",
                source="promotions",
                percent=Decimal(percent),
            )
        ]

    @hookimpl
    def subscription_renewed(self, subscription, invoice):
        self.renewed.append((subscription.id, invoice.full_number))

    @hookimpl
    def invoice_issued(self, invoice):
        self.issued.append(invoice.full_number)


class BatchListener:
    """Implements both issue hooks: the billing run must use only the batch one."""

    def __init__(self):
        self.batches = []
        self.singles = []

    @hookimpl
    def invoices_issued(self, session, invoices):
        assert all(i.status == "issued" and i.full_number for i in invoices)
        self.batches.append([i.full_number for i in invoices])

    @hookimpl
    def invoice_issued(self, invoice):
        self.singles.append(invoice.full_number)


@pytest.fixture
def pricing():
    return PricingPlugin()


@pytest.fixture
def batch_listener():
    return BatchListener()


@pytest.fixture
def praho_plugins(pricing, batch_listener):
    return [
        ("static_test", StaticTestPlugin(regime=PendingForGermany())),
        ("pricing", pricing),
        ("batch", batch_listener),
    ]


def _count(session, model):
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_due_subscriptions_are_billed_once_and_a_rerun_bills_nothing(praho_factory, praho_session):
    subscriptions = [praho_factory.subscription(start="2026-01-31") for _ in range(5)]
    early = praho_factory.subscription(start="2026-02-10")
    run = run_billing(praho_session, now=RENEWAL)
    assert run.status == "completed" and run.subscriptions_due == 5
    assert run.summary["counts"] == {"issued": 5} and run.summary["amounts"] == {"RON": 5 * 6050}
    assert all(s.next_billing_date == date(2026, 3, 31) for s in subscriptions)
    assert early.next_billing_date == date(2026, 3, 10)
    documents = _count(praho_session, Invoice)
    again = run_billing(praho_session, now=at("2026-02-28", 23))
    assert again.subscriptions_due == 0 and _count(praho_session, Invoice) == documents
    report = bill_subscriptions(praho_session, [s.id for s in subscriptions], now=RENEWAL)
    assert {o.outcome for o in report.outcomes} == {"skipped"} and not report.issued
    numbers = sorted(praho_session.execute(select(Invoice.number)).scalars())
    assert numbers == list(range(1, documents + 1))  # gapless


def test_hook_invoices_issued(praho_factory, praho_session, pricing, batch_listener):
    """A chunk reaches a batch listener once, and per-document listeners per document."""
    subscriptions = [praho_factory.subscription(start="2026-01-31") for _ in range(4)]
    # Creation bills each first period through the same path: a batch of one each.
    assert [len(batch) for batch in batch_listener.batches] == [1, 1, 1, 1]
    batch_listener.batches.clear()
    pricing.issued.clear()
    pricing.renewed.clear()
    run_billing(praho_session, now=RENEWAL)
    renewals = sorted(
        praho_session.execute(
            select(Invoice.full_number).where(Invoice.period_start == date(2026, 2, 28))
        ).scalars()
    )
    assert len(renewals) == len(subscriptions)
    assert [sorted(batch) for batch in batch_listener.batches] == [renewals]
    assert batch_listener.singles == []  # never called per document by the run
    assert sorted(pricing.issued) == renewals  # invoice_issued only: once per document
    assert sorted(number for _id, number in pricing.renewed) == renewals
    # A document issued on its own still reaches both plugins through invoice_issued.
    single = praho_factory.invoice()
    assert batch_listener.singles == [single.full_number] and pricing.issued[-1] == (
        single.full_number
    )


def test_a_plugin_failing_on_a_final_document_fails_that_subscription_only(
    praho_factory, praho_session, pricing
):
    from praho.core.services.subscriptions import cancel_subscription

    ending = praho_factory.subscription(start="2026-01-31")
    other = praho_factory.subscription(start="2026-01-31")
    cancel_subscription(praho_session, ending, at_period_end=True, now=at("2026-02-10"))
    pricing.explode_final.add(ending.id)
    report = bill_subscriptions(praho_session, [ending.id, other.id], now=RENEWAL)
    outcomes = {o.subscription_id: o for o in report.outcomes}
    assert outcomes[other.id].outcome == "issued"
    failed = outcomes[ending.id]
    assert (failed.outcome, failed.error_code) == ("failed", "internal_error")
    assert "usage store unreachable" in failed.reason
    # Nothing of the ending was kept: still due, still to be cancelled at period end.
    assert ending.status == "active" and ending.cancel_at_period_end
    pricing.explode_final.clear()
    again = bill_subscriptions(praho_session, [ending.id], now=RENEWAL)
    assert [o.outcome for o in again.outcomes] == ["ended"] and ending.status == "cancelled"


def test_the_period_claim_is_unique(praho_factory, praho_session):
    subscription = praho_factory.subscription(start="2026-01-31")
    claim = praho_session.execute(select(SubscriptionPeriod)).scalar_one()
    assert (claim.subscription_id, claim.period_start, claim.period_end) == (
        subscription.id,
        date(2026, 1, 31),
        date(2026, 2, 28),
    )
    savepoint = praho_session.begin_nested()
    praho_session.add(
        SubscriptionPeriod(
            subscription_id=subscription.id,
            period_start=date(2026, 1, 31),
            period_end=date(2026, 2, 28),
            currency="RON",
            total_minor=0,
            claimed_at=RENEWAL,
        )
    )
    with pytest.raises(IntegrityError):
        praho_session.flush()
    savepoint.rollback()


def test_an_existing_claim_stops_a_second_document_even_if_the_dates_say_due(
    praho_factory, praho_session
):
    subscription = praho_factory.subscription(start="2026-01-31")
    other = praho_factory.subscription(start="2026-01-31")
    run_billing(praho_session, now=RENEWAL)
    # Simulate a stale row (restored backup, manual edit): due again for a billed period.
    subscription.next_billing_date = date(2026, 2, 28)
    praho_session.flush()
    documents = _count(praho_session, Invoice)
    report = bill_subscriptions(praho_session, [subscription.id, other.id], now=RENEWAL)
    assert [(o.subscription_id, o.outcome) for o in report.outcomes] == [
        (other.id, "skipped"),
        (subscription.id, "already_billed"),
    ]
    assert _count(praho_session, Invoice) == documents


def test_failures_are_recorded_with_reasons_and_never_stop_the_others(praho_factory, praho_session):
    good = [praho_factory.subscription(start="2026-01-31") for _ in range(2)]
    no_cui = praho_factory.subscription(start="2026-01-31")
    inactive = praho_factory.subscription(start="2026-01-31")
    german = praho_factory.subscription(start="2026-01-31")
    no_price = praho_factory.subscription(start="2026-01-31")
    no_rate = praho_factory.subscription(
        praho_factory.price(currency="GBP"),
        start="2026-01-31",
        bill_now=False,
        now=at("2026-02-27"),
    )
    customers = {
        s.id: praho_session.get(Customer, s.customer_id) for s in (no_cui, inactive, german)
    }
    customers[no_cui.id].cui = None
    customers[inactive.id].status = CustomerStatus.INACTIVE
    customers[german.id].country, customers[german.id].county = "DE", None
    later = praho_factory.price(effective_from=date(2027, 1, 1))
    no_price.items[0].price_id = later.id
    praho_session.flush()
    run = run_billing(praho_session, now=RENEWAL)
    assert run.status == "completed_with_failures"
    assert run.summary["counts"] == {"issued": 2, "failed": 5}
    reasons = {f["subscription_id"]: (f["error"], f["reason"]) for f in run.summary["failures"]}
    assert reasons[no_cui.id][0] == "validation_failed" and "CUI" in reasons[no_cui.id][1]
    assert reasons[inactive.id] == (
        "invalid_transition",
        f"customer {customers[inactive.id].code} is inactive; cannot bill",
    )
    assert reasons[german.id] == (
        "tax_decision_pending",
        "VIES did not answer for DE136695976; retry later",
    )
    assert (
        reasons[no_price.id][0] == "validation_failed"
        and "no version in effect on 2026-02-28" in reasons[no_price.id][1]
    )
    assert reasons[no_rate.id][0] == "exchange_rate_unavailable"
    assert all(s.next_billing_date == date(2026, 3, 31) for s in good)
    # Failed subscriptions stay due and are billed by the next run once the data is fixed.
    assert no_cui.next_billing_date == date(2026, 2, 28)
    customers[no_cui.id].cui = "14399840"
    rerun = run_billing(praho_session, now=at("2026-03-01"))
    assert rerun.summary["counts"]["issued"] == 1 and rerun.summary["counts"]["failed"] == 4


def test_plugin_errors_are_isolated_and_their_writes_rolled_back(
    praho_factory, praho_session, pricing, caplog
):
    bad = praho_factory.subscription(start="2026-01-31")
    fine = praho_factory.subscription(start="2026-01-31")
    pricing.explode.add(bad.id)
    with caplog.at_level("INFO", logger="praho.billing"):
        run = run_billing(praho_session, now=RENEWAL)
    # The optimistic pass (no savepoint per subscription) failed and the chunk was
    # billed again with one savepoint per subscription.
    assert "billing the chunk again" in caplog.text
    assert run.summary["counts"] == {"issued": 1, "failed": 1}
    assert run.summary["failures"][0]["reason"] == "RuntimeError: usage meter unreachable"
    assert fine.next_billing_date == date(2026, 3, 31)
    scribbles = (
        select(func.count())
        .select_from(SubscriptionEvent)
        .where(SubscriptionEvent.event == "plugin_scribble")
    )
    assert praho_session.execute(scribbles).scalar_one() == 0


def test_hook_resolve_subscription_price(praho_factory, praho_session, pricing, caplog):
    subscription = praho_factory.subscription(start="2026-01-31")
    pricing.prices[subscription.id] = 3900
    with caplog.at_level("INFO", logger="praho.billing"):
        run_billing(praho_session, now=RENEWAL)
    assert "billing the chunk again" not in caplog.text  # nothing failed: one pass
    line = (
        praho_session.execute(select(Invoice).order_by(Invoice.id.desc()))
        .scalars()
        .first()
        .lines[0]
    )
    assert line.net_amount_minor == 3900
    assert (line.details["price_source"], line.details["price_reason"]) == (
        "grandfathering",
        "price kept from 2025",
    )


def test_hook_collect_renewal_charges(praho_factory, praho_session, pricing):
    subscription = praho_factory.subscription(start="2026-01-31")
    pricing.extra_lines[subscription.id] = [
        DraftLine(
            item_name="Trafic suplimentar",
            quantity=Decimal("12.5"),
            unit_price=Decimal("0.40"),
            kind="usage",
        )
    ]
    run_billing(praho_session, now=RENEWAL)
    invoice = praho_session.execute(select(Invoice).order_by(Invoice.id.desc())).scalars().first()
    assert [(ln.kind, ln.net_amount_minor) for ln in invoice.lines] == [
        ("charge", 5000),
        ("usage", 500),
    ]
    assert invoice.total_minor == 6655


def test_hook_collect_renewal_allowances(praho_factory, praho_session, pricing):
    subscription = praho_factory.subscription(start="2026-01-31")
    pricing.discounts[subscription.id] = 20
    run_billing(praho_session, now=RENEWAL)
    invoice = praho_session.execute(select(Invoice).order_by(Invoice.id.desc())).scalars().first()
    assert [(a.reason, a.amount_minor) for a in invoice.allowances] == [("Promo 20%", 1000)]
    assert (invoice.taxable_minor, invoice.total_minor) == (4000, 4840)


def test_hook_subscription_renewed(praho_factory, praho_session, pricing):
    subscription = praho_factory.subscription(start="2026-01-31")
    run_billing(praho_session, now=RENEWAL)
    numbers = (
        praho_session.execute(select(Invoice.full_number).order_by(Invoice.id)).scalars().all()
    )
    assert pricing.renewed == [(subscription.id, n) for n in numbers]
    assert pricing.issued == numbers  # invoice_issued fires for bulk-issued documents too


def test_proforma_customers_get_proformas_that_post_nothing(praho_factory, praho_session):
    customer = praho_factory.customer(invoice_mode=InvoiceMode.PROFORMA)
    praho_factory.subscription(customer=customer, start="2026-01-31")
    run_billing(praho_session, now=RENEWAL)
    kinds = praho_session.execute(select(Invoice.kind, Invoice.full_number)).all()
    assert [k for k, _ in kinds] == ["proforma", "proforma"]
    assert kinds[1][1] == "PRO2026-000002"
    assert ledger.customer_receivable(praho_session, customer.id, "RON") == 0


def test_missed_days_are_caught_up_one_period_at_a_time(praho_factory, praho_session):
    subscription = praho_factory.subscription(start="2026-01-31")
    run = run_billing(praho_session, now=at("2026-04-05"))
    assert run.summary["counts"] == {"issued": 2}
    periods = (
        praho_session.execute(select(Invoice.period_start).order_by(Invoice.id)).scalars().all()
    )
    assert periods == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    assert subscription.next_billing_date == date(2026, 4, 30)


def test_every_document_posts_one_balanced_entry(praho_factory, praho_session):
    for _ in range(3):
        praho_factory.subscription(start="2026-01-31")
    run_billing(praho_session, now=RENEWAL)
    invoices = praho_session.execute(select(Invoice)).scalars().all()
    keys = set(praho_session.execute(select(JournalEntry.idempotency_key)).scalars())
    assert keys == {f"document-issued:{i.id}" for i in invoices}
    assert ledger.unbalanced_currencies(ledger.trial_balance(praho_session).items()) == {}
    assert ledger.account_balance(praho_session, "4111", "RON") == sum(
        i.total_minor for i in invoices
    )


def test_chunked_run_progress_and_redelivered_chunks(praho_factory, praho_session):
    subscriptions = [praho_factory.subscription(start="2026-01-31") for _ in range(7)]
    run = start_billing_run(praho_session, now=RENEWAL, chunk_size=3)
    assert (run.subscriptions_due, run.chunks_total) == (7, 3)
    chunks = pending_chunk_ids(praho_session, run.id)
    assert [len(praho_session.get(BillingRunChunk, c).subscription_ids) for c in chunks] == [
        3,
        3,
        1,
    ]
    assert bill_run_chunk(praho_session, chunks[1]).issued
    assert run_progress(praho_session, run.id) == (1, 3)
    assert finish_billing_run(praho_session, run.id) is None
    assert bill_run_chunk(praho_session, chunks[1]) is None  # redelivered: nothing happens
    for chunk_id in (chunks[0], chunks[2]):
        bill_run_chunk(praho_session, chunk_id)
    finished = finish_billing_run(praho_session, run.id)
    assert finished.summary["counts"] == {"issued": 7}
    assert _count(praho_session, BillingOutcome) == 7
    assert all(s.next_billing_date == date(2026, 3, 31) for s in subscriptions)
    assert finish_billing_run(praho_session, run.id) is finished


def test_a_price_change_applies_from_the_period_it_is_effective(praho_factory, praho_session):
    price = praho_factory.price()
    praho_session.add(
        PriceVersion(price_id=price.id, effective_from=date(2026, 3, 31), unit_amount_minor=5500)
    )
    praho_factory.subscription(price, start="2026-01-31")
    run_billing(praho_session, now=RENEWAL)
    run_billing(praho_session, now=at("2026-03-31"))
    amounts = (
        praho_session.execute(select(Invoice.taxable_minor).order_by(Invoice.id)).scalars().all()
    )
    assert amounts == [5000, 5000, 5500]


def test_documents_of_a_run_are_the_documents_issue_document_makes(
    praho_factory, praho_session, pricing
):
    """The bulk path and the one-document path produce the same fiscal document."""
    from praho.core.services.invoicing import add_line, apply_allowance, create_draft
    from praho.core.services.issuing import issue_document
    from praho.core.services.renewal import CatalogCache, renewal_lines

    euro = praho_factory.price(currency="EUR", unit_amount_minor=1999)
    cases = [
        ({}, None),
        ({"discount": 15}, None),
        ({}, euro),
        ({"invoice_mode": InvoiceMode.PROFORMA}, None),
        ({"discount": 100}, None),
    ]
    for options, price in cases:
        customer = praho_factory.customer(
            **({"invoice_mode": options["invoice_mode"]} if "invoice_mode" in options else {})
        )
        price = price or praho_factory.price()
        twins = [
            praho_factory.subscription(
                price,
                customer=customer,
                start="2026-02-28",
                quantity=3,
                bill_now=False,
                now=at("2026-02-27"),
            )
            for _ in range(2)
        ]
        for twin in twins:
            pricing.discounts[twin.id] = options.get("discount")
        bulk_report = bill_subscriptions(praho_session, [twins[0].id], now=RENEWAL)
        bulk = praho_session.get(Invoice, bulk_report.issued[0].invoice_id)
        reference = twins[1]
        renewal = renewal_lines(
            praho_session,
            reference,
            customer,
            date(2026, 2, 28),
            now=RENEWAL,
            catalog=CatalogCache(praho_session),
        )
        draft = create_draft(
            praho_session,
            customer=customer,
            kind=renewal.kind,
            currency=reference.currency,
            period_start=renewal.period.start,
            period_end=renewal.period.last_day,
            now=RENEWAL,
        )
        draft.subscription_id = reference.id
        draft.attributes = {
            "subscription": {
                "id": reference.id,
                "period_start": "2026-02-28",
                "period_end": "2026-03-28",
            }
        }
        for line in renewal.lines:
            add_line(praho_session, draft, line, now=RENEWAL)
        for allowance in pricing.collect_renewal_allowances(reference, draft):
            apply_allowance(praho_session, draft, allowance)
        single = issue_document(praho_session, draft, now=RENEWAL)
        praho_session.expire_all()
        bulk, single = praho_session.get(Invoice, bulk.id), praho_session.get(Invoice, single.id)
        skip = {
            "id",
            "number",
            "full_number",
            "subscription_id",
            "attributes",
            "lines",
            "allowances",
            "tax_subtotals",
            "original_invoice",
            "updated_at",
        }
        columns = [c.key for c in Invoice.__mapper__.column_attrs if c.key not in skip]
        assert {c: getattr(bulk, c) for c in columns} == {c: getattr(single, c) for c in columns}, (
            options
        )
        assert bulk.number == single.number - 1

        def rows(objects, *extra_skip):
            return [
                {
                    c.key: getattr(o, c.key)
                    for c in type(o).__mapper__.column_attrs
                    if c.key not in {"id", "invoice_id", *extra_skip}
                }
                for o in objects
            ]

        def without_ids(lines):
            # The twins differ only by which subscription and item the lines belong to.
            return [
                {
                    **row,
                    "details": {
                        k: v
                        for k, v in row["details"].items()
                        if k not in ("subscription_id", "subscription_item_id")
                    },
                }
                for row in rows(lines)
            ]

        assert without_ids(bulk.lines) == without_ids(single.lines)
        assert rows(bulk.allowances) == rows(single.allowances)
        assert rows(bulk.tax_subtotals) == rows(single.tax_subtotals)
        postings = [
            sorted((ln.account_code, ln.amount_minor) for ln in e.lines)
            for e in (
                ledger.find_entry(praho_session, f"document-issued:{d.id}") for d in (bulk, single)
            )
            if e
        ]
        assert len(postings) in (0, 2) and (not postings or postings[0] == postings[1])
        assert bulk.kind == (
            DocumentKind.PROFORMA if "invoice_mode" in options else DocumentKind.INVOICE
        )


def test_the_beat_task_bills_the_day_through_its_chunk_tasks(praho_app, praho_committing):
    """Without a broker the tasks run eagerly: the daily task fans out and every chunk bills."""
    from praho.core.billing_tasks import run_billing_task
    from praho.core.models import BillingRun
    from praho.core.tasks import build_beat_schedule

    assert build_beat_schedule(praho_app)["billing-run-daily"]["task"] == "praho.billing.run"
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        for _ in range(5):
            factory.subscription(start="2026-01-31")
    result = run_billing_task.delay(run_date="2026-02-28", chunk_size=2).get()
    assert result["chunks"] == 3
    with praho_committing.transaction() as session:
        run = session.get(BillingRun, result["run_id"])
        assert run.status == "completed" and run.summary["counts"] == {"issued": 5}
        assert run.now == at("2026-02-28")
