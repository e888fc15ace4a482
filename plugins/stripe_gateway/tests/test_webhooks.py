"""Stripe deliveries through /webhooks/stripe: every adversarial case changes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from praho.core.models import AuditEvent, Dispute, WebhookEvent, WebhookStatus
from praho.core.models.disputes import DisputeStatus
from praho.plugins.stripe_gateway.testing import fixture, sign_stripe_event, stripe_event
from praho.plugins.stripe_gateway.tests.conftest import OLD_WEBHOOK_SECRET, WEBHOOK_SECRET
from praho.plugins.stripe_gateway.webhook import parse_signature_header
from sqlalchemy import func, select


def dispute_event(
    status="warning_needs_response", kind="charge.dispute.created", event_id="evt_dp_1"
):
    obj = fixture(
        "dispute",
        id="dp_test_1",
        status=status,
        amount=5000,
        currency="ron",
        payment_intent="pi_disputed",
    )
    return json.dumps(stripe_event(kind, obj, event_id=event_id), separators=(",", ":")).encode()


def counts(database):
    with database.transaction() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (WebhookEvent, Dispute, AuditEvent)
        )


def post(app, body, signature):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return app.test_client().post("/webhooks/stripe", data=body, headers=headers)


def hmac_v(secret, stamp, body):
    return hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_signed_event_is_applied_once_and_duplicates_acknowledged(praho_app, praho_committing):
    body = dispute_event()
    signature = sign_stripe_event(body, WEBHOOK_SECRET, int(time.time()))
    first = post(praho_app, body, signature)
    assert first.status_code == 200 and first.json["status"] == "received"
    assert counts(praho_committing)[:2] == (1, 1)  # applied (Celery is eager in tests)
    for _ in range(3):
        again = post(praho_app, body, sign_stripe_event(body, WEBHOOK_SECRET, int(time.time())))
        assert again.status_code == 200 and again.json["duplicate"] is True
    webhooks, disputes, _ = counts(praho_committing)
    assert (webhooks, disputes) == (1, 1)
    closed = dispute_event(status="lost", kind="charge.dispute.closed", event_id="evt_dp_2")
    assert (
        post(
            praho_app, closed, sign_stripe_event(closed, WEBHOOK_SECRET, int(time.time()))
        ).status_code
        == 200
    )
    with praho_committing.transaction() as session:
        dispute = session.execute(select(Dispute)).scalar_one()
        assert (dispute.status, dispute.amount_minor, dispute.currency) == (
            DisputeStatus.LOST,
            5000,
            "RON",
        )
        assert dispute.payment_reference == "pi_disputed"
        actions = session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars().all()
        assert actions[-2:] == ["dispute.opened", "dispute.lost"]


def test_unknown_event_type_is_stored_and_acknowledged(praho_app, praho_committing):
    body = json.dumps(stripe_event("plan.created", fixture("event")["data"]["object"])).encode()
    answer = post(praho_app, body, sign_stripe_event(body, WEBHOOK_SECRET, int(time.time())))
    assert answer.status_code == 200 and answer.json["status"] == "ignored"
    with praho_committing.transaction() as session:
        assert session.execute(select(WebhookEvent.status)).scalar_one() == WebhookStatus.IGNORED


def test_rotation_any_v1_matches(praho_app, praho_committing):
    body = dispute_event()
    stamp = int(time.time())
    old, new = hmac_v(OLD_WEBHOOK_SECRET, stamp, body), hmac_v(WEBHOOK_SECRET, stamp, body)
    header = f"t={stamp},v1={old},v1={new}"
    assert post(praho_app, body, header).status_code == 200
    assert counts(praho_committing)[:2] == (1, 1)


def _case(name, body):
    now = int(time.time())
    good = hmac_v(WEBHOOK_SECRET, now, body)
    return {
        "missing header": (body, None, 400),
        "empty header": (body, "", 400),
        "garbage header": (body, "not-a-signature", 400),
        "wrong signature": (body, f"t={now},v1={'0' * 64}", 400),
        "v0 only": (body, f"t={now},v0={good}", 400),
        "no timestamp": (body, f"v1={good}", 400),
        "two timestamps": (body, f"t={now},t={now},v1={good}", 400),
        "other secret": (body, f"t={now},v1={hmac_v('whsec_attacker_secret', now, body)}", 400),
        "stale": (body, sign_stripe_event(body, WEBHOOK_SECRET, now - 181), 400),
        # 10 s past the edge: a loaded machine may take seconds to deliver the request.
        "far future": (body, sign_stripe_event(body, WEBHOOK_SECRET, now + 190), 400),
        "signature for another timestamp": (body, f"t={now - 1},v1={good}", 400),
        "re-serialised body": (
            json.dumps(json.loads(body), indent=2).encode(),
            sign_stripe_event(body, WEBHOOK_SECRET, now),
            400,
        ),
        "signed non-JSON": (
            b"id=evt_1&type=charge.dispute.created",
            sign_stripe_event(b"id=evt_1&type=charge.dispute.created", WEBHOOK_SECRET, now),
            400,
        ),
        "signed JSON that is no event": (
            b'{"id": "evt_1"}',
            sign_stripe_event(b'{"id": "evt_1"}', WEBHOOK_SECRET, now),
            400,
        ),
        "signed duplicate keys": (
            b'{"id":"a","id":"b"}',
            sign_stripe_event(b'{"id":"a","id":"b"}', WEBHOOK_SECRET, now),
            400,
        ),
        "oversized": (
            body + b" " * (300 * 1024),
            sign_stripe_event(body + b" " * (300 * 1024), WEBHOOK_SECRET, now),
            413,
        ),
    }[name]


CASES = [
    "missing header",
    "empty header",
    "garbage header",
    "wrong signature",
    "v0 only",
    "no timestamp",
    "two timestamps",
    "other secret",
    "stale",
    "far future",
    "signature for another timestamp",
    "re-serialised body",
    "signed non-JSON",
    "signed JSON that is no event",
    "signed duplicate keys",
    "oversized",
]


@pytest.mark.parametrize("case", CASES)
def test_adversarial_deliveries_change_nothing(praho_app, praho_committing, case):
    body, signature, status = _case(case, dispute_event())
    before = counts(praho_committing)
    answer = post(praho_app, body, signature)
    assert answer.status_code == status, answer.json
    assert answer.json["error"] == "rejected" and answer.json["message"]
    assert counts(praho_committing) == before


def test_no_secret_configured_refuses_everything(praho_app, praho_committing):
    from praho.plugins.stripe_gateway.settings import EXTENSION_KEY, parse_settings

    praho_app.extensions[EXTENSION_KEY] = parse_settings({})
    body = dispute_event()
    before = counts(praho_committing)
    answer = post(praho_app, body, sign_stripe_event(body, WEBHOOK_SECRET, int(time.time())))
    assert answer.status_code == 503 and "PRAHO_STRIPE_WEBHOOK_SECRET" in answer.json["message"]
    assert counts(praho_committing) == before


def test_signature_header_parsing():
    assert parse_signature_header("t=12, v1=AB ,v1=cd,v0=ef,x=1") == (12, ["ab", "cd"])
