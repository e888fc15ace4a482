"""What Stripe events do to our records, applied through the pipeline (signed, recorded once)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from praho.core.models import AuditEvent, GatewayRefund, GatewayRefundStatus
from praho.core.webhooks.pipeline import receive_webhook
from praho.plugins.stripe_gateway.testing import fixture, sign_stripe_event, stripe_event
from praho.plugins.stripe_gateway.webhook import StripeWebhookSource
from sqlalchemy import func, select

WEBHOOK_SECRET = "whsec_test_current_0123456789abcdef"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def deliver(session, kind, obj, event_id=None):
    body = json.dumps(
        stripe_event(kind, obj, event_id=event_id, created=int(NOW.timestamp()))
    ).encode()
    headers = {"Stripe-Signature": sign_stripe_event(body, WEBHOOK_SECRET, int(NOW.timestamp()))}
    return receive_webhook(session, StripeWebhookSource(), headers, body, now=NOW)


def refund(status="succeeded", **values):
    fields = {
        "id": "re_test_1",
        "amount": 2500,
        "currency": "ron",
        "status": status,
        "payment_intent": "pi_test_1",
        "metadata": {"praho_key": "rf_1"},
        **values,
    }
    return fixture("refund", **fields)


def test_refund_events_record_and_advance_the_refund_once(praho_app, praho_session):
    assert (
        deliver(praho_session, "refund.created", refund("pending"), "evt_r1").status == "processed"
    )
    assert (
        deliver(praho_session, "refund.updated", refund("succeeded"), "evt_r2").status
        == "processed"
    )
    deliver(praho_session, "refund.updated", refund("pending"), "evt_r3")  # stale, out of order
    row = praho_session.execute(select(GatewayRefund)).scalar_one()
    assert (row.status, row.amount_minor, row.currency, row.payment_reference, row.refund_key) == (
        GatewayRefundStatus.SUCCEEDED,
        2500,
        "RON",
        "pi_test_1",
        "rf_1",
    )
    deliver(
        praho_session,
        "refund.failed",
        refund("failed", failure_reason="expired_or_canceled_card"),
        "evt_r4",
    )
    assert (
        row.status == GatewayRefundStatus.FAILED
        and row.failure_reason == "expired_or_canceled_card"
    )
    actions = (
        praho_session.execute(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "gateway_refund")
            .order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    assert actions == [
        "gateway_refund.pending",
        "gateway_refund.succeeded",
        "gateway_refund.failed",
    ]


def test_charge_refunded_records_the_embedded_refunds(praho_app, praho_session):
    charge = fixture(
        "charge",
        id="ch_1",
        payment_intent="pi_test_2",
        amount_refunded=700,
        refunded=False,
        refunds={
            "object": "list",
            "has_more": False,
            "url": "/v1/charges/ch_1/refunds",
            "data": [
                refund(id="re_a", amount=300, payment_intent=None),
                refund(id="re_b", amount=400, payment_intent=None),
            ],
        },
    )
    deliver(praho_session, "charge.refunded", charge, "evt_c1")
    deliver(
        praho_session, "refund.created", refund(id="re_a", amount=300), "evt_c2"
    )  # the same refund again
    rows = (
        praho_session.execute(select(GatewayRefund).order_by(GatewayRefund.gateway_reference))
        .scalars()
        .all()
    )
    assert [(r.gateway_reference, r.amount_minor, r.payment_reference) for r in rows] == [
        ("re_a", 300, "pi_test_2"),
        ("re_b", 400, "pi_test_2"),
    ]
    assert praho_session.scalar(select(func.count()).select_from(GatewayRefund)) == 2
