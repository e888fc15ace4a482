"""Refunds keep the books in step with the gateway.

* A partial refund whose credit note VAT rounding cannot make exact (35.00 at 21 %
  becomes a 35.01 note) leaves the payment's arithmetic in step with the ledger, so
  "refund the rest" settles too: the gateway and the books both show it all refunded.
* Customer credit held by a refund in progress is not spent on invoices, so approving
  the refund pays it out once.
* What the books cannot record is refused before the gateway is called.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from praho.core.errors import FieldError, InvalidTransition, ValidationFailed
from praho.core.models import (
    AuditEvent,
    Customer,
    Invoice,
    JournalEntry,
    Payment,
    PaymentAllocation,
)
from praho.core.models.audit import ActorType
from praho.core.models.refunds import Refund
from praho.core.payments.testing import assert_ledger_balanced, customer_with_card
from praho.core.services import ledger
from praho.core.services.audit import Actor
from praho.core.services.credit_notes import issue_credit_note
from praho.core.services.payments import allocate_payment, apply_customer_credit, charge_invoice
from praho.core.services.refunds import (
    approve_refund,
    create_refund,
    get_refund,
    refundable_minor,
    reject_refund,
    start_review,
)
from praho.core.testing import DEFAULT_NOW
from praho.plugins.fake_gateway.gateway import GATEWAY
from sqlalchemy import func, select

NOW = DEFAULT_NOW
ANA = Actor(ActorType.USER, "ana@praho.test")
TOTAL = 12100  # 100.00 + 21 % VAT
CLEARING, CREDIT, DISCOUNTS = "5125.fake", "419", "709"


def _card_payment(factory, session):
    customer = customer_with_card(factory, "tok_success")
    invoice = factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    attempt = charge_invoice(session, invoice, now=NOW)
    payment = session.execute(select(Payment).where(Payment.attempt_id == attempt.id)).scalar_one()
    return invoice, payment, GATEWAY.transactions[attempt.key]


def _approve(session, refund, when=NOW):
    start_review(session, refund, actor=ANA, now=when)
    return approve_refund(session, refund, actor=ANA, now=when)


def _counts(session):
    return tuple(
        session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (Refund, JournalEntry, AuditEvent, Invoice, PaymentAllocation)
    )


def _credit(session, payment):
    return ledger.customer_credit_balance(session, payment.customer_id, "RON")


@pytest.mark.parametrize(
    "first, note_total, discount",
    [
        (3500, 3501, -1),  # the note is a unit more: we keep it (709 credited)
        (1000, 999, 1),  # the note is a unit less: we pay it (709 debited)
    ],
)
def test_the_rest_is_refunded_after_a_vat_rounded_partial_refund(
    praho_factory, praho_session, first, note_total, discount
):
    invoice, payment, charge = _card_payment(praho_factory, praho_session)
    first_refund = _approve(
        praho_session,
        create_refund(
            praho_session, payment, amount_minor=first, reason="customer_request", now=NOW
        ),
    )
    assert first_refund.status == "completed"
    praho_session.refresh(payment)
    assert invoice.credited_minor == note_total and invoice.payment_status == "paid"
    assert invoice.balance_due_minor == 0
    # The payment holds no credit the ledger does not: the unit is the rounding discount.
    assert payment.refunded_minor == charge.refunded_minor == first
    assert payment.unallocated_minor == _credit(praho_session, payment) == 0
    assert ledger.account_balance(praho_session, DISCOUNTS, "RON") == discount
    assert ledger.account_balance(praho_session, "4111", "RON", invoice_id=invoice.id) == 0
    assert refundable_minor(praho_session, payment) == TOTAL - first

    rest = create_refund(praho_session, payment, reason="customer_request", now=NOW)
    assert rest.amount_minor == TOTAL - first
    assert rest.split == {"credit": 0, "invoices": {str(invoice.id): TOTAL - first}}
    _approve(praho_session, rest)

    assert rest.status == "completed"
    praho_session.refresh(payment)
    assert charge.refunded_minor == payment.refunded_minor == TOTAL
    assert payment.status == "refunded" and payment.unallocated_minor == 0
    assert invoice.credited_minor == invoice.refunded_minor == TOTAL
    assert invoice.amount_paid_minor == 0 and invoice.payment_status == "paid"
    # All the money left the clearing account (the fee stays our cost); the second
    # rounding undid the first; nothing is owed either way.
    assert ledger.account_balance(praho_session, CLEARING, "RON") == -payment.fee_minor
    assert ledger.account_balance(praho_session, DISCOUNTS, "RON") == 0
    assert _credit(praho_session, payment) == 0
    assert ledger.customer_balance(praho_session, payment.customer_id, "RON") == 0
    assert_ledger_balanced(praho_session)


def test_a_refund_larger_than_what_is_left_is_refused_before_the_gateway(
    praho_factory, praho_session
):
    _invoice, payment, charge = _card_payment(praho_factory, praho_session)
    _approve(
        praho_session,
        create_refund(praho_session, payment, amount_minor=3500, reason="other", now=NOW),
    )
    before, sent = _counts(praho_session), dict(GATEWAY.transactions)
    with pytest.raises(ValidationFailed, match="8601 exceeds the 8600 RON minor units") as error:
        create_refund(praho_session, payment, amount_minor=TOTAL - 3500 + 1, reason="other",
                      now=NOW)
    assert {e.field for e in error.value.errors} == {"amount_minor"}
    assert _counts(praho_session) == before and GATEWAY.transactions == sent
    assert charge.refunded_minor == payment.refunded_minor == 3500
    assert refundable_minor(praho_session, payment) == TOTAL - 3500


def _credit_held_by_a_card_refund(praho_factory, praho_session):
    """A credit note puts 60.50 of a card payment into credit; a card refund of it waits."""
    invoice, payment, charge = _card_payment(praho_factory, praho_session)
    issue_credit_note(praho_session, invoice, reason="downgrade", gross_amount_minor=6050, now=NOW)
    assert _credit(praho_session, payment) == 6050
    refund = create_refund(praho_session, payment, amount_minor=6050, reason="other", now=NOW)
    assert refund.split == {"credit": 6050, "invoices": {}}
    later = praho_factory.invoice(
        praho_session.get(Customer, invoice.customer_id), [("Web Hosting", "1", "50.00")],
        now=NOW + timedelta(days=1),
    )
    return payment, charge, refund, later


def test_credit_held_by_a_refund_in_progress_is_not_spent_on_the_next_invoice(
    praho_factory, praho_session
):
    payment, charge, refund, later = _credit_held_by_a_card_refund(praho_factory, praho_session)
    when = NOW + timedelta(days=1)
    assert apply_customer_credit(praho_session, later, now=when) == 0
    with pytest.raises(FieldError, match="refunds in progress hold 6050"):
        allocate_payment(praho_session, payment, later, 100, now=when)
    assert later.balance_due_minor == 6050 and later.payment_status == "unpaid"
    assert _credit(praho_session, payment) == 6050  # still there, for the refund

    _approve(praho_session, refund, when=NOW + timedelta(days=2))
    assert refund.status == "completed"
    praho_session.refresh(payment)
    # Paid out once, from the credit it held; the books agree with the gateway.
    assert charge.refunded_minor == payment.refunded_minor == 6050
    assert payment.unallocated_minor == _credit(praho_session, payment) == 0
    assert ledger.account_balance(praho_session, CLEARING, "RON") == (
        TOTAL - payment.fee_minor - 6050
    )
    assert ledger.account_balance(praho_session, DISCOUNTS, "RON") == 0
    # The next invoice is still owed, and the ledger says so.
    assert ledger.customer_receivable(praho_session, payment.customer_id, "RON") == 6050
    assert later.balance_due_minor == 6050
    assert_ledger_balanced(praho_session)


def test_charging_the_next_invoice_uses_the_card_when_a_refund_holds_the_credit(
    praho_factory, praho_session
):
    payment, _charge, _refund, later = _credit_held_by_a_card_refund(praho_factory, praho_session)
    attempt = charge_invoice(praho_session, later, now=NOW + timedelta(days=1))
    # Not a "paid by credit" attempt of 0: the card is charged for the whole invoice.
    assert attempt.gateway_id == GATEWAY.id and attempt.amount_minor == 6050
    assert attempt.status == "processed" and later.payment_status == "paid"
    assert _credit(praho_session, payment) == 6050  # still held for the refund
    assert_ledger_balanced(praho_session)


def test_credit_a_rejected_refund_held_pays_the_next_invoice(praho_factory, praho_session):
    payment, _charge, refund, later = _credit_held_by_a_card_refund(praho_factory, praho_session)
    reject_refund(praho_session, refund, note="keep it as credit", actor=ANA, now=NOW)
    assert apply_customer_credit(praho_session, later, now=NOW + timedelta(days=1)) == 6050
    assert later.payment_status == "paid" and _credit(praho_session, payment) == 0
    praho_session.refresh(payment)
    assert payment.unallocated_minor == 0 and payment.refunded_minor == 0
    assert_ledger_balanced(praho_session)


def test_approval_is_refused_before_the_gateway_when_the_credit_is_gone(
    praho_factory, praho_session
):
    from praho.core.models.disputes import DisputeStatus
    from praho.core.services.disputes import DisputeReport, record_dispute

    payment, charge, refund, _later = _credit_held_by_a_card_refund(praho_factory, praho_session)
    # The bank takes the whole payment back: the credit the refund held goes with it.
    lost = DisputeReport("fake", "dp_1", payment.gateway_reference, TOTAL, "RON",
                         DisputeStatus.LOST)
    record_dispute(praho_session, lost, now=NOW)
    assert _credit(praho_session, payment) == 0
    start_review(praho_session, refund, actor=ANA, now=NOW)
    before, sent = _counts(praho_session), dict(GATEWAY.transactions)
    savepoint = praho_session.begin_nested()  # the request's rollback
    with pytest.raises(InvalidTransition, match="returns 6050 of customer credit but only 0"):
        approve_refund(praho_session, refund, actor=ANA, now=NOW)
    savepoint.rollback()
    # Nothing was sent, nothing was written: the refund waits for a decision.
    assert refund.reference not in GATEWAY.transactions and GATEWAY.transactions == sent
    assert charge.refunded_minor == 0
    assert _counts(praho_session) == before
    assert get_refund(praho_session, refund.reference).status == "processing"
    assert_ledger_balanced(praho_session)
