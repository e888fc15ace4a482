"""Event ids are scoped to their customer; Stripe refusals do not pin the report cursor.

Regression tests: one customer's event "usage-1" used to be acknowledged as a duplicate
of another customer's (and never stored or billed), and one event Stripe refused for
good (older than its 35 days) kept the Stripe cursor where it was, so every later
event was sent again on every run.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from praho.core.clock import utcnow
from praho.core.testing import PrahoFactory
from praho.plugins.usage_metering import record_usage_events
from praho.plugins.usage_metering.api_keys import create_api_key
from praho.plugins.usage_metering.models import (
    UsageEvent,
    UsageStripeCursor,
    UsageStripeRefusal,
)
from praho.plugins.usage_metering.stripe_meters import (
    StripeMeterEventClient,
    meter_event_identifier,
    report_due,
)
from praho.plugins.usage_metering.tests.conftest import DURING, build_metered
from sqlalchemy import select

# ---------------------------------------------------------------------------
# Event ids belong to the sender (its customer)
# ---------------------------------------------------------------------------


@pytest.fixture
def two_customers(praho_app, praho_committing):
    """Customers A and B on the same metered plan, each with its own API key."""
    now = utcnow()
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        start = (now - timedelta(days=3)).date()
        metered = build_metered(session, factory, now=now)
        sub_a = factory.subscription(metered.price, metered.customer, start=start)
        customer_b = factory.customer()
        sub_b = factory.subscription(metered.price, customer_b, start=start)
        _, key_a = create_api_key(session, name="a", customer=metered.customer, now=now)
        _, key_b = create_api_key(session, name="b", customer=customer_b, now=now)
        subs = {"a": sub_a.id, "b": sub_b.id}
    return {"http": praho_app.test_client(), "db": praho_committing,
            "keys": {"a": key_a, "b": key_b}, "subs": subs}


def _post(setup, who, event_id, gb):
    event = {"id": event_id, "meter": "storage_gb", "subscription": setup["subs"][who],
             "timestamp": utcnow().isoformat(), "properties": {"gb": gb}}
    return setup["http"].post(
        "/api/usage/events",
        data=json.dumps({"events": [event]}),
        headers={"Authorization": f"Bearer {setup['keys'][who]}"},
        content_type="application/json",
    )


def _stored(setup):
    with setup["db"].transaction() as session:
        return sorted(session.execute(
            select(UsageEvent.subscription_id, UsageEvent.event_id, UsageEvent.quantity_micro)
        ).all())


def test_another_customers_equal_event_id_is_stored_and_billed(two_customers):
    setup = two_customers
    first = _post(setup, "a", "usage-1", "5")
    assert (first.status_code, first.json["accepted"]) == (200, 1)
    second = _post(setup, "b", "usage-1", "70")
    # B's event is its own: stored, and nothing says A used the id.
    assert second.status_code == 200
    assert (second.json["accepted"], second.json["duplicates"]) == (1, 0)
    assert _stored(setup) == [
        (setup["subs"]["a"], "usage-1", 5_000_000),
        (setup["subs"]["b"], "usage-1", 70_000_000),
    ]


def test_a_senders_own_replay_stays_a_duplicate_even_with_other_values(two_customers):
    setup = two_customers
    _post(setup, "b", "usage-1", "70")
    replay = _post(setup, "b", "usage-1", "70")
    changed = _post(setup, "b", "usage-1", "99")
    for answer in (replay, changed):
        assert (answer.status_code, answer.json["accepted"], answer.json["duplicates"]) == (
            200, 0, 1)
    # The first event stands: a replay with other content is acknowledged, not counted.
    assert _stored(setup) == [(setup["subs"]["b"], "usage-1", 70_000_000)]


def test_trusted_caller_reporting_for_many_customers_keeps_their_ids_apart(
    praho_session, praho_factory, metered
):
    other = praho_factory.subscription(metered.price, praho_factory.customer())
    same_customer = praho_factory.subscription(metered.price, metered.customer)
    event = metered.event("shared", "2")
    batch = [
        event,
        {**event, "subscription": other.id, "properties": {"gb": "3"}},
        # The same customer's own id again (another of its subscriptions): a duplicate,
        # as before.
        {**event, "subscription": same_customer.id},
    ]
    result = record_usage_events(praho_session, batch, customer_id=None, now=DURING)
    assert (result.accepted, result.duplicates, result.rejected) == (2, [2], [])
    again = record_usage_events(praho_session, batch[:2], now=DURING)
    assert (again.accepted, again.duplicates) == (0, [0, 1])
    stored = praho_session.execute(
        select(UsageEvent.customer_id, UsageEvent.quantity_micro).where(
            UsageEvent.event_id == "shared")
    ).all()
    assert sorted(stored) == sorted([(metered.customer.id, 2_000_000),
                                     (other.customer_id, 3_000_000)])


def test_equal_ids_of_two_customers_are_two_stripe_meter_events(
    praho_session, praho_factory, stripe_standin, client
):
    now = utcnow()
    metered = build_metered(praho_session, praho_factory, now=now - timedelta(hours=1))
    metered.storage.stripe_event_name = "storage_gb"
    metered.customer.attributes = {"stripe_customer_id": "cus_a"}
    customer_b = praho_factory.customer()
    customer_b.attributes = {"stripe_customer_id": "cus_b"}
    subs = [praho_factory.subscription(metered.price, customer, start=now.date())
            for customer in (metered.customer, customer_b)]
    record_usage_events(praho_session, [
        {"id": "usage-1", "meter": "storage_gb", "subscription": sub.id,
         "timestamp": (now - timedelta(minutes=5)).isoformat(), "properties": {"gb": gb}}
        for sub, gb in zip(subs, ["5", "70"], strict=True)
    ], now=now - timedelta(minutes=5))
    summary = report_due(praho_session, client, now=now)["storage_gb"]
    assert (summary.sent, summary.failed, summary.refused) == (2, [], [])
    values = {event["payload"]["stripe_customer_id"]: event["payload"]["value"]
              for event in stripe_standin.events.values()}
    assert values == {"cus_a": "5", "cus_b": "70"}


def test_long_identifiers_are_digested_not_cut():
    long_id = "e" * 100
    first = meter_event_identifier("m" * 60, 7, long_id)
    second = meter_event_identifier("m" * 60, 7, long_id[:-1] + "f")
    assert len(first) <= 100 and len(second) <= 100 and first != second
    assert meter_event_identifier("storage_gb", 7, "usage-1") == "storage_gb:7:usage-1"


# ---------------------------------------------------------------------------
# Stripe: a refusal for good is recorded and passed; transient failures wait
# ---------------------------------------------------------------------------


def _stripe_metered(praho_session, praho_factory, now):
    metered = build_metered(praho_session, praho_factory, now=now - timedelta(hours=1))
    metered.storage.stripe_event_name = "storage_gb"
    metered.customer.attributes = {"stripe_customer_id": "cus_9"}
    subscription = praho_factory.subscription(
        metered.price, metered.customer, start=(now - timedelta(days=40)).date())
    return metered, subscription


def _cursor(session):
    return session.execute(select(UsageStripeCursor)).scalar_one().reported_through


def test_an_event_stripe_refuses_for_good_is_recorded_and_does_not_hold_the_cursor(
    praho_session, praho_factory, stripe_standin, client
):
    now = utcnow()
    metered, subscription = _stripe_metered(praho_session, praho_factory, now)
    ingested = now - timedelta(minutes=10)
    # Inside our 35-day window when ingested (34 days 23 h 55 min old), outside Stripe's
    # by the time it is reported.
    result = record_usage_events(praho_session, [
        {"id": "old", "meter": "storage_gb", "subscription": subscription.id,
         "timestamp": (now - timedelta(days=35, minutes=5)).isoformat(),
         "properties": {"gb": "1"}},
        {"id": "fresh", "meter": "storage_gb", "subscription": subscription.id,
         "timestamp": ingested.isoformat(), "properties": {"gb": "3"}},
    ], now=ingested)
    assert result.accepted == 2
    runs = [report_due(praho_session, client, now=now + timedelta(minutes=15 * i))["storage_gb"]
            for i in range(4)]
    cursors = []
    for i in range(4):
        cursors.append(_cursor(praho_session))
        report_due(praho_session, client, now=now + timedelta(minutes=60 + 15 * i))
    assert len(runs[0].refused) == 1 and "35 days" in runs[0].refused[0]
    assert all(run.failed == [] for run in runs)
    assert cursors == sorted(set(cursors)), "the cursor moves on every run"
    old_id = meter_event_identifier("storage_gb", metered.customer.id, "old")
    fresh_id = meter_event_identifier("storage_gb", metered.customer.id, "fresh")
    posts = [request["identifier"] for request in stripe_standin.requests]
    # The refused event is sent once, never again (not even in the runs' overlap); the
    # fresh one at most twice (the 10-minute overlap), then never.
    assert posts.count(old_id) == 1
    assert 1 <= posts.count(fresh_id) <= 2
    assert sorted(stripe_standin.events) == [fresh_id]
    refusal = praho_session.execute(select(UsageStripeRefusal)).scalar_one()
    assert (refusal.event_id, refusal.customer_id, refusal.identifier, refusal.http_status,
            refusal.error_code) == ("old", metered.customer.id, old_id, 400,
                                    "invalid_request_error")
    assert refusal.refused_at == now


@pytest.mark.parametrize("status", [500, 503, 429, 409])
def test_a_transient_failure_keeps_the_cursor_and_records_nothing(
    praho_session, praho_factory, stripe_standin, client, status
):
    now = utcnow()
    metered, subscription = _stripe_metered(praho_session, praho_factory, now)
    record_usage_events(praho_session, [metered.event(
        "a", "1", when=now - timedelta(minutes=30)) | {"subscription": subscription.id}],
        now=now - timedelta(minutes=30))
    stripe_standin.fail_next = [status]
    first = report_due(praho_session, client, now=now)["storage_gb"]
    assert (first.sent, len(first.failed), first.refused) == (0, 1, [])
    held = _cursor(praho_session)
    assert held < now - timedelta(minutes=30)
    second = report_due(praho_session, client, now=now + timedelta(minutes=15))["storage_gb"]
    assert (second.sent, second.failed) == (1, [])
    assert _cursor(praho_session) > held
    assert praho_session.execute(select(UsageStripeRefusal)).all() == []


def test_no_answer_or_a_wrong_key_keeps_the_cursor(
    praho_session, praho_factory, stripe_standin
):
    now = utcnow()
    metered, subscription = _stripe_metered(praho_session, praho_factory, now)
    record_usage_events(praho_session, [metered.event(
        "a", "1", when=now - timedelta(minutes=30)) | {"subscription": subscription.id}],
        now=now - timedelta(minutes=30))
    wrong_key = StripeMeterEventClient("sk_test_wrong", base_url=stripe_standin.url, timeout=5)
    nobody = StripeMeterEventClient(stripe_standin.api_key, base_url="http://127.0.0.1:9",
                                    timeout=2)
    for broken in (wrong_key, nobody):
        summary = report_due(praho_session, broken, now=now)["storage_gb"]
        assert (summary.sent, len(summary.failed), summary.refused) == (0, 1, [])
    assert _cursor(praho_session) < now - timedelta(minutes=30)
    assert praho_session.execute(select(UsageStripeRefusal)).all() == []


def test_refusals_are_listed_for_staff(praho_app, praho_committing, stripe_standin, client):
    now = utcnow()
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        metered, subscription = _stripe_metered(session, factory, now)
        record_usage_events(session, [
            {"id": "too-late-for-stripe", "meter": "storage_gb",
             "subscription": subscription.id,
             "timestamp": (now - timedelta(days=35, minutes=5)).isoformat(),
             "properties": {"gb": "1"}},
        ], now=now - timedelta(minutes=10))
        report_due(session, client, now=now)
    output = praho_app.test_cli_runner().invoke(args=["usage", "stripe-refusals"]).output
    assert "storage_gb" in output and "too-late-for-stripe" in output and "HTTP 400" in output
