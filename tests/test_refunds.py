"""Refunds: workflow and history, card/bank/credit destinations, credit notes, ledger, races."""

from __future__ import annotations

import threading

import pytest
from praho.core.errors import FieldError, InvalidTransition, ValidationFailed
from praho.core.hookspecs import hookimpl
from praho.core.models import (
    AuditEvent,
    Customer,
    Invoice,
    JournalEntry,
    Payment,
    PaymentAttempt,
)
from praho.core.models.audit import ActorType
from praho.core.models.refunds import Refund, RefundEvent
from praho.core.payments.gateway import GatewayResult, TransactionStatus, TransactionType
from praho.core.payments.testing import customer_with_card
from praho.core.services import ledger
from praho.core.services.audit import Actor
from praho.core.services.collections import run_collections
from praho.core.services.customer_credit import credit_balance
from praho.core.services.payments import charge_invoice, record_bank_transfer
from praho.core.services.refunds import (
    add_note,
    apply_refund_result,
    approve_refund,
    cancel_refund,
    create_refund,
    record_payout,
    refundable_minor,
    reject_refund,
    start_review,
)
from praho.core.testing import DEFAULT_NOW, PrahoFactory, StaticTestPlugin, at
from praho.plugins.fake_gateway.gateway import GATEWAY
from sqlalchemy import func, select

NOW = DEFAULT_NOW
ANA = Actor(ActorType.USER, "ana@praho.test")
TOTAL = 12100


class RefundHooks:
    def __init__(self):
        self.completed = []

    @hookimpl
    def refund_completed(self, session, refund):
        self.completed.append((refund.reference, refund.amount_minor))


hooks = RefundHooks()


@pytest.fixture
def praho_plugins():
    hooks.completed.clear()
    return [("static_test", StaticTestPlugin()), ("refund_hooks", hooks)]


def _card_payment(factory, session, token="tok_success"):
    customer = customer_with_card(factory, token)
    invoice = factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    attempt = charge_invoice(session, invoice, now=NOW)
    assert attempt.status == "processed"
    payment = session.execute(select(Payment).where(Payment.attempt_id == attempt.id)).scalar_one()
    return invoice, payment


def _approve(session, refund, when=NOW):
    start_review(session, refund, actor=ANA, note="checked the ticket", now=when)
    return approve_refund(session, refund, actor=ANA, now=when)


def _balanced(session):
    session.flush()
    assert ledger.unbalanced_currencies(ledger.trial_balance(session).items()) == {}


def _counts(session):
    return tuple(
        session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (Refund, RefundEvent, JournalEntry, AuditEvent, Invoice)
    )


def test_hook_refund_completed(praho_factory, praho_session):
    invoice, payment = _card_payment(praho_factory, praho_session)
    refund = create_refund(
        praho_session,
        payment,
        amount_minor=5000,
        reason="service_failure",
        internal_note="outage 3-5 March",
        actor=ANA,
        now=NOW,
    )
    assert refund.reference.startswith(f"REF-{NOW:%Y%m%d}-") and len(refund.reference) == 21
    assert refund.status == "pending" and refund.split == {
        "credit": 0,
        "invoices": {str(invoice.id): 5000},
    }
    _approve(praho_session, refund)
    assert refund.status == "completed"
    assert hooks.completed == [(refund.reference, 5000)]
    assert GATEWAY.transactions[refund.reference].result.amount_minor == 5000
    # Payment, invoice and the credit note are in step.
    assert (payment.refunded_minor, payment.status) == (5000, "partially_refunded")
    assert invoice.refunded_minor == 5000 and invoice.credited_minor == 5000
    note = praho_session.execute(
        select(Invoice).where(Invoice.original_invoice_id == invoice.id)
    ).scalar_one()
    assert note.kind == "credit_note" and note.total_minor == 5000
    assert refund.reference in note.note
    assert invoice.payment_status == "paid" and invoice.balance_due_minor == 0
    assert ledger.account_balance(praho_session, "4111", "RON", invoice_id=invoice.id) == 0
    history = [(e.from_status, e.to_status) for e in refund.events]
    assert history == [
        (None, "pending"),
        ("pending", "processing"),
        ("processing", "approved"),
        ("approved", "completed"),
    ]
    _balanced(praho_session)


