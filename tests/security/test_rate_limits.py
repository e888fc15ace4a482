"""The shared rate limiter: limits per surface, 429 with Retry-After, settings honoured."""

import os

import pytest
import redis
from flask import Blueprint, jsonify
from praho.core.app import create_app
from praho.core.hookspecs import hookimpl
from praho.core.ratelimit import login_limit, usage_api_limit, webhook_limit
from praho.core.testing import StaticTestPlugin, config_for_tests

probe = Blueprint("rate_probe", __name__)


@probe.post("/probe/webhooks/<source>")
@webhook_limit
def probe_webhook(source):
    return jsonify(source=source)


@probe.post("/probe/usage")
@usage_api_limit
def probe_usage():
    return jsonify(ok=True)


@probe.route("/probe/login", methods=["GET", "POST"])
@login_limit
def probe_login():
    return jsonify(ok=True)


class ProbePlugin:
    @hookimpl
    def register_blueprints(self):
        return [probe]


def _app(praho_database_url, **limits):
    return create_app(config_for_tests(praho_database_url, **limits),
                      plugins=[("static_test", StaticTestPlugin()), ("probe", ProbePlugin())])


def test_webhook_limit_is_per_source_and_answers_429_with_retry_after(praho_database_url):
    app = _app(praho_database_url, RATELIMIT_WEBHOOKS="3 per minute")
    client = app.test_client()
    assert [client.post("/probe/webhooks/stripe").status_code for _ in range(3)] == [200] * 3
    refused = client.post("/probe/webhooks/stripe")
    assert refused.status_code == 429
    assert refused.json["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    # Another source has its own budget.
    assert client.post("/probe/webhooks/paypal").status_code == 200


def test_usage_limit_is_per_api_key(praho_database_url):
    app = _app(praho_database_url, RATELIMIT_USAGE_API="2 per minute")
    client = app.test_client()
    first = {"Authorization": "Bearer key-one"}
    second = {"Authorization": "Bearer key-two"}
    assert [client.post("/probe/usage", headers=first).status_code for _ in range(3)] == [200, 200, 429]
    assert client.post("/probe/usage", headers=second).status_code == 200


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
    assert [client.post("/probe/webhooks/stripe").status_code for _ in range(3)] == [200, 200, 429]
    keys = [key.decode() for key in connection.scan_iter("LIMITS*")]
    assert any("webhooks" in key for key in keys)
    # A second process (another gunicorn worker) reading the same Redis is refused too.
    other = _app(praho_database_url, RATELIMIT_WEBHOOKS="2 per minute",
                 RATELIMIT_STORAGE_URI=redis_url)
    assert other.test_client().post("/probe/webhooks/stripe").status_code == 429
