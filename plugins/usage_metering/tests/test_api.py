"""``POST /api/usage/events`` through the Flask test client, on committed data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from praho.core.clock import utcnow
from praho.core.testing import PrahoFactory
from praho.plugins.usage_metering.api_keys import create_api_key, revoke_api_key
from praho.plugins.usage_metering.models import UsageEvent
from praho.plugins.usage_metering.tests.conftest import build_metered
from sqlalchemy import func, select


@pytest.fixture
def api(praho_app, praho_committing):
    """A metered subscription started recently, a customer key and an integration key."""
    now = utcnow()
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        start = (now - timedelta(days=3)).date()
        metered = build_metered(session, factory, now=now)
        subscription = factory.subscription(metered.price, metered.customer, start=start)
        other_customer = factory.customer()
        _, customer_key = create_api_key(session, name="panel", customer=metered.customer, now=now)
        other_row, other_key = create_api_key(
            session, name="other", customer=other_customer, now=now
        )
        _, integration_key = create_api_key(session, name="collector", now=now)
        ids = {
            "subscription": subscription.id,
            "customer": metered.customer.code,
            "other_prefix": other_row.prefix,
        }
    return {
        "client": praho_app.test_client(),
        "db": praho_committing,
        "keys": {"customer": customer_key, "other": other_key, "integration": integration_key},
        **ids,
    }


def post(api, body, key="customer", raw=None):
    headers = {"Authorization": f"Bearer {api['keys'][key]}"} if key else {}
    data = raw if raw is not None else json.dumps(body)
    return api["client"].post(
        "/api/usage/events", data=data, headers=headers, content_type="application/json"
    )


def event(api, event_id, gb="1", **extra):
    return {
        "id": event_id,
        "meter": "storage_gb",
        "subscription": api["subscription"],
        "timestamp": utcnow().isoformat(),
        "properties": {"gb": gb},
        **extra,
    }


def count(api):
    with api["db"].transaction() as session:
        return session.execute(select(func.count()).select_from(UsageEvent)).scalar()


def test_batch_is_stored_and_a_replay_is_acknowledged(api):
    body = {"events": [event(api, f"e{i}", "2") for i in range(3)]}
    first = post(api, body)
    assert first.status_code == 200
    assert first.get_json() | {"duplicate_indexes": None} == {
        "received": 3,
        "accepted": 3,
        "duplicates": 0,
        "duplicate_indexes": None,
        "rejected": [],
    }
    replay = post(api, body)
    assert replay.status_code == 200
    assert (replay.get_json()["accepted"], replay.get_json()["duplicates"]) == (0, 3)
    assert count(api) == 3


def test_partial_batch_stores_the_good_events_and_explains_the_bad(api):
    old = (utcnow() - timedelta(days=40)).isoformat()
    body = {
        "events": [
            event(api, "ok"),
            event(api, "old", timestamp=old),
            event(api, "neg", gb="-3"),
            {"id": "x"},
        ]
    }
    answer = post(api, body)
    assert answer.status_code == 200
    data = answer.get_json()
    assert data["accepted"] == 1
    assert [(r["index"], r["id"], r["reason"]) for r in data["rejected"]] == [
        (1, "old", "too_old"),
        (2, "neg", "invalid_value"),
        (3, "x", "unknown_meter"),
    ]
    assert count(api) == 1


def test_all_rejected_is_422_and_writes_nothing(api):
    answer = post(api, {"events": [event(api, "bad", gb="many")]})
    assert answer.status_code == 422
    assert answer.get_json()["rejected"][0]["reason"] == "invalid_value"
    assert count(api) == 0


def test_customer_key_is_limited_to_its_customer_and_integration_key_is_not(api):
    answer = post(api, {"events": [event(api, "theirs")]}, key="other")
    assert answer.status_code == 422
    assert answer.get_json()["rejected"][0]["reason"] == "unknown_subscription"
    by_code = {
        "id": "bycode",
        "meter": "storage_gb",
        "customer": api["customer"],
        "timestamp": utcnow().isoformat(),
        "properties": {"gb": "1"},
    }
    # The customer's new subscription and the fixture's first one both meter storage.
    ambiguous = post(api, {"events": [by_code]}, key="integration")
    assert ambiguous.get_json()["rejected"][0]["reason"] == "ambiguous_subscription"
    assert post(api, {"events": [event(api, "ours")]}, key="integration").status_code == 200
    assert count(api) == 1


@pytest.mark.parametrize(
    ("key", "raw", "status", "code"),
    [
        (None, None, 401, "invalid_api_key"),
        ("customer", "{not json", 400, "invalid_json"),
        ("customer", '{"events": [], "events": []}', 400, "invalid_json"),
        ("customer", '{"events": {}}', 400, "invalid_body"),
        ("customer", '[{"id": "x"}]', 400, "invalid_body"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(api, key, raw, status, code):
    answer = post(api, None, key=key, raw=raw)
    assert (answer.status_code, answer.get_json()["error"]) == (status, code)
    assert count(api) == 0


def test_more_than_1000_events_is_413(api):
    answer = post(api, {"events": [event(api, f"e{i}") for i in range(1001)]})
    assert answer.status_code == 413
    assert answer.get_json()["error"] == "too_many_events"
    assert count(api) == 0


def test_revoked_key_is_refused(api):
    with api["db"].transaction() as session:
        revoke_api_key(session, api["other_prefix"], now=utcnow())
    wrong = api["keys"]["customer"][:-2] + "zz"
    api["keys"]["wrong"] = wrong
    for key in ("other", "wrong"):
        answer = post(api, {"events": [event(api, "r")]}, key=key)
        assert answer.status_code == 401
    assert count(api) == 0


def test_keys_are_stored_hashed(api):
    from praho.plugins.usage_metering.models import UsageApiKey

    with api["db"].transaction() as session:
        stored = session.execute(select(UsageApiKey.key_hash)).scalars().all()
    assert all(
        key not in stored and key[-20:] not in "".join(stored) for key in api["keys"].values()
    )


def test_fuzz_random_batches_answer_4xx_or_store_exactly_what_they_accept(api):
    from hypothesis import given
    from hypothesis import strategies as st
    from praho.core.testing import fuzz_settings, fuzz_tried

    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-10, 10**12),
        st.text(max_size=12),
        st.sampled_from(["1.5", "-2", "1e400", "NaN"]),
    )
    fields = st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(st.text(max_size=8), scalars),
            "meter": st.sampled_from(["storage_gb", "mailboxes", "nope"]),
            "subscription": st.one_of(st.just(api["subscription"]), scalars),
            "customer": st.one_of(st.just(api["customer"]), scalars),
            "timestamp": st.one_of(st.just(utcnow().isoformat()), scalars),
            "properties": st.one_of(
                st.dictionaries(st.sampled_from(["gb", "count", "x"]), scalars, max_size=3), scalars
            ),
            "extra": scalars,
        },
    )
    batches = st.lists(st.one_of(fields, scalars), max_size=8)

    @fuzz_settings()
    @given(batch=batches)
    def run(batch):
        fuzz_tried("usage_metering.http_batches")
        before = count(api)
        answer = post(api, {"events": batch})
        assert answer.status_code in (200, 400, 422)
        data = answer.get_json()
        accepted = data.get("accepted", 0)
        assert count(api) == before + accepted
        if answer.status_code != 400:
            assert accepted + data["duplicates"] + len(data["rejected"]) == len(batch)

    run()


def test_each_api_key_has_its_own_rate_limit(api, praho_app):
    praho_app.config["RATELIMIT_USAGE_API"] = "2 per minute"
    statuses = [post(api, {"events": [event(api, f"r{i}")]}).status_code for i in range(3)]
    assert statuses == [200, 200, 429]
    assert count(api) == 2  # the refused request wrote nothing
    refused = post(api, {"events": [event(api, "r9")]})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert post(api, {"events": [event(api, "i1")]}, key="integration").status_code == 200