def test_the_rest_is_refunded_and_then_nothing_more(praho_factory, praho_session):
    invoice, payment = _card_payment(praho_factory, praho_session)
    _approve(
        praho_session,
        create_refund(
            praho_session, payment, amount_minor=5000, reason="customer_request", now=NOW
        ),
    )
    rest = create_refund(praho_session, payment, reason="customer_request", now=NOW)
    assert rest.amount_minor == TOTAL - 5000
    _approve(praho_session, rest)
    assert (payment.refunded_minor, payment.status) == (TOTAL, "refunded")
    assert invoice.refunded_minor == TOTAL and invoice.credited_minor == TOTAL
    assert refundable_minor(praho_session, payment) == 0
    before = _counts(praho_session)
    with pytest.raises(ValidationFailed, match="remain refundable"):
        create_refund(praho_session, payment, amount_minor=1, reason="other", now=NOW)
    assert _counts(praho_session) == before
    # The money left the gateway clearing account; nothing is owed either way.
    assert ledger.account_balance(praho_session, "5125.fake", "RON") == -payment.fee_minor
    assert ledger.customer_balance(praho_session, payment.customer_id, "RON") == 0
    _balanced(praho_session)


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"reason": "bored"}, "reason"),
        ({"destination": "wallet"}, "destination"),
        ({"amount_minor": -5}, "amount_minor"),
        ({"amount_minor": 0}, "amount_minor"),
        ({"amount_minor": TOTAL + 1}, "amount_minor"),
        ({"amount_minor": "100"}, "amount_minor"),
        ({"internal_note": "x" * 2001}, "internal_note"),
    ],
)
def test_bad_refund_input_changes_nothing(praho_factory, praho_session, bad, field):
    _invoice, payment = _card_payment(praho_factory, praho_session)
    before = _counts(praho_session)
    with pytest.raises(ValidationFailed) as error:
        create_refund(praho_session, payment, now=NOW, **{"reason": "other", **bad})
    assert field in {e.field for e in error.value.errors}
    assert _counts(praho_session) == before
    assert refundable_minor(praho_session, payment) == TOTAL


def test_reject_cancel_and_notes_release_the_amount_with_history(praho_factory, praho_session):
    _invoice, payment = _card_payment(praho_factory, praho_session)
    first = create_refund(praho_session, payment, amount_minor=TOTAL, reason="dispute", now=NOW)
    assert refundable_minor(praho_session, payment) == 0
    with pytest.raises(FieldError, match="note"):
        reject_refund(praho_session, first, note=" ", actor=ANA, now=NOW)
    add_note(praho_session, first, "customer", "We are looking into it.", actor=ANA, now=NOW)
    add_note(praho_session, first, "internal", "card owner disputes", actor=ANA, now=NOW)
    reject_refund(praho_session, first, note="service was delivered", actor=ANA, now=NOW)
    assert first.status == "rejected" and first.customer_note == "We are looking into it."
    with pytest.raises(InvalidTransition, match="rejected; it cannot become approved"):
        approve_refund(praho_session, first, actor=ANA, now=NOW)
    second = create_refund(praho_session, payment, amount_minor=2000, reason="other", now=NOW)
    start_review(praho_session, second, now=NOW)
    cancel_refund(praho_session, second, note="customer withdrew it", now=NOW)
    assert refundable_minor(praho_session, payment) == TOTAL
    assert [(e.to_status, e.data.get("note_kind")) for e in first.events] == [
        ("pending", None),
        (None, "customer"),
        (None, "internal"),
        ("rejected", None),
    ]
    assert hooks.completed == [] and payment.refunded_minor == 0


