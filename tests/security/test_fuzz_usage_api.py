"""Fuzzing ``POST /api/usage/events`` (valid customer key) through the Flask test client.

Batches mix valid events with hostile ones: wrong types in every field (lists and objects
where text is expected, booleans, huge numbers), timestamps out of range or at the edges
of the acceptance window, values like ``1E999999``, unknown fields, duplicate ids, and
bodies that are not a batch at all. Every answer is a 2xx or a 4xx; a 200/422 accounts
for every event (accepted + duplicates + rejected = received, each rejection named by
its index); exactly the accepted events are written, so nothing of a rejected event is.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from praho.core.clock import utcnow
from praho.core.models import AuditEvent
from praho.core.testing import PrahoFactory, fuzz_settings, fuzz_tried
from praho.plugins.usage_metering.api_keys import create_api_key
from praho.plugins.usage_metering.models import UsageEvent
from praho.plugins.usage_metering.tests.conftest import build_metered
from sqlalchemy import func, select


@pytest.fixture
def praho_config():
    # The flood limit is not under test here (tests/security/test_rate_limits.py is).
    return {"RATELIMIT_USAGE_API": "1000000 per minute"}


@pytest.fixture
def api(praho_app, praho_committing):
    now = utcnow()
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        metered = build_metered(session, factory, now=now)
        subscription = factory.subscription(metered.price, metered.customer,
                                            start=(now - timedelta(days=3)).date())
        _, key = create_api_key(session, name="fuzz", customer=metered.customer, now=now)
        ids = {"subscription": subscription.id, "customer": metered.customer.code}
    return {"client": praho_app.test_client(), "db": praho_committing, "key": key, **ids}


def _state(database) -> tuple[set[tuple[int, str]], int]:
    with database.transaction() as session:
        stored = set(session.execute(select(UsageEvent.meter_id, UsageEvent.event_id)).all())
        audits = session.scalar(select(func.count()).select_from(AuditEvent))
    return stored, audits


hostile = (st.none() | st.booleans() | st.integers() | st.just(10**99) | st.text(max_size=12)
           | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3),
                                                                   st.integers(), max_size=2)
           | st.sampled_from(["", "x" * 500, "1E999999", "1E99999", "-1", "NaN", "Infinity",
                              "0.0000001", "1000000000.000001", "storage_gb", "mailboxes"]))


@st.composite
def events(draw: st.DrawFn, subscription: int, customer: str) -> object:
    now = datetime.now(UTC)
    stamp = draw(st.sampled_from([
        now.isoformat(), (now - timedelta(days=1)).isoformat(),
        (now - timedelta(days=400)).isoformat(), (now + timedelta(days=1)).isoformat(),
        "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-01T00:00:00",
        "not a date", int(now.timestamp()), 0, -1, 10**20, 32503680000]))
    event: dict = {
        "id": draw(st.sampled_from([f"e{draw(st.integers(0, 30))}", "", "é", "x" * 101,
                                    "a b"]) | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,20}",
                                                            fullmatch=True)),
        "meter": draw(st.sampled_from(["storage_gb", "mailboxes", "unknown"])),
        "subscription": subscription,
        "timestamp": stamp,
        "properties": {draw(st.sampled_from(["gb", "count"])): draw(
            st.sampled_from(["1", "2.5", "0", 3, "1e3"]) | hostile)},
    }
    how = draw(st.sampled_from(["valid", "valid", "field", "field", "drop", "extra",
                                "customer", "not_object"]))
    if how == "field":
        event[draw(st.sampled_from(sorted(event)))] = draw(hostile)
    elif how == "drop":
        event.pop(draw(st.sampled_from(sorted(event))))
    elif how == "extra":
        event[draw(st.text(max_size=6))] = draw(hostile)
    elif how == "customer":
        event["customer"] = draw(st.sampled_from([customer, "OTHER"]) | hostile)
        if draw(st.booleans()):
            event.pop("subscription")
    elif how == "not_object":
        return draw(hostile)
    return event


@st.composite
def bodies(draw: st.DrawFn, subscription: int, customer: str) -> bytes:
    batch = draw(st.lists(events(subscription, customer), max_size=12))
    shape = draw(st.sampled_from(["batch"] * 8 + ["extra_key", "not_list", "garbage", "deep"]))
    if shape == "extra_key":
        return json.dumps({"events": batch, "more": 1}).encode()
    if shape == "not_list":
        return json.dumps({"events": draw(hostile)}).encode()
    if shape == "garbage":
        return draw(st.binary(max_size=200))
    if shape == "deep":
        return b'{"events":[' + b"[" * 40 + b"]" * 40 + b"]}"
    return json.dumps({"events": batch}).encode()


@pytest.mark.slow
@fuzz_settings(factor=2)
@given(data=st.data())
def test_random_batches_answer_2xx_or_4xx_and_write_exactly_what_was_accepted(api, data):
    fuzz_tried("usage API: random batches")
    body = data.draw(bodies(api["subscription"], api["customer"]))
    before, audits_before = _state(api["db"])
    answer = api["client"].post("/api/usage/events", data=body, content_type="application/json",
                                headers={"Authorization": f"Bearer {api['key']}"})
    assert 200 <= answer.status_code < 300 or 400 <= answer.status_code < 500, (
        answer.status_code, answer.get_data()[:300])
    after, audits_after = _state(api["db"])
    assert audits_after == audits_before
    if answer.status_code not in (200, 422):
        assert after == before, "a refused batch wrote events"
        return
    result = answer.get_json()
    rejected = [r["index"] for r in result["rejected"]]
    assert len(set(rejected)) == len(rejected)
    assert all(0 <= i < result["received"] for i in rejected + result["duplicate_indexes"])
    assert not set(rejected) & set(result["duplicate_indexes"])
    assert result["accepted"] + result["duplicates"] + len(rejected) == result["received"]
    assert all(r["reason"] and r["message"] for r in result["rejected"])
    # Exactly the accepted events were written: a rejected event left nothing behind.
    assert len(after - before) == result["accepted"]
    sent = json.loads(body)["events"]
    new_ids = {event_id for _, event_id in after - before}
    for index in rejected:
        event_id = sent[index].get("id") if isinstance(sent[index], dict) else None
        if isinstance(event_id, str) and all(
                not isinstance(e, dict) or e.get("id") != event_id
                for i, e in enumerate(sent) if i not in rejected):
            assert event_id not in new_ids
    if result["accepted"] == 0 and result["duplicates"] == 0 and result["received"]:
        assert answer.status_code == 422


def test_hostile_fields_are_named_rejections_not_crashes(api):
    """Regressions: each of these was a 500 (TypeError, OverflowError, decimal.Overflow,
    ValueError) before the second pass."""
    now = utcnow().isoformat()
    base = {"id": "r1", "meter": "storage_gb", "subscription": api["subscription"],
            "timestamp": now, "properties": {"gb": "1"}}
    cases = [
        ({"meter": ["storage_gb"]}, "unknown_meter"),
        ({"customer": ["x"]}, "customer_mismatch"),
        ({"subscription": 10**99}, "invalid_subscription"),
        ({"timestamp": "0001-01-01T00:00:00+01:00"}, "invalid_timestamp"),
        ({"properties": {"gb": "1E999999"}}, "invalid_value"),
        ({"properties": {"gb": "1E99999"}}, "invalid_value"),
    ]
    before = _state(api["db"])
    for change, reason in cases:
        answer = api["client"].post(
            "/api/usage/events", json={"events": [base | change]},
            headers={"Authorization": f"Bearer {api['key']}"})
        assert answer.status_code == 422, (change, answer.status_code)
        assert answer.get_json()["rejected"][0]["reason"] == reason
    assert _state(api["db"]) == before


def test_usage_api_is_rate_limited_per_key(praho_database_url, api):
    from praho.core.app import create_app
    from praho.core.testing import config_for_tests

    app = create_app(config_for_tests(praho_database_url, RATELIMIT_USAGE_API="2 per minute"))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {api['key']}"}
    codes = [client.post("/api/usage/events", json={"events": []}, headers=headers).status_code
             for _ in range(3)]
    app.extensions["praho.db"].dispose()
    assert codes == [200, 200, 429]
