"""Customer credit: ledger balance, goodwill, proration credit, automatic and manual use."""

from __future__ import annotations

import threading

import pytest
from praho.core.errors import InvalidTransition, ValidationFailed
from praho.core.hookspecs import hookimpl
from praho.core.models import AuditEvent, Customer, Invoice, JournalEntry
from praho.core.models.audit import ActorType
from praho.core.services import ledger
from praho.core.services.audit import Actor
from praho.core.services.billing_run import run_billing
from praho.core.services.collections import run_collections
from praho.core.services.customer_credit import (
    apply_credit,
    apply_credit_to_open_invoices,
    credit_balance,
    credit_statement,
    grant_goodwill_credit,
)
from praho.core.services.subscription_changes import change_plan
from praho.core.testing import PrahoFactory, StaticTestPlugin, at
from sqlalchemy import func, select

ANA = Actor(ActorType.USER, "ana@praho.test")
NOW = at("2026-03-02", 10)


def _balanced(session) -> None:
    assert ledger.unbalanced_currencies(ledger.trial_balance(session).items()) == {}


def _counts(session) -> tuple[int, int]:
    return (session.execute(select(func.count(JournalEntry.id))).scalar_one(),
            session.execute(select(func.count(AuditEvent.id))).scalar_one())


def test_goodwill_credit_is_on_the_ledger_with_reason_and_granting_user(
    praho_factory, praho_session
):
    customer = praho_factory.customer()
    entry = grant_goodwill_credit(praho_session, customer, amount_minor=2500, currency="RON",
                                  reason="outage of 6 hours on 1 March", actor=ANA,
                                  idempotency_key="ticket-4411", now=NOW)
    again = grant_goodwill_credit(praho_session, customer, amount_minor=2500, currency="RON",
                                  reason="outage of 6 hours on 1 March", actor=ANA,
                                  idempotency_key="ticket-4411", now=NOW)
    assert again.id == entry.id
    assert credit_balance(praho_session, customer.id, "RON") == 2500
    assert credit_balance(praho_session, customer.id, "EUR") == 0
    [movement] = credit_statement(praho_session, customer.id, "RON")
    assert (movement.amount_minor, movement.kind) == (2500, "goodwill_credit")
    assert "ana@praho.test" in movement.memo and "outage" in movement.memo
    audit = praho_session.execute(
        select(AuditEvent).where(AuditEvent.action == "customer_credit.granted")
    ).scalar_one()
    assert (audit.actor_id, audit.amount_minor, audit.data["reason"]) == (
        "ana@praho.test", 2500, "outage of 6 hours on 1 March")
    assert audit.data["balance_after"] == 2500
    _balanced(praho_session)


@pytest.mark.parametrize("bad, field", [
    ({"amount_minor": -100}, "amount_minor"),
    ({"amount_minor": 0}, "amount_minor"),
    ({"amount_minor": 10.5}, "amount_minor"),
    ({"currency": "XXY"}, "currency"),
    ({"reason": "   "}, "reason"),
    ({"reason": "x" * 201}, "reason"),
    ({"actor": None}, "actor"),
])
def test_bad_goodwill_input_changes_nothing(praho_factory, praho_session, bad, field):
    customer = praho_factory.customer()
    before = _counts(praho_session)
    values = {"amount_minor": 1000, "currency": "RON", "reason": "sorry", "actor": ANA, **bad}
    with pytest.raises(ValidationFailed) as error:
        grant_goodwill_credit(praho_session, customer, now=NOW, **values)
    assert field in {e.field for e in error.value.errors}
    assert _counts(praho_session) == before
    assert credit_balance(praho_session, customer.id, "RON") == 0


def test_the_nightly_run_pays_waiting_invoices_from_credit(praho_factory, praho_session):
    customer = praho_factory.customer()
    invoice = praho_factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    grant_goodwill_credit(praho_session, customer, amount_minor=5000, currency="RON",
                          reason="migration delay", actor=ANA, now=NOW)
    assert invoice.payment_status == "unpaid"  # nothing is used at the moment of the grant
    run = run_collections(praho_session, now=at("2026-03-03", 3, 30))
    assert run.summary["credit_applied"] == {invoice.full_number: 5000}
    assert invoice.total_minor == 12100
    assert (invoice.amount_paid_minor, invoice.payment_status) == (5000, "partially_paid")
    assert invoice.balance_due_minor == 7100
    assert credit_balance(praho_session, customer.id, "RON") == 0
    assert ledger.customer_receivable(praho_session, customer.id, "RON") == 7100
    assert ledger.account_balance(praho_session, "4111", "RON", invoice_id=invoice.id) == 7100
    # A second invoice finds no credit left and is not touched; the next run applies nothing.
    second = praho_factory.invoice(customer, [("Backup", "1", "10.00")], now=NOW)
    assert "credit_applied" not in run_collections(praho_session,
                                                   now=at("2026-03-04", 3, 30)).summary
    assert (second.amount_paid_minor, second.payment_status) == (0, "unpaid")
    _balanced(praho_session)