def test_refund_to_customer_credit_pays_the_next_invoice(praho_factory, praho_session):
    invoice, payment = _card_payment(praho_factory, praho_session)
    refund = create_refund(
        praho_session, payment, reason="error_correction", destination="customer_credit", now=NOW
    )
    _approve(praho_session, refund)
    assert refund.status == "completed" and refund.reference not in GATEWAY.transactions
    assert credit_balance(praho_session, payment.customer_id, "RON") == TOTAL
    assert (payment.refunded_minor, payment.status) == (0, "received")
    assert invoice.credited_minor == TOTAL
    customer = praho_session.get(Customer, payment.customer_id)
    later = praho_factory.invoice(customer, [("Web Hosting", "1", "50.00")], now=at("2026-04-01"))
    run_collections(praho_session, now=at("2026-04-02", 3, 30))
    assert later.payment_status == "paid"  # from the credit, by the nightly run
    assert credit_balance(praho_session, payment.customer_id, "RON") == TOTAL - 6050
    _balanced(praho_session)


def test_bank_transfer_refund_waits_for_the_payout(praho_factory, praho_session):
    customer = praho_factory.customer()
    invoice = praho_factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    payment = record_bank_transfer(
        praho_session,
        customer=customer,
        amount_minor=TOTAL,
        currency="RON",
        bank_reference="OP-7781",
        received_on="2026-03-02",
        now=NOW,
    )
    refund = create_refund(
        praho_session, payment, amount_minor=2100, reason="customer_request", now=NOW
    )
    _approve(praho_session, refund)
    assert refund.status == "approved"
    with pytest.raises(FieldError):
        record_payout(praho_session, refund, bank_reference="", now=NOW)
    record_payout(praho_session, refund, bank_reference="OP-9001", actor=ANA, now=NOW)
    assert refund.status == "completed" and refund.bank_reference == "OP-9001"
    assert ledger.account_balance(praho_session, "5121", "RON") == TOTAL - 2100
    assert invoice.refunded_minor == 2100
    _balanced(praho_session)


def test_a_duplicate_payment_is_refunded_from_credit_without_a_credit_note(
    praho_factory, praho_session
):
    invoice, _card = _card_payment(praho_factory, praho_session)
    customer = praho_session.get(Customer, invoice.customer_id)
    duplicate = record_bank_transfer(
        praho_session,
        customer=customer,
        amount_minor=TOTAL,
        currency="RON",
        bank_reference="OP-DUP",
        received_on="2026-03-02",
        now=NOW,
    )
    assert credit_balance(praho_session, customer.id, "RON") == TOTAL
    documents = praho_session.execute(select(func.count(Invoice.id))).scalar_one()
    refund = create_refund(praho_session, duplicate, reason="duplicate", now=NOW)
    assert refund.split == {"credit": TOTAL, "invoices": {}}
    _approve(praho_session, refund)
    record_payout(praho_session, refund, bank_reference="OP-BACK", now=NOW)
    assert credit_balance(praho_session, customer.id, "RON") == 0
    assert praho_session.execute(select(func.count(Invoice.id))).scalar_one() == documents
    _balanced(praho_session)


def test_a_gateway_decline_fails_the_refund_and_releases_it(praho_factory, praho_session):
    invoice, payment = _card_payment(praho_factory, praho_session)
    refund = create_refund(praho_session, payment, amount_minor=1000, reason="other", now=NOW)
    start_review(praho_session, refund, now=NOW)
    # The gateway's asynchronous answer (webhook) arrives before our call returns.
    from praho.core.services.refunds import move_refund

    move_refund(praho_session, refund, "approved", actor=ANA, note=None, now=NOW)
    apply_refund_result(
        praho_session,
        refund,
        GatewayResult(
            TransactionStatus.ERROR,
            TransactionType.REFUND,
            error_code="charge_disputed",
            error_message="the charge is under dispute",
        ),
        now=NOW,
    )
    assert refund.status == "failed" and "charge_disputed" in refund.gateway_note
    assert refundable_minor(praho_session, payment) == TOTAL
    assert invoice.credited_minor == 0 and hooks.completed == []


