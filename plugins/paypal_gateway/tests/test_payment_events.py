"""PayPal payment events applied to our attempts: completion, approval, out-of-order refunds."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from praho.core.models import GatewayRefund, Payment, PaymentStatus
from praho.core.payments.gateway import SavedMethod
from praho.core.payments.testing import assert_ledger_balanced
from praho.core.services.payments import charge_invoice, save_payment_method
from praho.core.webhooks.pipeline import receive_webhook
from praho.plugins.paypal_gateway.webhook import PayPalWebhookSource
from sqlalchemy import func, select


def deliver(session, standin, kind, resource, event_id):
    body = json.dumps(
        {
            "id": event_id,
            "event_type": kind,
            "create_time": "2026-11-25T09:00:00Z",
            "resource": resource,
        }
    ).encode()
    now = datetime.now(UTC)
    return receive_webhook(
        session, PayPalWebhookSource(), standin.sign_delivery(body, when=now), body, now=now
    )


def euro_invoice(factory, token):
    customer = factory.customer()
    save_payment_method(
        factory.session,
        customer=customer,
        gateway_id="paypal",
        method=SavedMethod(token=token, customer_reference=None, kind="paypal"),
    )
    return factory.invoice(customer, currency="EUR")


def payments(session):
    return session.scalar(select(func.count()).select_from(Payment))


def test_pending_capture_completed_by_webhook(praho_session, praho_factory, paypal_standin):
    invoice = euro_invoice(praho_factory, "vault_pending")
    attempt = charge_invoice(praho_session, invoice)
    assert attempt.status == "pending"
    capture = dict(paypal_standin.captures[attempt.gateway_reference])
    capture.update(
        status="COMPLETED",
        seller_receivable_breakdown={
            "gross_amount": capture["amount"],
            "paypal_fee": {"currency_code": "EUR", "value": "4.57"},
            "net_amount": {"currency_code": "EUR", "value": "116.43"},
        },
    )
    capture.pop("status_details", None)
    assert (
        deliver(praho_session, paypal_standin, "PAYMENT.CAPTURE.COMPLETED", capture, "WH-C1").status
        == "processed"
    )
    assert attempt.status == "processed" and invoice.payment_status == PaymentStatus.PAID
    assert praho_session.execute(select(Payment.fee_minor)).scalar_one() == 457
    assert deliver(
        praho_session, paypal_standin, "PAYMENT.CAPTURE.COMPLETED", capture, "WH-C1"
    ).duplicate
    deliver(
        praho_session,
        paypal_standin,
        "PAYMENT.CAPTURE.PENDING",
        {**capture, "status": "PENDING"},
        "WH-C0",
    )
    assert attempt.status == "processed" and payments(praho_session) == 1
    assert_ledger_balanced(praho_session)


def test_denied_capture_is_a_decline(praho_session, praho_factory, paypal_standin):
    invoice = euro_invoice(praho_factory, "vault_pending")
    attempt = charge_invoice(praho_session, invoice)
    capture = {**paypal_standin.captures[attempt.gateway_reference], "status": "DECLINED"}
    deliver(praho_session, paypal_standin, "PAYMENT.CAPTURE.DECLINED", capture, "WH-D1")
    assert attempt.status == "error" and payments(praho_session) == 0


def test_refund_before_completion_records_the_capture_first(
    praho_session, praho_factory, paypal_standin
):
    invoice = euro_invoice(praho_factory, "vault_ok")
    paypal_standin.fail_next(status=503)  # captured, but our answer is lost
    attempt = charge_invoice(praho_session, invoice)
    assert attempt.status == "unknown"
    capture_id = next(iter(paypal_standin.captures))
    refund = {
        "id": "REF-EARLY",
        "status": "COMPLETED",
        "amount": {"currency_code": "EUR", "value": "10.00"},
        "links": [
            {"rel": "up", "href": f"https://api.paypal.com/v2/payments/captures/{capture_id}"}
        ],
    }
    deliver(praho_session, paypal_standin, "PAYMENT.CAPTURE.REFUNDED", refund, "WH-R-EARLY")
    assert attempt.status == "processed" and attempt.gateway_reference == capture_id
    assert payments(praho_session) == 1
    assert praho_session.execute(select(GatewayRefund.payment_reference)).scalar_one() == capture_id
    late = paypal_standin.captures[capture_id]
    deliver(praho_session, paypal_standin, "PAYMENT.CAPTURE.COMPLETED", late, "WH-C-LATE")
    assert payments(praho_session) == 1
    assert_ledger_balanced(praho_session)


def test_approved_order_is_captured_once(praho_session, praho_factory, paypal_standin):
    invoice = euro_invoice(praho_factory, "vault_approve")
    paypal_standin.fail_next(status=503)  # the order was created (APPROVED), the answer lost
    attempt = charge_invoice(praho_session, invoice)
    order = next(iter(paypal_standin.orders.values()))
    assert attempt.status == "unknown" and order["status"] == "APPROVED"
    deliver(praho_session, paypal_standin, "CHECKOUT.ORDER.APPROVED", dict(order), "WH-A1")
    deliver(praho_session, paypal_standin, "CHECKOUT.ORDER.APPROVED", dict(order), "WH-A2")
    assert attempt.status == "processed" and len(paypal_standin.captures) == 1
    assert payments(praho_session) == 1
