"""The shared rate limiter: limits per surface, 429 with Retry-After, settings honoured.

Webhook endpoints count refused deliveries only (per source and client address): a
verified delivery is never throttled, an address over its limit is answered 429 before
its body is read.
"""

import hashlib
import hmac
import json
import os
import time

import pytest
import redis
from flask import Blueprint, jsonify
from praho.core.app import create_app
from praho.core.hookspecs import hookimpl
from praho.core.ratelimit import login_limit, usage_api_limit
from praho.core.testing import StaticTestPlugin, config_for_tests
from praho.core.webhooks import refusals
from praho.core.webhooks.source import ParsedEvent, WebhookRejected
from praho.core.webhooks.verification import parse_json_body

probe = Blueprint("rate_probe", __name__)


@probe.post("/probe/usage")
@usage_api_limit
def probe_usage():
    return jsonify(ok=True)


@probe.route("/probe/login", methods=["GET", "POST"])
@login_limit
def probe_login():
    return jsonify(ok=True)


SECRET = b"rate-limit-test-secret"


class SignedSource:
    """``X-Sig: <hex>`` HMAC of the body; events are stored and ignored (no handlers)."""

    def __init__(self, source_id):
        self.id = source_id

    def verify(self, headers, body, now):
        expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get("X-Sig") or ""):
            raise WebhookRejected("signature mismatch")

    def parse(self, body):
        document = parse_json_body(body)
        return ParsedEvent(str(document["id"]), "note", None, document)

    def handlers(self):
        return {}


class ProbePlugin:
    @hookimpl
    def register_blueprints(self):
        return [probe]

    @hookimpl
    def register_webhook_sources(self):
        return [SignedSource("signed"), SignedSource("other")]


_RUN = time.time_ns()


def good_id(number):
    """The event id :func:`_delivery` gives delivery ``number`` in this test run."""
    return f"ev_{number}_{_RUN}"


def _delivery(number, *, signed=True):
    body = json.dumps({"id": good_id(number) if signed else f"bad_{time.time_ns()}"}).encode()
    signature = hmac.new(SECRET, body, hashlib.sha256).hexdigest() if signed else "0" * 64
    return {"data": body, "headers": {"X-Sig": signature}}


