"""Gateway refund reports (webhooks) drive our refund workflow; nothing is refunded twice."""

import pytest
from praho.core.models import AuditEvent, Invoice
from praho.core.models.payments import Payment
from praho.core.models.refunds import Refund, RefundStatus
from praho.core.payments.gateway import GatewayResult, TransactionStatus, TransactionType
from praho.core.payments.testing import customer_with_card
from praho.core.services import ledger
from praho.core.services.gateway_refund_follow_up import RefundNotYetVisible
from praho.core.services.gateway_refunds import GatewayRefundReport, record_gateway_refund
from praho.core.services.payments import charge_invoice
from praho.core.services.refunds import (
    apply_refund_result,
    create_refund,
    move_refund,
    start_review,
)
from praho.core.testing import at
from sqlalchemy import func, select

NOW = at("2026-03-02", 10)


def _paid(factory, session):
    customer = customer_with_card(factory)
    invoice = factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    attempt = charge_invoice(session, invoice, now=NOW, reason="manual")
    payment = session.execute(select(Payment).where(Payment.attempt_id == attempt.id)).scalar_one()
    return invoice, payment


def _report(payment, reference, status, amount=5000, key=None):
    return GatewayRefundReport(gateway_id=payment.gateway_id, gateway_reference=reference,
                               payment_reference=payment.gateway_reference, amount_minor=amount,
                               currency="RON", status=status, refund_key=key)


def _balanced(session):
    session.flush()
    assert ledger.unbalanced_currencies(ledger.trial_balance(session).items()) == {}


def test_a_pending_refund_of_ours_completes_when_the_gateway_says_so(praho_factory, praho_session):
    invoice, payment = _paid(praho_factory, praho_session)
    refund = create_refund(praho_session, payment, amount_minor=5000, reason="customer_request",
                           now=NOW)
    start_review(praho_session, refund, note="ok", now=NOW)
    move_refund(praho_session, refund, RefundStatus.APPROVED, actor=None, note=None, now=NOW)
    refund.gateway_id = payment.gateway_id
    apply_refund_result(praho_session, refund, GatewayResult(
        status=TransactionStatus.PENDING, transaction_type=TransactionType.REFUND,
        gateway_reference="re_123"), now=NOW)
    assert refund.status == "approved" and refund.gateway_status == "pending"
    record_gateway_refund(praho_session, _report(payment, "re_123", "pending", key=refund.reference),
                          now=NOW)
    assert refund.status == "approved"
    record_gateway_refund(praho_session, _report(payment, "re_123", "succeeded", key=refund.reference),
                          now=at("2026-03-03", 9))
    assert refund.status == "completed" and invoice.refunded_minor == 5000
    # The same report again changes nothing.
    record_gateway_refund(praho_session, _report(payment, "re_123", "succeeded", key=refund.reference),
                          now=at("2026-03-03", 9))
    assert praho_session.execute(select(func.count(Refund.id))).scalar_one() == 1
    _balanced(praho_session)


def test_a_refund_made_at_the_gateway_is_recorded_and_credited_once(praho_factory, praho_session):
    invoice, payment = _paid(praho_factory, praho_session)
    for _ in range(2):
        record_gateway_refund(praho_session, _report(payment, "re_dash", "succeeded", amount=2420),
                              now=NOW)
    refund = praho_session.execute(select(Refund)).scalar_one()
    assert (refund.status, refund.amount_minor, refund.gateway_reference) == ("completed", 2420, "re_dash")
    assert payment.refunded_minor == 2420 and invoice.refunded_minor == 2420
    notes = praho_session.execute(select(Invoice).where(Invoice.kind == "credit_note")).scalars().all()
    assert [n.total_minor for n in notes] == [2420]
    _balanced(praho_session)


def test_an_unmatched_gateway_refund_is_left_for_staff(praho_factory, praho_session):
    _invoice, payment = _paid(praho_factory, praho_session)
    report = GatewayRefundReport(gateway_id=payment.gateway_id, gateway_reference="re_x",
                                 payment_reference="pi_unknown", amount_minor=100, currency="RON",
                                 status="succeeded")
    record_gateway_refund(praho_session, report, now=NOW)
    assert praho_session.execute(select(func.count(Refund.id))).scalar_one() == 0
    flagged = praho_session.execute(select(AuditEvent).where(
        AuditEvent.action == "gateway_refund.unmatched")).scalar_one()
    assert "pi_unknown" in flagged.data["reason"]


def test_our_key_before_our_row_is_visible_is_retried_not_adopted(praho_factory, praho_session):
    _invoice, payment = _paid(praho_factory, praho_session)
    with pytest.raises(RefundNotYetVisible):
        record_gateway_refund(praho_session, _report(payment, "re_early", "succeeded",
                                                     key="REF-20260302-ABCDEFGH"), now=NOW)