@pytest.mark.postgres
def test_two_racing_refunds_never_exceed_the_payment(praho_app, praho_committing):
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        _invoice, payment = _card_payment(factory, session)
        payment_id = payment.id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def refund() -> None:
        with praho_app.app_context():
            try:
                with praho_committing.transaction() as session:
                    target = session.get(Payment, payment_id)
                    barrier.wait()
                    create_refund(session, target, amount_minor=8000, reason="dispute", now=NOW)
                outcomes.append("created")
            except ValidationFailed:
                outcomes.append("refused")

    threads = [threading.Thread(target=refund) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "refused"]
    with praho_committing.transaction() as session:
        assert session.execute(select(func.sum(Refund.amount_minor))).scalar_one() == 8000
        assert session.execute(select(func.count(PaymentAttempt.id))).scalar_one() == 1


def test_a_payment_of_two_invoices_is_refunded_oldest_first_with_a_credit_note_each(
    praho_factory, praho_session
):
    customer = praho_factory.customer()
    older = praho_factory.invoice(customer, [("Domain", "1", "50.00")], now=at("2026-02-01"))
    newer = praho_factory.invoice(customer, [("Hosting", "1", "100.00")], now=at("2026-02-15"))
    payment = record_bank_transfer(
        praho_session,
        customer=customer,
        amount_minor=6050 + TOTAL,
        currency="RON",
        bank_reference="OP-BOTH",
        received_on="2026-03-02",
        now=NOW,
    )
    refund = create_refund(
        praho_session, payment, amount_minor=8000, reason="error_correction", now=NOW
    )
    assert refund.split == {"credit": 0, "invoices": {str(older.id): 6050, str(newer.id): 1950}}
    _approve(praho_session, refund)
    record_payout(praho_session, refund, bank_reference="OP-BACK2", now=NOW)
    notes = (
        praho_session.execute(
            select(Invoice).where(Invoice.kind == "credit_note").order_by(Invoice.id)
        )
        .scalars()
        .all()
    )
    # No net amount at 21 % VAT makes exactly 19.50 gross: the closest credit note is
    # 19.51; the customer gets 19.50 and the unit is a rounding discount (709).
    assert [(n.original_invoice_id, n.total_minor) for n in notes] == [
        (older.id, 6050),
        (newer.id, 1951),
    ]
    assert ledger.account_balance(praho_session, "709", "RON") == -1
    assert ledger.account_balance(praho_session, "5121", "RON") == 6050 + TOTAL - 8000
    assert (older.refunded_minor, newer.refunded_minor) == (6050, 1950)
    assert (older.payment_status, newer.payment_status) == ("paid", "paid")
    assert ledger.customer_balance(praho_session, customer.id, "RON") == 0
    _balanced(praho_session)


def test_a_payment_made_from_credit_goes_back_to_credit_only(praho_factory, praho_session):
    from praho.core.services.customer_credit import apply_credit, grant_goodwill_credit

    customer = praho_factory.customer()
    invoice = praho_factory.invoice(customer, [("Hosting", "1", "100.00")], now=NOW)
    grant_goodwill_credit(
        praho_session,
        customer,
        amount_minor=TOTAL,
        currency="RON",
        reason="voucher",
        actor=ANA,
        now=NOW,
    )
    apply_credit(praho_session, invoice, now=NOW)
    payment = praho_session.execute(select(Payment).where(Payment.kind == "credit")).scalar_one()
    before = _counts(praho_session)
    with pytest.raises(ValidationFailed, match="refund it to credit"):
        create_refund(praho_session, payment, reason="customer_request", now=NOW)
    assert _counts(praho_session) == before
    refund = create_refund(
        praho_session, payment, reason="customer_request", destination="customer_credit", now=NOW
    )
    _approve(praho_session, refund)
    assert credit_balance(praho_session, customer.id, "RON") == TOTAL
    _balanced(praho_session)


