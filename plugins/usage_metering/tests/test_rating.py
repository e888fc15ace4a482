"""Rating at period end: arrears lines on the renewal document, late events as adjustments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from praho.core.hookspecs import hookimpl
from praho.core.models import Invoice
from praho.core.services.billing import bill_subscriptions
from praho.core.services.billing_preview import preview_next_invoice
from praho.core.testing import StaticTestPlugin, at
from praho.plugins.usage_metering import record_usage_events
from praho.plugins.usage_metering.models import UsageRating
from praho.plugins.usage_metering.tests.conftest import DURING, RENEWAL
from sqlalchemy import select


def renewal_document(session, subscription, period_start):
    return session.execute(
        select(Invoice).where(
            Invoice.subscription_id == subscription.id, Invoice.period_start == period_start
        )
    ).scalar_one()


def usage_lines_of(invoice):
    return [line for line in invoice.lines if line.kind in ("usage", "adjustment")]


def ratings(session):
    return session.execute(select(UsageRating).order_by(UsageRating.id)).scalars().all()


def ingest_first_period(session, metered):
    events = [metered.event(f"s{i}", gb) for i, gb in enumerate(["100", "150", "0.3"])]
    events += [metered.event(f"m{i}", n, meter="mailboxes") for i, n in enumerate([3, 7, 6])]
    assert record_usage_events(session, events, now=DURING).accepted == 6


def test_closed_period_is_billed_in_arrears_on_the_renewal(praho_session, metered):
    ingest_first_period(praho_session, metered)
    report = bill_subscriptions(praho_session, [metered.subscription.id], now=RENEWAL)
    assert len(report.issued) == 1
    invoice = renewal_document(praho_session, metered.subscription, date(2026, 2, 28))
    usage = {line.item_name: line for line in usage_lines_of(invoice)}
    storage, mailboxes = usage["Spațiu de stocare"], usage["Căsuțe e-mail"]
    # 250.3 GB rounds up to 251; 10 included; 100 x 0.50 + 141 x 0.25 = 85.25
    assert storage.net_amount_minor == 8525
    assert storage.quantity == Decimal(251)
    assert (storage.period_start, storage.period_end) == (date(2026, 1, 31), date(2026, 2, 27))
    assert "31.01.2026 - 27.02.2026" in storage.description
    assert [p["units"] for p in storage.details["usage"]["parts"]] == ["100", "141"]
    # max 7 mailboxes, 5 included, 2 x 2.00
    assert mailboxes.net_amount_minor == 400
    assert invoice.lines_net_minor == 5000 + 8525 + 400
    rows = ratings(praho_session)
    assert [(r.meter_id, r.revision, r.amount_minor, r.invoice_id) for r in rows] == [
        (metered.storage.id, 0, 8525, invoice.id),
        (metered.mailboxes.id, 0, 400, invoice.id),
    ]


def test_late_event_is_billed_as_adjustment_on_the_next_invoice(praho_session, metered):
    ingest_first_period(praho_session, metered)
    bill_subscriptions(praho_session, [metered.subscription.id], now=RENEWAL)
    # Arrives on 5 March, dated 20 February (a period already invoiced).
    late = metered.event("late", "20", when=at("2026-02-20"))
    march = metered.event("march", "5", when=at("2026-03-10"))
    assert record_usage_events(praho_session, [late, march], now=at("2026-03-15")).accepted == 2
    bill_subscriptions(praho_session, [metered.subscription.id], now=at("2026-03-31", 3))
    invoice = renewal_document(praho_session, metered.subscription, date(2026, 3, 31))
    lines = {
        line.kind: line for line in usage_lines_of(invoice) if line.item_name == "Spațiu de stocare"
    }
    # February again: 271 GB -> 50 + 161 x 0.25 = 90.25, 85.25 already billed: +5.00
    assert lines["adjustment"].net_amount_minor == 500
    assert lines["adjustment"].quantity == Decimal(20)
    assert "251 -> 271" in lines["adjustment"].description
    # March: 5 GB, all within the included 10.
    assert lines["usage"].net_amount_minor == 0
    revisions = [
        (r.period_start, r.revision, r.amount_minor, r.total_amount_minor)
        for r in ratings(praho_session)
        if r.meter_id == metered.storage.id
    ]
    assert revisions == [
        (date(2026, 1, 31), 0, 8525, 8525),
        (date(2026, 1, 31), 1, 500, 9025),
        (date(2026, 2, 28), 0, 0, 0),
    ]
    # The next renewal bills nothing twice.
    bill_subscriptions(praho_session, [metered.subscription.id], now=at("2026-04-30", 3))
    april = renewal_document(praho_session, metered.subscription, date(2026, 4, 30))
    assert [line.kind for line in usage_lines_of(april)] == []


def test_preview_shows_usage_and_records_nothing(praho_session, metered):
    ingest_first_period(praho_session, metered)
    preview = preview_next_invoice(praho_session, metered.subscription, now=DURING)
    amounts = sorted(line.net_amount_minor for line in preview.document.lines)
    assert amounts == [400, 5000, 8525]
    assert ratings(praho_session) == []
    # The real run afterwards bills the same amounts once.
    bill_subscriptions(praho_session, [metered.subscription.id], now=RENEWAL)
    assert sorted(r.amount_minor for r in ratings(praho_session)) == [400, 8525]


def test_period_without_usage_records_zero_and_adds_no_line(praho_session, metered):
    bill_subscriptions(praho_session, [metered.subscription.id], now=RENEWAL)
    invoice = renewal_document(praho_session, metered.subscription, date(2026, 2, 28))
    assert usage_lines_of(invoice) == []
    assert {(r.quantity, r.amount_minor) for r in ratings(praho_session)} == {(Decimal(0), 0)}


def test_minimum_charge_appears_without_usage(praho_session, praho_factory):
    from praho.plugins.usage_metering.tests.conftest import build_metered

    metered = build_metered(
        praho_session,
        praho_factory,
        storage_charge={"model": "per_unit", "unit_price": "0.10", "minimum_minor": 1500},
    )
    bill_subscriptions(praho_session, [metered.subscription.id], now=RENEWAL)
    invoice = renewal_document(praho_session, metered.subscription, date(2026, 2, 28))
    [line] = usage_lines_of(invoice)
    assert (line.net_amount_minor, line.quantity) == (1500, Decimal(1))
    assert "minim" in line.description


def test_plan_change_continues_the_meter_where_the_old_charge_stopped(praho_session, metered):
    from praho.core.services.subscription_changes import change_plan
    from praho.plugins.usage_metering.meters import define_charge

    ingest_first_period(praho_session, metered)
    bill_subscriptions(praho_session, [metered.subscription.id], now=RENEWAL)
    bigger = metered.factory.price(unit_amount_minor=9000)
    define_charge(
        praho_session,
        meter=metered.storage,
        price=bigger,
        now=RENEWAL,
        data={"model": "per_unit", "unit_price": "0.10"},
    )
    change_plan(praho_session, metered.subscription, bigger, proration="none", now=at("2026-03-01"))
    march = metered.event("march", "30", when=at("2026-03-10"))
    record_usage_events(praho_session, [march], now=at("2026-03-15"))
    bill_subscriptions(praho_session, [metered.subscription.id], now=at("2026-03-31", 3))
    invoice = renewal_document(praho_session, metered.subscription, date(2026, 3, 31))
    [storage] = [line for line in usage_lines_of(invoice) if line.item_name == "Spațiu de stocare"]
    # Only March (30 GB at 0.10 on the new plan), not February again.
    assert (storage.quantity, storage.net_amount_minor) == (Decimal(30), 300)
    assert storage.period_start == date(2026, 2, 28)


def test_meter_charged_by_plan_and_addon_is_billed_once(praho_session, metered):
    from praho.plugins.usage_metering.meters import define_charge

    addon = metered.factory.price(unit_amount_minor=1000)
    define_charge(
        praho_session,
        meter=metered.storage,
        price=addon,
        now=DURING,
        data={"model": "per_unit", "unit_price": "9"},
    )
    both = metered.factory.subscription(metered.price, metered.customer, addons=[addon])
    event = {**metered.event("b1", "20"), "subscription": both.id}
    assert record_usage_events(praho_session, [event], now=DURING).accepted == 1
    bill_subscriptions(praho_session, [both.id], now=RENEWAL)
    invoice = renewal_document(praho_session, both, date(2026, 2, 28))
    storage = [line for line in usage_lines_of(invoice) if line.item_name == "Spațiu de stocare"]
    # The plan's (older) charge: 10 billable GB x 0.50.
    assert [line.net_amount_minor for line in storage] == [500]


class FailingRenewal:
    """A plugin whose subscription_renewed fails for one subscription."""

    def __init__(self) -> None:
        self.fail_for: set[int] = set()

    @hookimpl
    def subscription_renewed(self, subscription):
        if subscription.id in self.fail_for:
            raise RuntimeError("provisioning failed")


failing = FailingRenewal()


@pytest.fixture
def praho_plugins():
    return [("static_test", StaticTestPlugin()), ("failing_renewal", failing)]


def test_ratings_survive_the_runs_one_by_one_retry(praho_session, praho_factory):
    from praho.plugins.usage_metering.tests.conftest import build_metered

    metered = build_metered(praho_session, praho_factory)
    other = praho_factory.subscription(metered.price)
    ingest_first_period(praho_session, metered)
    failing.fail_for = {other.id}
    try:
        report = bill_subscriptions(praho_session, [metered.subscription.id, other.id], now=RENEWAL)
    finally:
        failing.fail_for = set()
    assert [doc.subscription_id for doc in report.issued] == [metered.subscription.id]
    invoice = renewal_document(praho_session, metered.subscription, date(2026, 2, 28))
    assert sorted((r.amount_minor, r.invoice_id) for r in ratings(praho_session)) == [
        (400, invoice.id),
        (8525, invoice.id),
    ]
