"""Fuzzing ``/webhooks/stripe`` and ``/webhooks/paypal`` through the real Flask test client.

Two kinds of input: random bodies and headers (nothing verifies, everything must be a
4xx), and near-valid deliveries: a real Stripe or PayPal event, mutated (flipped bytes,
duplicated keys, huge numbers, deep nesting, wrong types in known fields), then either
signed correctly (the parser and the handlers meet the hostile JSON) or not (the
signature must refuse it), with timestamps at the edges of the replay window. Every
answer is a 2xx or a 4xx, never a 5xx or an exception (the app runs with TESTING, so an
exception reaches the test), and a refused delivery writes no row: webhook events,
payments, attempts, disputes and audit events are counted before and after.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from praho.core.models import AuditEvent, Dispute, Payment, PaymentAttempt, WebhookEvent
from praho.core.testing import StaticTestPlugin, fuzz_settings, fuzz_tried
from praho.plugins.paypal_gateway.pki import TestPKI
from praho.plugins.paypal_gateway.testing import (
    CLIENT_ID,
    CLIENT_SECRET,
    WEBHOOK_ID,
    PayPalStandIn,
)
from praho.plugins.paypal_gateway.verification import clear_certificate_cache
from praho.plugins.stripe_gateway.testing import fixture, sign_stripe_event, stripe_event
from sqlalchemy import func, select

STRIPE_SECRET = "whsec_fuzz_0123456789abcdef0123456789"
WINDOW = 180  # the default replay window of both sources
MODELS = (WebhookEvent, Payment, PaymentAttempt, Dispute, AuditEvent)


@pytest.fixture(scope="module")
def paypal_server():
    server = PayPalStandIn(pki=TestPKI()).start()
    yield server
    server.stop()


@pytest.fixture
def praho_plugins():
    return [("static_test", StaticTestPlugin())]


@pytest.fixture
def praho_config(tmp_path, monkeypatch, paypal_server):
    paypal_server.reset()
    clear_certificate_cache()
    monkeypatch.setenv("PRAHO_STRIPE_SECRET_KEY", "sk_test_fuzz_key")
    monkeypatch.setenv("PRAHO_STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    monkeypatch.setenv("PRAHO_PAYPAL_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("PRAHO_PAYPAL_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("PRAHO_PAYPAL_WEBHOOK_ID", WEBHOOK_ID)
    lines = [
        "[[plugin]]", 'name = "stripe_gateway"', 'module = "praho.plugins.stripe_gateway"', "",
        "[plugin.settings]", 'secret_key = { env = "PRAHO_STRIPE_SECRET_KEY" }',
        'webhook_secret = { env = "PRAHO_STRIPE_WEBHOOK_SECRET" }', "",
        "[[plugin]]", 'name = "paypal_gateway"', 'module = "praho.plugins.paypal_gateway"', "",
        "[plugin.settings]", 'client_id = { env = "PRAHO_PAYPAL_CLIENT_ID" }',
        'client_secret = { env = "PRAHO_PAYPAL_CLIENT_SECRET" }',
        'webhook_id = { env = "PRAHO_PAYPAL_WEBHOOK_ID" }', 'verification = "offline"',
    ]
    lines += [f'{key} = "{value}"' for key, value in paypal_server.settings().items()]
    manifest = tmp_path / "plugin_manifest.toml"
    manifest.write_text("\n".join(lines) + "\n")
    # The flood limit is not under test here (tests/security/test_rate_limits.py is).
    return {"PLUGIN_MANIFEST": str(manifest), "LOAD_ENTRY_POINTS": False,
            "RATELIMIT_WEBHOOKS": "1000000 per minute"}


def _counts(database) -> tuple[int, ...]:
    with database.transaction() as session:
        return tuple(session.scalar(select(func.count()).select_from(m)) for m in MODELS)


def _deliver(app, database, source: str, body: bytes, headers: dict[str, str]) -> int:
    """POST one delivery; the answer must be 2xx/4xx and a refusal must write nothing."""
    before = _counts(database)
    response = app.test_client().post(f"/webhooks/{source}", data=body, headers=headers)
    assert 200 <= response.status_code < 300 or 400 <= response.status_code < 500, (
        response.status_code, response.get_data()[:300])
    if response.status_code >= 400:
        assert _counts(database) == before, "a refused delivery wrote rows"
        assert response.json["error"] in {"rejected", "unknown_source", "rate_limited"}
    return response.status_code


# ---------------------------------------------------------------------------
# Hostile JSON: values, mutations
# ---------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers() | st.sampled_from([10**99, -(10**99), 2**63])
           | st.text(max_size=20) | st.sampled_from(["", "x" * 3000, "1e999999", "NaN", "EUR",
                                                     "ron", "-1", "0", "50.00"]))
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3)
                      | st.dictionaries(st.text(max_size=8), c, max_size=3), max_leaves=8)


def _nested(depth: int) -> dict:
    node: dict = {"x": 1}
    for _ in range(depth):
        node = {"x": node}
    return node


@st.composite
def stripe_objects(draw: st.DrawFn) -> tuple[str, dict]:
    kind = draw(st.sampled_from(["payment_intent.succeeded", "payment_intent.payment_failed",
                                 "payment_intent.processing", "refund.updated", "refund.failed",
                                 "charge.refunded", "charge.dispute.created",
                                 "charge.dispute.closed", "customer.created"]))
    resource = ("dispute" if "dispute" in kind else "refund" if kind.startswith("refund")
                else "charge" if kind.startswith("charge") else "payment_intent")
    try:
        obj = fixture(resource)
    except KeyError:
        obj = {"object": resource}
    obj.update(id=draw(st.sampled_from(["pi_fuzz_1", "re_fuzz_1", "dp_fuzz_1", "ch_fuzz_1"])),
               amount=draw(st.integers(-5, 10**6) | st.just(10**40)),
               currency=draw(st.sampled_from(["ron", "eur", "xxx", "", "RON"])),
               metadata={"praho_key": draw(st.sampled_from(["pa_" + "0" * 32, "x", ""]))})
    return kind, obj


def _mutate(document: dict, draw: st.DrawFn, known: list[list[str]]) -> dict:
    """Set a known field (by path) to a hostile value, or nest deeply, or add junk."""
    how = draw(st.sampled_from(["none", "wrong_type", "huge", "deep", "junk"]))
    if how == "none":
        return document
    if how == "deep":
        document["extra"] = _nested(draw(st.integers(20, 40)))
        return document
    if how == "junk":
        document[draw(st.text(max_size=10))] = draw(values)
        return document
    path = draw(st.sampled_from(known))
    node = document
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return document
    node[path[-1]] = draw(values) if how == "wrong_type" else draw(
        st.sampled_from([10**99, -(10**30), 2**64, 1e308, "9" * 99]))
    return document


def _encode(document: dict, draw: st.DrawFn) -> bytes:
    """JSON text, sometimes with a duplicated key or a byte flipped."""
    body = json.dumps(document, separators=(",", ":")).encode()
    how = draw(st.sampled_from(["plain", "plain", "duplicate", "flip", "cut"]))
    if how == "duplicate":
        body = b'{"id":"evt_dup",' + body[1:]
    elif how == "flip" and body:
        position = draw(st.integers(0, len(body) - 1))
        body = body[:position] + bytes([body[position] ^ draw(st.integers(1, 255))]) \
            + body[position + 1:]
    elif how == "cut":
        body = body[: draw(st.integers(0, len(body)))]
    return body


STRIPE_KNOWN = [["id"], ["type"], ["object"], ["created"], ["data"], ["data", "object"],
                ["data", "object", "id"], ["data", "object", "amount"],
                ["data", "object", "currency"], ["data", "object", "status"],
                ["data", "object", "metadata"], ["data", "object", "payment_intent"],
                ["data", "object", "latest_charge"], ["data", "object", "last_payment_error"]]
PAYPAL_KNOWN = [["id"], ["event_type"], ["resource"], ["create_time"], ["resource", "id"],
                ["resource", "status"], ["resource", "amount"], ["resource", "amount", "value"],
                ["resource", "amount", "currency_code"], ["resource", "custom_id"],
                ["resource", "dispute_amount"], ["resource", "disputed_transactions"],
                ["resource", "supplementary_data"], ["resource", "seller_receivable_breakdown"]]


@st.composite
def stripe_deliveries(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    kind, obj = draw(stripe_objects())
    event = stripe_event(kind, obj, event_id=f"evt_fuzz_{draw(st.integers(0, 50))}")
    body = _encode(_mutate(event, draw, STRIPE_KNOWN), draw)
    now = int(time.time())
    # Inside the window, at its edges (a second in or out, given the request takes time).
    stamp = now + draw(st.sampled_from([0, 0, -WINDOW + 5, WINDOW - 5, -WINDOW - 5, WINDOW + 5,
                                        -(10**9), 10**11, 999_999_999_999 - now]))
    how = draw(st.sampled_from(["signed", "signed", "signed", "bad_sig", "old_secret", "garbled"]))
    if how == "signed":
        signature = sign_stripe_event(body, STRIPE_SECRET, stamp) if body.isascii() else \
            _stripe_sig(body, STRIPE_SECRET, stamp)
    elif how == "bad_sig":
        signature = f"t={stamp},v1={'0' * 64}"
    elif how == "old_secret":
        signature = _stripe_sig(body, "whsec_someone_else_0123456789", stamp)
    else:
        signature = draw(st.sampled_from([f"t={stamp}", f"v1=abc,t={stamp},t={stamp}",
                                          "t=abc,v1=x", "t=" + "9" * 13, ",,,=", "x" * 5000]))
    return body, {"Stripe-Signature": signature, "Content-Type": "application/json"}


def _stripe_sig(body: bytes, secret: str, stamp: int) -> str:
    import hashlib
    import hmac

    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


@st.composite
def paypal_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED",
                                 "PAYMENT.CAPTURE.REFUNDED", "CHECKOUT.ORDER.APPROVED",
                                 "CUSTOMER.DISPUTE.CREATED", "CUSTOMER.DISPUTE.RESOLVED",
                                 "BILLING.SUBSCRIPTION.CREATED"]))
    resource = {
        "id": draw(st.sampled_from(["CAP0000000000007", "ORDER1", "REF1", "PP-D-1"])),
        "dispute_id": "PP-D-1", "status": draw(st.sampled_from(["COMPLETED", "OPEN", "x", ""])),
        "amount": {"currency_code": draw(st.sampled_from(["EUR", "RON", "XXX", ""])),
                   "value": draw(st.sampled_from(["50.00", "0", "-1", "1e9999", "abc"]))},
        "dispute_amount": {"currency_code": "EUR", "value": "50.00"},
        "custom_id": draw(st.sampled_from(["pa_" + "0" * 32, ""])),
        "disputed_transactions": [{"seller_transaction_id": "CAP0000000000007"}],
    }
    event = {"id": f"WH-FUZZ-{draw(st.integers(0, 50))}", "event_version": "1.0",
             "create_time": draw(st.sampled_from(
                 ["2026-11-25T09:00:00Z", "0001-01-01T00:00:00+01:00", "x",
                  "9999-12-31T23:59:59-01:00"])),
             "resource_type": "capture", "event_type": kind, "resource": resource}
    return _encode(_mutate(event, draw, PAYPAL_KNOWN), draw)


@st.composite
def paypal_deliveries(draw: st.DrawFn, server: PayPalStandIn) -> tuple[bytes, dict[str, str]]:
    body = draw(paypal_bodies())
    offset = draw(st.sampled_from([0, 0, -WINDOW + 5, WINDOW - 5, -WINDOW - 5, WINDOW + 5]))
    headers = server.sign_delivery(body, when=datetime.now(UTC) + timedelta(seconds=offset))
    how = draw(st.sampled_from(["signed", "signed", "signed", "tampered_body", "header"]))
    if how == "tampered_body" and body:
        body = body[:-1] + bytes([body[-1] ^ 1])
    elif how == "header":
        name = draw(st.sampled_from(sorted(h for h in headers if h.startswith("PAYPAL"))))
        headers[name] = draw(st.sampled_from([
            "", "x" * 5000, "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
            "2026-01-01T00:00:00", "http://api.sandbox.paypal.com/v1/notifications/certs/x",
            "https://evil.example/v1/notifications/certs/x", "SHA1withRSA", "a|b", "!!!",
            "https://api.sandbox.paypal.com@evil/v1/notifications/certs/x"]))
    return body, headers


# ---------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------

header_names = st.sampled_from(["Stripe-Signature", "PAYPAL-TRANSMISSION-ID",
                                "PAYPAL-TRANSMISSION-TIME", "PAYPAL-TRANSMISSION-SIG",
                                "PAYPAL-CERT-URL", "PAYPAL-AUTH-ALGO", "Content-Type",
                                "Content-Length", "X-Anything"])
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255),
                        max_size=80)


@pytest.mark.slow
@fuzz_settings(factor=2)
@given(source=st.sampled_from(["stripe", "paypal", "unknown", "STRIPE", "stripe%00"]),
       body=st.binary(max_size=400) | values.map(lambda x: json.dumps(x).encode()),
       headers=st.dictionaries(header_names, header_values, max_size=6))
def test_random_deliveries_are_refused_without_writing(praho_app, praho_committing, source,
                                                       body, headers):
    fuzz_tried("webhooks: random bodies and headers")
    headers.pop("Content-Length", None)  # werkzeug would wait for bytes that never come
    status = _deliver(praho_app, praho_committing, source, body, headers)
    assert 400 <= status < 500


@pytest.mark.slow
@fuzz_settings(factor=3)
@given(delivery=stripe_deliveries())
def test_near_valid_stripe_deliveries_answer_2xx_or_4xx(praho_app, praho_committing, delivery):
    fuzz_tried("webhooks: near-valid Stripe deliveries")
    body, headers = delivery
    _deliver(praho_app, praho_committing, "stripe", body, headers)


@pytest.mark.slow
@fuzz_settings(factor=3)
@given(data=st.data())
def test_near_valid_paypal_deliveries_answer_2xx_or_4xx(praho_app, praho_committing,
                                                        paypal_server, data):
    fuzz_tried("webhooks: near-valid PayPal deliveries")
    body, headers = data.draw(paypal_deliveries(paypal_server))
    _deliver(praho_app, praho_committing, "paypal", body, headers)


def test_out_of_range_timestamps_are_refused_not_crashes(praho_app, praho_committing,
                                                         paypal_server):
    """Regressions: each of these was a 500 (OverflowError) before the second pass."""
    event = stripe_event("customer.created", {"object": "customer", "id": "cus_1"},
                         event_id="evt_far")
    body = json.dumps(event).encode()
    far = _stripe_sig(body, STRIPE_SECRET, 999_999_999_999)
    assert _deliver(praho_app, praho_committing, "stripe", body,
                    {"Stripe-Signature": far}) == 400
    event["created"] = 10**40
    body = json.dumps(event).encode()
    signed = sign_stripe_event(body, STRIPE_SECRET, int(time.time()))
    assert _deliver(praho_app, praho_committing, "stripe", body,
                    {"Stripe-Signature": signed}) == 200
    paypal = b'{"id":"WH-1","event_type":"X","resource":{}}'
    headers = paypal_server.sign_delivery(paypal)
    headers["PAYPAL-TRANSMISSION-TIME"] = "0001-01-01T00:00:00+01:00"
    assert _deliver(praho_app, praho_committing, "paypal", paypal, headers) == 400
    paypal = (b'{"id":"WH-2","event_type":"X","resource":{},'
              b'"create_time":"0001-01-01T00:00:00+01:00"}')
    assert _deliver(praho_app, praho_committing, "paypal", paypal,
                    paypal_server.sign_delivery(paypal)) == 200
