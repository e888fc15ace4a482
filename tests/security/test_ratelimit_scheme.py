"""The usage API's rate limit keys on the token exactly as the API reads it.

Regression: the limiter stripped a case-sensitive ``"Bearer "`` while the API accepts
any case of the scheme, so ``bearer``, ``BEARER``, ``bEarer``... each had a fresh budget
for the same key.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from praho.core.clock import utcnow
from praho.core.ratelimit import bearer_token
from praho.core.testing import PrahoFactory
from praho.plugins.usage_metering.api_keys import create_api_key
from praho.plugins.usage_metering.tests.conftest import build_metered


@pytest.fixture
def praho_config():
    return {"RATELIMIT_USAGE_API": "2 per minute"}


@pytest.fixture
def usage_api(praho_app, praho_committing):
    """A customer's key for a metered subscription, and a way to send one event."""
    now = utcnow()
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        metered = build_metered(session, factory, now=now)
        subscription = factory.subscription(
            metered.price, metered.customer, start=(now - timedelta(days=3)).date())
        _, key = create_api_key(session, name="k", customer=metered.customer, now=now)
        sub_id = subscription.id
    http = praho_app.test_client()
    sent = iter(range(1_000))

    def post(authorization, **headers):
        event = {"id": f"e{next(sent)}", "meter": "storage_gb", "subscription": sub_id,
                 "timestamp": utcnow().isoformat(), "properties": {"gb": "1"}}
        return http.post("/api/usage/events", data=json.dumps({"events": [event]}),
                         headers={"Authorization": authorization, **headers},
                         content_type="application/json").status_code

    return key, post


def test_every_spelling_of_the_scheme_shares_one_budget(usage_api):
    key, post = usage_api
    assert [post(f"Bearer {key}"), post(f"bearer {key}")] == [200, 200]
    # The API accepts each of these as the same key, so the limiter counts them as one.
    for spelling in ("Bearer", "bearer", "BEARER", "bEarer", "BeArer"):
        assert post(f"{spelling} {key}") == 429, spelling
    assert post(f"Bearer   {key}  ") == 429


def test_the_api_and_the_limiter_read_the_same_token():
    assert bearer_token("Bearer pk_usage_a_b") == "pk_usage_a_b"
    assert bearer_token("BEARER  pk_usage_a_b ") == "pk_usage_a_b"
    assert bearer_token("bearer pk_usage_a_b") == "pk_usage_a_b"
    for missing in (None, "", "Bearer ", "Bearer    ", "Basic abc", "Bearerpk_usage_a_b",
                    "Token pk_usage_a_b"):
        assert bearer_token(missing) is None, missing


def test_requests_without_a_key_share_their_address_budget(usage_api):
    _key, post = usage_api
    # X-Api-Key is not a way in (401 whatever its value), so it picks no bucket either.
    answers = [post("", **{"X-Api-Key": f"guess-{i}"}) for i in range(3)]
    assert answers == [401, 401, 429]
