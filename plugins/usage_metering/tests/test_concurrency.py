"""Duplicate ingestion under real concurrency (PostgreSQL): every event stored once."""

from __future__ import annotations

import threading

import pytest
from praho.core.clock import utcnow
from praho.core.testing import PrahoFactory
from praho.plugins.usage_metering import record_usage_events
from praho.plugins.usage_metering.models import UsageEvent
from praho.plugins.usage_metering.tests.conftest import build_metered
from sqlalchemy import func, select

THREADS = 6
EVENTS = 600


@pytest.mark.postgres
def test_concurrent_overlapping_batches_store_each_event_once(praho_app, praho_committing):
    now = utcnow()
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        metered = build_metered(session, factory, now=now)
        subscription = factory.subscription(metered.price, metered.customer, start=now.date())
        sub_id = subscription.id
    events = [
        {
            "id": f"dup-{i}",
            "meter": "storage_gb",
            "subscription": sub_id,
            "timestamp": now.isoformat(),
            "properties": {"gb": "1"},
        }
        for i in range(EVENTS)
    ]
    barrier = threading.Barrier(THREADS)
    results, errors = [], []

    def send(position: int) -> None:
        # Overlapping, differently ordered halves: the worst case for lock ordering.
        batch = events[position * 50 :] + events[: position * 50]
        if position % 2:
            batch.reverse()
        try:
            with praho_app.app_context():
                barrier.wait()
                with praho_committing.transaction() as session:
                    results.append(record_usage_events(session, batch, now=now))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(r.accepted for r in results) == EVENTS
    assert sum(len(r.duplicates) for r in results) == EVENTS * (THREADS - 1)
    with praho_committing.transaction() as session:
        stored = session.execute(
            select(func.count(), func.sum(UsageEvent.quantity_micro)).select_from(UsageEvent)
        ).one()
    assert tuple(stored) == (EVENTS, EVENTS * 1_000_000)