def test_a_renewal_charge_uses_the_credit_first_and_only_once(praho_factory, praho_session):
    from praho.core.payments.testing import customer_with_card
    from praho.core.services.payments import charge_invoice

    customer = customer_with_card(praho_factory, "tok_success")
    grant_goodwill_credit(praho_session, customer, amount_minor=5000, currency="RON",
                          reason="outage", actor=ANA, now=NOW)
    invoice = praho_factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    assert attempt.amount_minor == 7100  # the card pays what the credit did not
    run_collections(praho_session, now=at("2026-03-03", 3, 30))
    assert (invoice.amount_paid_minor, invoice.payment_status) == (12100, "paid")
    assert credit_balance(praho_session, customer.id, "RON") == 0
    _balanced(praho_session)


class PaidRecorder:
    def __init__(self):
        self.paid = []

    @hookimpl
    def invoice_paid(self, session, invoice):
        self.paid.append(invoice.full_number)


recorder = PaidRecorder()


@pytest.fixture
def praho_plugins():
    recorder.paid.clear()
    return [("static_test", StaticTestPlugin()), ("paid_recorder", recorder)]


def test_credit_covering_the_invoice_marks_it_paid_and_fires_invoice_paid(
    praho_factory, praho_session
):
    customer = praho_factory.customer()
    grant_goodwill_credit(praho_session, customer, amount_minor=20000, currency="RON",
                          reason="prepaid by agreement", actor=ANA, now=NOW)
    invoice = praho_factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    assert apply_credit(praho_session, invoice, actor=ANA, now=NOW) == 12100
    assert (invoice.amount_paid_minor, invoice.payment_status) == (12100, "paid")
    assert recorder.paid == [invoice.full_number]
    assert credit_balance(praho_session, customer.id, "RON") == 20000 - 12100
    statement = credit_statement(praho_session, customer.id, "RON")
    assert [(m.kind, m.amount_minor) for m in statement] == [
        ("goodwill_credit", 20000), ("payment_credit", -12100)]
    _balanced(praho_session)


def test_manual_application_uses_what_the_balance_allows(praho_factory, praho_session):
    customer = praho_factory.customer()
    invoice = praho_factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    assert apply_credit(praho_session, invoice, actor=ANA, now=NOW) == 0  # no credit yet
    grant_goodwill_credit(praho_session, customer, amount_minor=3000, currency="RON",
                          reason="loyalty", actor=ANA, now=NOW)
    assert apply_credit(praho_session, invoice, actor=ANA, now=NOW) == 3000
    assert apply_credit(praho_session, invoice, actor=ANA, now=NOW) == 0
    assert (invoice.amount_paid_minor, invoice.payment_status) == (3000, "partially_paid")
    assert credit_balance(praho_session, customer.id, "RON") == 0
    _balanced(praho_session)


def test_credit_notes_and_proformas_are_not_paid_from_credit(praho_factory, praho_session):
    customer = praho_factory.customer()
    invoice = praho_factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    from praho.core.services.credit_notes import issue_credit_note

    note = issue_credit_note(praho_session, invoice, reason="wrong plan", gross_amount_minor=1210,
                             now=NOW)
    before = _counts(praho_session)
    with pytest.raises(InvalidTransition, match="issued invoices only"):
        apply_credit(praho_session, note, now=NOW)
    assert _counts(praho_session) == before


def test_open_invoices_are_paid_oldest_first_by_hand(praho_factory, praho_session):
    customer = praho_factory.customer()
    older = praho_factory.invoice(customer, [("A", "1", "10.00")], now=at("2026-02-01"))
    newer = praho_factory.invoice(customer, [("B", "1", "10.00")], now=at("2026-02-15"))
    grant_goodwill_credit(praho_session, customer, amount_minor=1500, currency="RON",
                          reason="goodwill", actor=ANA, now=NOW)
    applied = apply_credit_to_open_invoices(praho_session, customer, "RON", actor=ANA, now=NOW)
    assert [(i.full_number, a) for i, a in applied] == [(older.full_number, 1210),
                                                        (newer.full_number, 290)]
    assert credit_balance(praho_session, customer.id, "RON") == 0
    _balanced(praho_session)


def test_downgrade_credit_of_a_paid_period_pays_the_next_renewal(praho_factory, praho_session):
    pro = praho_factory.price(praho_factory.product(code="PRO"), unit_amount_minor=10000)
    basic = praho_factory.price(praho_factory.product(code="BASIC"), unit_amount_minor=5000)
    subscription = praho_factory.subscription(pro, start="2026-01-31")
    first = praho_session.execute(select(Invoice).order_by(Invoice.id)).scalars().first()
    # The customer pays the first period (here from credit, so the ledger stays whole).
    customer = praho_session.get(Customer, first.customer_id)
    grant_goodwill_credit(praho_session, customer, amount_minor=12100, currency="RON",
                          reason="pays period 1", actor=ANA, now=at("2026-02-01"))
    apply_credit(praho_session, first, now=at("2026-02-01"))
    assert first.payment_status == "paid"
    change_plan(praho_session, subscription, basic, now=at("2026-02-14", 12))
    assert credit_balance(praho_session, customer.id, "RON") == 2916  # proration_credits posted it
    run_billing(praho_session, now=at("2026-02-28", 12))
    run_collections(praho_session, now=at("2026-03-01", 3, 30))
    renewal = praho_session.execute(select(Invoice).order_by(Invoice.id.desc())).scalars().first()
    assert renewal.total_minor == 6050
    assert (renewal.amount_paid_minor, renewal.payment_status) == (2916, "partially_paid")
    assert credit_balance(praho_session, customer.id, "RON") == 0
    _balanced(praho_session)


