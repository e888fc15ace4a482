"""What PayPal events do to our records, applied through the pipeline (signed, recorded once)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from praho.core.models import GatewayRefund, GatewayRefundStatus
from praho.core.webhooks.pipeline import receive_webhook
from praho.plugins.paypal_gateway.webhook import PayPalWebhookSource
from sqlalchemy import select


def deliver(session, standin, kind, resource, event_id):
    body = json.dumps(
        {
            "id": event_id,
            "event_type": kind,
            "resource_type": "refund",
            "create_time": "2026-11-25T09:00:00Z",
            "resource": resource,
        }
    ).encode()
    now = datetime.now(UTC)
    return receive_webhook(
        session, PayPalWebhookSource(), standin.sign_delivery(body, when=now), body, now=now
    )


def test_refund_and_reversal_are_recorded(praho_app, praho_session, paypal_standin):
    refund = {
        "id": "REF-1",
        "status": "COMPLETED",
        "custom_id": "rf_pp_1",
        "amount": {"currency_code": "EUR", "value": "12.50"},
        "links": [
            {
                "rel": "up",
                "method": "GET",
                "href": "https://api.paypal.com/v2/payments/captures/CAP-77",
            }
        ],
    }
    assert (
        deliver(praho_session, paypal_standin, "PAYMENT.CAPTURE.REFUNDED", refund, "WH-R1").status
        == "processed"
    )
    assert deliver(
        praho_session, paypal_standin, "PAYMENT.CAPTURE.REFUNDED", refund, "WH-R1"
    ).duplicate
    reversal = {
        "id": "REV-1",
        "status": None,
        "amount": {"currency_code": "EUR", "value": "5.00"},
        "links": [{"rel": "up", "href": "https://api.paypal.com/v2/payments/captures/CAP-78"}],
    }
    deliver(praho_session, paypal_standin, "PAYMENT.CAPTURE.REVERSED", reversal, "WH-R2")
    rows = praho_session.execute(select(GatewayRefund).order_by(GatewayRefund.id)).scalars().all()
    assert [
        (r.gateway_reference, r.payment_reference, r.amount_minor, r.status, r.refund_key)
        for r in rows
    ] == [
        ("REF-1", "CAP-77", 1250, GatewayRefundStatus.SUCCEEDED, "rf_pp_1"),
        ("REV-1", "CAP-78", 500, GatewayRefundStatus.SUCCEEDED, None),
    ]
