"""Reporting usage to Stripe meter events, against a local stand-in of the real endpoint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from praho.core.clock import utcnow
from praho.plugins.usage_metering import record_usage_events
from praho.plugins.usage_metering.stripe_meters import (
    MeterEventReport,
    MeterReportFailed,
    StripeMeterEventClient,
    report_meter_events,
)
from praho.plugins.usage_metering.tests.conftest import build_metered


def test_events_are_reported_once_even_when_the_run_repeats(
    praho_session, praho_factory, stripe_standin, client
):
    now = utcnow()
    metered = build_metered(praho_session, praho_factory, now=now)
    metered.storage.stripe_event_name = "storage_gb"
    metered.customer.attributes = {"stripe_customer_id": "cus_123"}
    subscription = praho_factory.subscription(metered.price, metered.customer, start=now.date())
    events = [
        {
            "id": f"e{i}",
            "meter": "storage_gb",
            "subscription": subscription.id,
            "timestamp": (now - timedelta(minutes=i)).isoformat(),
            "properties": {"gb": value},
        }
        for i, value in enumerate(["1.5", "2", "0.25"])
    ]
    record_usage_events(praho_session, events, now=now)
    window = dict(ingested_from=now - timedelta(hours=1), ingested_to=now + timedelta(seconds=1))
    first = report_meter_events(praho_session, client, meter=metered.storage, **window)
    again = report_meter_events(praho_session, client, meter=metered.storage, **window)
    assert (first.sent, again.sent, first.failed) == (3, 3, [])
    # Identifiers are our event's key: meter, customer, event id.
    prefix = f"storage_gb:{metered.customer.id}:"
    assert sorted(stripe_standin.events) == [f"{prefix}e0", f"{prefix}e1", f"{prefix}e2"]
    assert stripe_standin.events[f"{prefix}e0"]["payload"] == {
        "stripe_customer_id": "cus_123",
        "value": "1.5",
    }
    assert stripe_standin.events[f"{prefix}e2"]["payload"]["value"] == "0.25"


def test_customer_without_stripe_id_is_skipped(
    praho_session, praho_factory, client, stripe_standin
):
    now = utcnow()
    metered = build_metered(praho_session, praho_factory, now=now)
    metered.storage.stripe_event_name = "storage_gb"
    subscription = praho_factory.subscription(metered.price, metered.customer, start=now.date())
    record_usage_events(
        praho_session,
        [
            {
                "id": "a",
                "meter": "storage_gb",
                "subscription": subscription.id,
                "timestamp": now.isoformat(),
                "properties": {"gb": 1},
            }
        ],
        now=now,
    )
    summary = report_meter_events(
        praho_session,
        client,
        meter=metered.storage,
        ingested_from=now - timedelta(hours=1),
        ingested_to=now + timedelta(seconds=1),
    )
    assert (summary.sent, summary.skipped_no_customer) == (0, 1)
    assert stripe_standin.requests == []


def test_stripe_errors_are_typed_and_carry_the_reason(client, stripe_standin):
    now = int(utcnow().timestamp())
    report = MeterEventReport("storage_gb", "id-1", now - 40 * 86400, "cus_1", "1")
    with pytest.raises(MeterReportFailed, match="35"):
        client.send(report)
    stripe_standin.fail_next = [500]
    with pytest.raises(MeterReportFailed):
        client.send(MeterEventReport("storage_gb", "id-2", now, "cus_1", "1"))
    bad_key = StripeMeterEventClient("sk_test_wrong", base_url=stripe_standin.url, timeout=5)
    with pytest.raises(MeterReportFailed) as caught:
        bad_key.send(MeterEventReport("storage_gb", "id-3", now, "cus_1", "1"))
    assert "sk_test_wrong" not in caught.value.message
    assert stripe_standin.events == {}


def test_same_identifier_with_other_values_is_an_idempotency_error(client, stripe_standin):
    now = int(utcnow().timestamp())
    client.send(MeterEventReport("storage_gb", "id-9", now, "cus_1", "1"))
    with pytest.raises(MeterReportFailed, match="Idempotency"):
        client.send(MeterEventReport("storage_gb", "id-9", now, "cus_1", "2"))
    assert stripe_standin.events["id-9"]["payload"]["value"] == "1"


def test_scheduled_report_moves_its_cursor_and_retries_failures(
    praho_app, praho_session, praho_factory, stripe_standin, client
):
    from praho.plugins.usage_metering.stripe_meters import report_due

    now = utcnow()
    metered = build_metered(praho_session, praho_factory, now=now - timedelta(hours=1))
    metered.storage.stripe_event_name = "storage_gb"
    metered.customer.attributes = {"stripe_customer_id": "cus_9"}
    subscription = praho_factory.subscription(metered.price, metered.customer, start=now.date())

    def ingest(event_id, at):
        record_usage_events(
            praho_session,
            [
                {
                    "id": event_id,
                    "meter": "storage_gb",
                    "subscription": subscription.id,
                    "timestamp": at.isoformat(),
                    "properties": {"gb": "1"},
                }
            ],
            now=at,
        )

    prefix = f"storage_gb:{metered.customer.id}:"
    ingest("a", now - timedelta(minutes=40))
    stripe_standin.fail_next = [500]
    first = report_due(praho_session, client, now=now - timedelta(minutes=30))
    assert (first["storage_gb"].sent, len(first["storage_gb"].failed)) == (0, 1)
    second = report_due(praho_session, client, now=now - timedelta(minutes=20))
    assert second["storage_gb"].sent == 1
    ingest("b", now - timedelta(minutes=5))
    report_due(praho_session, client, now=now)
    assert sorted(stripe_standin.events) == [f"{prefix}a", f"{prefix}b"]
    # The next run overlaps the last ten minutes (late commits): b goes again, and Stripe
    # still counts it once; after that the cursor is past everything.
    again = report_due(praho_session, client, now=now + timedelta(hours=2))
    assert again["storage_gb"].sent == 1
    assert sorted(stripe_standin.events) == [f"{prefix}a", f"{prefix}b"]
    requests_before = len(stripe_standin.requests)
    later = report_due(praho_session, client, now=now + timedelta(hours=4))
    assert later["storage_gb"].sent == 0
    assert len(stripe_standin.requests) == requests_before


def test_report_task_is_scheduled_only_with_a_key(praho_app, stripe_standin):
    from praho.core.tasks import build_beat_schedule
    from praho.plugins.usage_metering.settings import EXTENSION_KEY, UsageSettings
    from praho.plugins.usage_metering.tasks import report_stripe_meter_events

    assert "usage-stripe-report" not in build_beat_schedule(praho_app)
    assert "skipped" in report_stripe_meter_events.delay().get()
    previous = praho_app.extensions[EXTENSION_KEY]
    praho_app.extensions[EXTENSION_KEY] = UsageSettings(
        stripe_api_key=stripe_standin.api_key, stripe_api_url=stripe_standin.url
    )
    try:
        assert "usage-stripe-report" in build_beat_schedule(praho_app)
        assert report_stripe_meter_events.delay().get() == {}
    finally:
        praho_app.extensions[EXTENSION_KEY] = previous
