"""Stripe payment events applied to our attempts: success, failure, stale, out of order."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

from praho.core.models import GatewayRefund, Payment, PaymentAttempt, PaymentStatus, WebhookEvent
from praho.core.payments.gateway import SavedMethod
from praho.core.payments.testing import assert_ledger_balanced
from praho.core.services.payments import charge_invoice, save_payment_method
from praho.core.testing import DEFAULT_NOW
from praho.core.webhooks.pipeline import receive_webhook
from praho.plugins.stripe_gateway.testing import fixture, sign_stripe_event, stripe_event
from praho.plugins.stripe_gateway.webhook import StripeWebhookSource
from sqlalchemy import func, select

WEBHOOK_SECRET = "whsec_test_current_0123456789abcdef"
NOW = DEFAULT_NOW
TOTAL = 12100  # 100.00 + 21 % VAT


def deliver(session, kind, obj, event_id, at=NOW):
    body = json.dumps(stripe_event(kind, obj, event_id=event_id)).encode()
    headers = {"Stripe-Signature": sign_stripe_event(body, WEBHOOK_SECRET, int(at.timestamp()))}
    return receive_webhook(session, StripeWebhookSource(), headers, body, now=at)


def invoice_with_card(factory, token):
    customer = factory.customer()
    save_payment_method(
        factory.session,
        customer=customer,
        gateway_id="stripe",
        method=SavedMethod(token=token, customer_reference="cus_test", brand="visa", last4="4242"),
    )
    return factory.invoice(customer)


def payments(session):
    return session.scalar(select(func.count()).select_from(Payment))


def test_processing_then_succeeded_event_records_the_payment_once(
    praho_session, praho_factory, stripe_standin
):
    invoice = invoice_with_card(praho_factory, "pm_card_processing")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    assert attempt.status == "pending" and attempt.gateway_reference.startswith("pi_")
    intent = stripe_standin.complete_processing(
        attempt.gateway_reference
    )  # charge as an id: no fee
    first = deliver(
        praho_session, "payment_intent.succeeded", intent, "evt_ok_1", NOW + timedelta(minutes=1)
    )
    assert first.status == "processed"
    assert attempt.status == "processed" and invoice.payment_status == PaymentStatus.PAID
    payment = praho_session.execute(select(Payment)).scalar_one()
    assert (payment.amount_minor, payment.fee_minor) == (TOTAL, TOTAL * 14 // 1000 + 25)
    assert deliver(praho_session, "payment_intent.succeeded", intent, "evt_ok_1").duplicate
    stale = {**copy.deepcopy(intent), "status": "processing"}
    assert (
        deliver(praho_session, "payment_intent.processing", stale, "evt_old_1").status
        == "processed"
    )
    assert attempt.status == "processed" and payments(praho_session) == 1
    assert_ledger_balanced(praho_session)


def test_payment_failed_event_records_the_decline(praho_session, praho_factory, stripe_standin):
    invoice = invoice_with_card(praho_factory, "pm_card_processing")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    failed = {
        **stripe_standin.objects[attempt.gateway_reference],
        "status": "requires_payment_method",
        "last_payment_error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Insufficient funds.",
        },
    }
    deliver(praho_session, "payment_intent.payment_failed", failed, "evt_fail_1")
    assert (attempt.status, attempt.error_code, attempt.hard_decline) == (
        "error",
        "insufficient_funds",
        False,
    )
    assert payments(praho_session) == 0 and invoice.payment_status == PaymentStatus.UNPAID


def test_refund_before_success_records_the_payment_first(
    praho_session, praho_factory, stripe_standin
):
    invoice = invoice_with_card(praho_factory, "pm_card_visa")
    stripe_standin.fail_next(status=500, act=True)  # charged, but the answer is lost
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    assert attempt.status == "unknown" and attempt.gateway_reference is None
    intent = next(o for o in stripe_standin.objects.values() if o["object"] == "payment_intent")
    refund = fixture(
        "refund",
        id="re_early",
        amount=5000,
        currency="ron",
        status="succeeded",
        payment_intent=intent["id"],
        metadata={},
    )
    deliver(praho_session, "refund.created", refund, "evt_refund_early")
    assert attempt.status == "processed" and attempt.gateway_reference == intent["id"]
    assert payments(praho_session) == 1
    assert (
        praho_session.execute(select(GatewayRefund.payment_reference)).scalar_one() == intent["id"]
    )
    deliver(praho_session, "payment_intent.succeeded", copy.deepcopy(intent), "evt_late_success")
    assert payments(praho_session) == 1
    assert praho_session.scalar(select(func.count()).select_from(WebhookEvent)) == 2
    assert_ledger_balanced(praho_session)


def test_events_for_payments_that_are_not_ours_are_acknowledged(praho_session, stripe_standin):
    foreign = fixture(
        "payment_intent", id="pi_foreign", status="succeeded", metadata={}, amount_received=1099
    )
    assert (
        deliver(praho_session, "payment_intent.succeeded", foreign, "evt_foreign").status
        == "processed"
    )
    assert praho_session.scalar(select(func.count()).select_from(PaymentAttempt)) == 0
    assert payments(praho_session) == 0


def test_requires_action_off_session_is_a_decline_the_customer_must_fix(
    praho_session, praho_factory, stripe_standin
):
    invoice = invoice_with_card(praho_factory, "pm_card_processing")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    needs_3ds = {
        **stripe_standin.objects[attempt.gateway_reference],
        "status": "requires_action",
        "last_payment_error": {
            "type": "card_error",
            "code": "authentication_required",
            "message": "This payment requires authentication.",
        },
    }
    deliver(praho_session, "payment_intent.requires_action", needs_3ds, "evt_3ds_1")
    # Off-session nobody can authenticate: a hard decline (dunning asks the customer).
    assert (attempt.status, attempt.error_code, attempt.hard_decline) == (
        "error",
        "authentication_required",
        True,
    )
    assert payments(praho_session) == 0 and invoice.payment_status == PaymentStatus.UNPAID
    assert_ledger_balanced(praho_session)


def test_canceled_intent_cancels_the_attempt_and_records_no_payment(
    praho_session, praho_factory, stripe_standin
):
    invoice = invoice_with_card(praho_factory, "pm_card_processing")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    canceled = {
        **stripe_standin.objects[attempt.gateway_reference],
        "status": "canceled",
        "cancellation_reason": "abandoned",
    }
    assert deliver(praho_session, "payment_intent.canceled", canceled, "evt_cancel_1").status == (
        "processed"
    )
    assert attempt.status == "canceled" and not attempt.in_flight
    assert payments(praho_session) == 0 and invoice.payment_status == PaymentStatus.UNPAID
    # A late "processing" event for the same intent does not bring it back.
    stale = {**canceled, "status": "processing"}
    deliver(praho_session, "payment_intent.processing", stale, "evt_cancel_old")
    assert attempt.status == "canceled"


def _dispute(intent_id, status, amount=TOTAL):
    return fixture(
        "dispute",
        id="dp_lost_1",
        status=status,
        amount=amount,
        currency="ron",
        payment_intent=intent_id,
        reason="fraudulent",
    )


def test_a_lost_dispute_takes_the_payment_back_and_the_invoice_is_owed_again(
    praho_session, praho_factory, stripe_standin
):
    from praho.core.models import AuditEvent, Dispute
    from praho.core.services import ledger
    from praho.core.services.payment_gateways import clearing_account

    invoice = invoice_with_card(praho_factory, "pm_card_visa")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    assert invoice.payment_status == PaymentStatus.PAID
    payment = praho_session.execute(select(Payment)).scalar_one()
    stripe_clearing = clearing_account(praho_session, "stripe")
    clearing_before = ledger.account_balance(praho_session, stripe_clearing, "RON")
    intent_id = attempt.gateway_reference
    deliver(
        praho_session,
        "charge.dispute.created",
        _dispute(intent_id, "needs_response"),
        "evt_dp_open",
    )
    # An open dispute moves nothing in the books.
    assert invoice.payment_status == PaymentStatus.PAID and payment.refunded_minor == 0
    deliver(
        praho_session,
        "charge.dispute.closed",
        _dispute(intent_id, "lost"),
        "evt_dp_lost",
        NOW + timedelta(days=40),
    )
    dispute = praho_session.execute(select(Dispute)).scalar_one()
    assert dispute.status == "lost"
    assert (invoice.payment_status, invoice.amount_paid_minor) == (PaymentStatus.UNPAID, 0)
    assert invoice.balance_due_minor == TOTAL  # owed again: dunning chases it
    assert (payment.refunded_minor, payment.status) == (TOTAL, "refunded")
    assert ledger.account_balance(praho_session, stripe_clearing, "RON") == (
        clearing_before - TOTAL
    )
    audit = praho_session.execute(
        select(AuditEvent).where(AuditEvent.action == "payment.charged_back")
    ).scalar_one()
    assert audit.amount_minor == TOTAL and audit.data["invoices"] == [invoice.full_number]
    assert_ledger_balanced(praho_session)
    # The same outcome delivered again (another event id) takes nothing more.
    deliver(
        praho_session,
        "charge.dispute.closed",
        _dispute(intent_id, "lost"),
        "evt_dp_lost_again",
        NOW + timedelta(days=41),
    )
    assert payment.refunded_minor == TOTAL and invoice.amount_paid_minor == 0
    assert_ledger_balanced(praho_session)


def test_a_won_dispute_changes_nothing(praho_session, praho_factory, stripe_standin):
    invoice = invoice_with_card(praho_factory, "pm_card_visa")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    payment = praho_session.execute(select(Payment)).scalar_one()
    deliver(
        praho_session,
        "charge.dispute.closed",
        _dispute(attempt.gateway_reference, "won"),
        "evt_dp_won",
    )
    assert invoice.payment_status == PaymentStatus.PAID and payment.refunded_minor == 0
    assert_ledger_balanced(praho_session)


def test_dispute_events_applied_as_one_run_end_as_applied_one_by_one(
    praho_session, praho_factory, stripe_standin
):
    from praho.core.models import AuditEvent, Dispute
    from praho.core.webhooks.applier import apply_received
    from praho.core.webhooks.pipeline import record_webhook

    invoice = invoice_with_card(praho_factory, "pm_card_visa")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    payment = praho_session.execute(select(Payment)).scalar_one()
    events = [
        ("charge.dispute.created", _dispute(attempt.gateway_reference, "needs_response"), "a"),
        ("charge.dispute.created", {**_dispute("pi_other", "needs_response"), "id": "dp_o"}, "b"),
        ("charge.dispute.closed", _dispute(attempt.gateway_reference, "lost"), "c"),
        ("charge.dispute.created", _dispute(attempt.gateway_reference, "needs_response"), "d"),
    ]
    source = StripeWebhookSource()
    for kind, obj, suffix in events:
        body = json.dumps(stripe_event(kind, obj, event_id=f"evt_run_{suffix}")).encode()
        headers = {"Stripe-Signature": sign_stripe_event(body, WEBHOOK_SECRET,
                                                         int(NOW.timestamp()))}
        record_webhook(praho_session, source, headers, body, now=NOW)
    assert set(source.batch_handlers()) <= set(source.handlers())
    batch = apply_received(praho_session, {"stripe": source}, now=NOW)
    praho_session.commit()
    assert (batch.taken, batch.processed, batch.failed) == (4, 4, 0)
    disputes = {d.gateway_reference: str(d.status)
                for d in praho_session.execute(select(Dispute)).scalars()}
    assert disputes == {_dispute(attempt.gateway_reference, "lost")["id"]: "lost", "dp_o": "open"}
    assert invoice.balance_due_minor == TOTAL and payment.refunded_minor == TOTAL
    actions = praho_session.execute(
        select(AuditEvent.action).where(AuditEvent.action.like("dispute.%"))
        .order_by(AuditEvent.seq)
    ).scalars().all()
    assert sorted(actions) == ["dispute.lost", "dispute.opened", "dispute.opened"]
    assert_ledger_balanced(praho_session)