@pytest.mark.postgres
def test_two_concurrent_applications_never_overdraw_the_credit(praho_app, praho_committing):
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        customer = factory.customer()
        first = factory.invoice(customer, [("A", "1", "100.00")], now=NOW)
        second = factory.invoice(customer, [("B", "1", "100.00")], now=NOW)
        grant_goodwill_credit(session, customer, amount_minor=10000, currency="RON",
                              reason="race", actor=ANA, now=NOW)
        ids, customer_id = (first.id, second.id), customer.id
    barrier = threading.Barrier(2)
    results: dict[int, int] = {}

    def pay(invoice_id: int) -> None:
        with praho_app.app_context(), praho_committing.transaction() as session:
            invoice = session.get(Invoice, invoice_id)
            barrier.wait()
            results[invoice_id] = apply_credit(session, invoice, now=NOW)

    threads = [threading.Thread(target=pay, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == [0, 10000]
    with praho_committing.transaction() as session:
        assert credit_balance(session, customer_id, "RON") == 0
        _balanced(session)


def test_a_credit_note_on_a_paid_invoice_goes_to_credit_and_pays_the_next(
    praho_factory, praho_session
):
    from praho.core.services.credit_notes import issue_credit_note
    from praho.core.services.payment_allocation import apply_customer_credit
    from praho.core.services.payments import record_bank_transfer

    customer = praho_factory.customer()
    paid = praho_factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    record_bank_transfer(praho_session, customer=customer, amount_minor=12100, currency="RON",
                         bank_reference="OP-1", received_on="2026-03-02", now=NOW)
    assert paid.payment_status == "paid"
    # Half of a paid invoice is credited: that half is money we now hold for the customer.
    issue_credit_note(praho_session, paid, reason="plan downgraded", gross_amount_minor=6050,
                      now=NOW)
    assert credit_balance(praho_session, customer.id, "RON") == 6050
    assert ledger.account_balance(praho_session, "4111", "RON") == 0  # nothing owed
    later = praho_factory.invoice(customer, [("Domain", "1", "40.00")], now=NOW)
    assert apply_customer_credit(praho_session, later, now=NOW) == 4840
    assert later.payment_status == "paid"
    assert credit_balance(praho_session, customer.id, "RON") == 6050 - 4840
    _balanced(praho_session)


def test_a_credit_note_on_a_partly_paid_invoice_moves_only_the_paid_excess(
    praho_factory, praho_session
):
    from praho.core.services.credit_notes import issue_credit_note
    from praho.core.services.payments import record_bank_transfer

    customer = praho_factory.customer()
    invoice = praho_factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    record_bank_transfer(praho_session, customer=customer, amount_minor=10000, currency="RON",
                         bank_reference="OP-2", received_on="2026-03-02", now=NOW)
    # 21.00 was still open: a 30.25 credit cancels it and leaves 9.25 paid in excess.
    issue_credit_note(praho_session, invoice, reason="outage", gross_amount_minor=3025, now=NOW)
    assert credit_balance(praho_session, customer.id, "RON") == 925
    assert invoice.balance_due_minor == 0
    _balanced(praho_session)


@pytest.mark.postgres
def test_two_concurrent_credit_notes_never_exceed_the_invoice(praho_app, praho_committing):
    from praho.core.services.credit_notes import issue_credit_note

    with praho_committing.transaction() as session:
        invoice_id = PrahoFactory(session).invoice(None, [("A", "1", "100.00")], now=NOW).id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def credit() -> None:
        try:
            with praho_app.app_context(), praho_committing.transaction() as session:
                invoice = session.get(Invoice, invoice_id)
                barrier.wait()
                issue_credit_note(session, invoice, reason="race", gross_amount_minor=8000,
                                  now=NOW)
            outcomes.append("issued")
        except InvalidTransition:
            outcomes.append("refused")

    threads = [threading.Thread(target=credit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["issued", "refused"]
    with praho_committing.transaction() as session:
        invoice = session.get(Invoice, invoice_id)
        notes = session.execute(
            select(func.sum(Invoice.total_minor)).where(Invoice.original_invoice_id == invoice_id)
        ).scalar_one()
        assert invoice.credited_minor == notes <= invoice.total_minor
        _balanced(session)