@pytest.fixture(autouse=True)
def _no_remembered_addresses(praho_database_url):
    refusals.forget_all()
    yield
    refusals.forget_all()
    # The endpoint commits what it records: leave the shared test database as it was.
    from praho.core.db import make_engine
    from sqlalchemy import text

    engine = make_engine(praho_database_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM webhook_events WHERE source IN ('signed', 'other')"))
    engine.dispose()


def _app(praho_database_url, **limits):
    return create_app(config_for_tests(praho_database_url, **limits),
                      plugins=[("static_test", StaticTestPlugin()), ("probe", ProbePlugin())])


def test_verified_webhook_deliveries_are_never_throttled(praho_database_url):
    app = _app(praho_database_url, RATELIMIT_WEBHOOKS="2 per minute")
    client = app.test_client()
    answers = [client.post("/webhooks/signed", **_delivery(n)) for n in range(6)]
    assert [a.status_code for a in answers] == [200] * 6
    assert {a.json["status"] for a in answers} == {"ignored"}


def test_refused_webhook_deliveries_are_limited_per_source_and_address(praho_database_url):
    from praho.core.models import WebhookEvent
    from sqlalchemy import select

    app = _app(praho_database_url, RATELIMIT_WEBHOOKS="3 per minute")
    client = app.test_client()
    bad = [client.post("/webhooks/signed", **_delivery(n, signed=False)) for n in range(4)]
    assert [a.status_code for a in bad] == [400, 400, 400, 429]
    assert bad[3].json["error"] == "rate_limited" and int(bad[3].headers["Retry-After"]) > 0
    # Over the limit, a verified delivery from the same address is still recorded (the
    # gateway shares its addresses with everyone who can point a webhook at us); only the
    # refusals are answered 429.
    good = client.post("/webhooks/signed", **_delivery(9))
    assert good.status_code == 200 and good.json["status"] == "ignored"
    assert client.post("/webhooks/signed", **_delivery(5, signed=False)).status_code == 429
    # Another source has its own budget, and a refusal of no body at all counts the same.
    assert client.post("/webhooks/other", **_delivery(19)).status_code == 200
    assert client.post("/webhooks/other", data=b"").status_code == 400
    # An unknown source is a 404 and counts nothing.
    assert all(client.post("/webhooks/nosuch").status_code == 404 for _ in range(5))
    with app.app_context():
        session = app.extensions["praho.db"].session
        recorded = dict(session.execute(
            select(WebhookEvent.event_id, WebhookEvent.source)
            .where(WebhookEvent.event_id.in_([good_id(9), good_id(19)]))).all())
    assert recorded == {good_id(9): "signed", good_id(19): "other"}


def test_a_blocked_address_refusals_are_answered_normally_again_when_its_window_ends(
    praho_database_url,
):
    app = _app(praho_database_url, RATELIMIT_WEBHOOKS="1 per second")
    client = app.test_client()
    assert client.post("/webhooks/signed", **_delivery(1, signed=False)).status_code == 400
    assert client.post("/webhooks/signed", **_delivery(2, signed=False)).status_code == 429
    assert client.post("/webhooks/signed", **_delivery(3)).status_code == 200
    time.sleep(2.1)
    assert client.post("/webhooks/signed", **_delivery(4, signed=False)).status_code == 400


def test_a_renewed_block_is_not_forgotten_by_a_thread_that_saw_the_old_one_expire():
    # Two threads: one finds the old block expired while another renews it; the renewal
    # must survive.
    key = ("signed", "203.0.113.7")
    refusals.forget_all()
    refusals._blocked_until[key] = time.monotonic() - 1  # expired
    original_lock = refusals._lock

    class RenewWhileWaiting:
        def __enter__(self):
            refusals._blocked_until[key] = time.monotonic() + 60  # renewed meanwhile
            return original_lock.__enter__()

        def __exit__(self, *exc):
            return original_lock.__exit__(*exc)

    refusals._lock = RenewWhileWaiting()
    try:
        assert refusals._time_left(*key) is None  # the expired block it read
    finally:
        refusals._lock = original_lock
    assert refusals._time_left(*key) is not None  # the renewal is still there


def test_usage_limit_is_per_api_key(praho_database_url):
    app = _app(praho_database_url, RATELIMIT_USAGE_API="2 per minute")
    client = app.test_client()
    first = {"Authorization": "Bearer key-one"}
    second = {"Authorization": "Bearer key-two"}
    assert [client.post("/probe/usage", headers=first).status_code for _ in range(3)] == [200, 200, 429]
    assert client.post("/probe/usage", headers=second).status_code == 200


def test_flask_limiter_stays_off_webhook_requests_and_on_the_others(praho_database_url):
    from flask.globals import request_ctx

    app = _app(praho_database_url, RATELIMIT_USAGE_API="5 per minute")
    seen = []

    @app.after_request
    def _remember_limiter_state(response):  # runs after Flask-Limiter's own hook
        # Flask-Limiter keeps its per-request state on the request context.
        seen.append(hasattr(request_ctx._get_current_object(), "_limiter_request_context"))
        return response

    client = app.test_client()
    webhook = client.post("/webhooks/signed", **_delivery(1))
    usage = client.post("/probe/usage", headers={"Authorization": "Bearer key-one"})
    assert webhook.status_code == usage.status_code == 200
    # The webhook request never met Flask-Limiter: no state, no X-RateLimit headers.
    assert seen == [False, True]
    assert not any(h.lower().startswith("x-ratelimit") for h in webhook.headers.keys())
    assert usage.headers["X-RateLimit-Limit"] == "5"
    assert usage.headers["X-RateLimit-Remaining"] == "4"


def test_login_limit_counts_posts_only(praho_database_url):
    app = _app(praho_database_url, RATELIMIT_LOGIN="2 per minute")
    client = app.test_client()
    assert all(client.get("/probe/login").status_code == 200 for _ in range(5))
    assert [client.post("/probe/login").status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.redis
def test_limits_are_kept_in_redis_when_configured(praho_database_url):
    redis_url = os.environ.get("PRAHO_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("needs Redis: set PRAHO_TEST_REDIS_URL")
    connection = redis.Redis.from_url(redis_url)
    for key in connection.scan_iter("LIMITS*"):
        connection.delete(key)
    app = _app(praho_database_url, RATELIMIT_WEBHOOKS="2 per minute",
               RATELIMIT_STORAGE_URI=redis_url)
    client = app.test_client()
    statuses = [client.post("/webhooks/signed", **_delivery(n, signed=False)).status_code
                for n in range(3)]
    assert statuses == [400, 400, 429]
    keys = [key.decode() for key in connection.scan_iter("LIMITS*")]
    assert any("webhook_refusals" in key for key in keys)
    # A second process (another gunicorn worker) counts in the same Redis: its first
    # refusal of that address is already over the limit.
    refusals.forget_all()
    other = _app(praho_database_url, RATELIMIT_WEBHOOKS="2 per minute",
                 RATELIMIT_STORAGE_URI=redis_url)
    other_client = other.test_client()
    assert other_client.post("/webhooks/signed", **_delivery(7)).status_code == 200
    refused = other_client.post("/webhooks/signed", **_delivery(8, signed=False))
    assert refused.status_code == 429