# --- credit notes, refunds and chargebacks on the same payment ------------------------


def _credited_half(praho_factory, praho_session):
    from praho.core.services.credit_notes import issue_credit_note

    invoice, payment = _card_payment(praho_factory, praho_session)
    issue_credit_note(
        praho_session,
        invoice,
        reason="half the month unused",
        gross_amount_minor=TOTAL // 2,
        now=NOW,
    )
    assert credit_balance(praho_session, invoice.customer_id, "RON") == TOTAL // 2
    assert payment.unallocated_minor == TOTAL // 2  # the paid half is free on the payment
    assert invoice.payment_status == "paid" and invoice.balance_due_minor == 0
    return invoice, payment


def test_a_refund_after_a_credit_note_pays_out_the_credit_without_a_second_note(
    praho_factory, praho_session
):
    invoice, payment = _credited_half(praho_factory, praho_session)
    notes_before = praho_session.execute(
        select(func.count(Invoice.id)).where(Invoice.kind == "credit_note")
    ).scalar_one()
    refund = create_refund(praho_session, payment, amount_minor=TOTAL // 2, reason="other", now=NOW)
    assert refund.split == {"credit": TOTAL // 2, "invoices": {}}
    _approve(praho_session, refund)
    assert refund.status == "completed"
    assert (
        praho_session.execute(
            select(func.count(Invoice.id)).where(Invoice.kind == "credit_note")
        ).scalar_one()
        == notes_before
    )
    assert credit_balance(praho_session, invoice.customer_id, "RON") == 0
    assert invoice.credited_minor == TOTAL // 2
    _balanced(praho_session)


def test_a_lost_dispute_after_a_credit_note_takes_back_the_credit_too(praho_factory, praho_session):
    from praho.core.models.disputes import DisputeStatus
    from praho.core.services.disputes import DisputeReport, record_dispute

    invoice, payment = _credited_half(praho_factory, praho_session)
    report = DisputeReport(
        "fake", "dp_1", payment.gateway_reference, TOTAL, "RON", DisputeStatus.OPEN
    )
    record_dispute(praho_session, report, now=NOW)
    record_dispute(
        praho_session, DisputeReport(**{**report.__dict__, "status": DisputeStatus.LOST}), now=NOW
    )
    # The customer has the whole payment back from the bank: the credit is gone and the
    # half of the invoice that was not credited is owed again, nothing more.
    assert credit_balance(praho_session, invoice.customer_id, "RON") == 0
    assert invoice.balance_due_minor == TOTAL - TOTAL // 2
    assert ledger.account_balance(praho_session, "4111", "RON") == TOTAL - TOTAL // 2
    assert payment.refunded_minor == TOTAL and payment.unallocated_minor == 0
    # The bank gave the money back already: nothing of the payment can be refunded now.
    assert refundable_minor(praho_session, payment) == 0
    with pytest.raises(ValidationFailed, match="refund"):
        create_refund(praho_session, payment, amount_minor=100, reason="other", now=NOW)
    _balanced(praho_session)


def test_a_credit_note_cannot_take_what_a_refund_in_progress_holds(praho_factory, praho_session):
    from praho.core.services.credit_notes import issue_credit_note

    invoice, payment = _card_payment(praho_factory, praho_session)
    create_refund(praho_session, payment, amount_minor=TOTAL, reason="other", now=NOW)
    before = _counts(praho_session)
    savepoint = praho_session.begin_nested()  # the caller's transaction, as the admin's
    with pytest.raises(InvalidTransition, match="held by refunds in progress"):
        issue_credit_note(
            praho_session, invoice, reason="by hand", gross_amount_minor=1000, now=NOW
        )
    savepoint.rollback()
    assert _counts(praho_session) == before and invoice.credited_minor == 0
