"""Deliveries recorded at the same moment share one insert (PostgreSQL), each answered
only after its own row is committed; duplicates and failures are what they were alone."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from praho.core.models import WebhookEvent
from praho.core.webhooks.group_insert import Delivery, GroupInserter
from sqlalchemy import func, select, text

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


@pytest.fixture
def database(praho_app):
    db = praho_app.extensions["praho.db"]
    if db.dialect != "postgresql":
        pytest.skip("needs PostgreSQL: set PRAHO_TEST_DATABASE_URL")
    yield db
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM webhook_events WHERE source = 'grouped'"))


class SlowFirstInsert:
    """Wraps the database so its first insert takes a while (the others queue meanwhile),
    and counts the statements; ``fail_next`` makes the next insert raise."""

    def __init__(self, database):
        self.database = database
        self.statements = 0
        self.fail_next = False
        self.groups: list[int] = []

    def single_statement_rows(self, statement, params):
        self.statements += 1
        self.groups.append(len(params["event_ids"]))
        if self.statements == 1:
            time.sleep(0.3)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the database said no")
        return self.database.single_statement_rows(statement, params)


def _delivery(event_id, payload=None):
    return Delivery("grouped", event_id, "note", payload or {"id": event_id}, "ignored",
                    NOW, NOW)


def _record_all(inserter, deliveries):
    results: dict[int, object] = {}
    start = threading.Barrier(len(deliveries))

    def one(position, delivery):
        start.wait()
        if position:  # the first becomes the leader; the others arrive while it inserts
            time.sleep(0.05)
        try:
            results[position] = inserter.record(delivery)
        except Exception as error:  # noqa: BLE001 - what the request would raise
            results[position] = error

    threads = [threading.Thread(target=one, args=(n, d)) for n, d in enumerate(deliveries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return [results[n] for n in range(len(deliveries))]


def test_concurrent_deliveries_share_inserts_and_duplicates_stay_duplicates(database):
    counted = SlowFirstInsert(database)
    inserter = GroupInserter(counted)
    deliveries = [_delivery(f"ev_{n % 20}") for n in range(40)]  # each event twice
    results = _record_all(inserter, deliveries)
    ids = [r for r in results if r is not None]
    assert all(isinstance(r, int) for r in ids) and len(ids) == len(set(ids)) == 20
    assert counted.statements <= 3 and max(counted.groups) > 1
    with database.engine.connect() as connection:
        rows = connection.execute(
            select(WebhookEvent.event_id, WebhookEvent.id, WebhookEvent.payload)
            .where(WebhookEvent.source == "grouped")
        ).all()
    assert len(rows) == 20 and {row.id for row in rows} == set(ids)
    assert all(row.payload == {"id": row.event_id} for row in rows)
    # Delivered again later, alone: a duplicate.
    assert inserter.record(_delivery("ev_3")) is None


def test_ids_follow_the_order_of_the_group(database):
    inserter = GroupInserter(database)
    group = [_delivery(f"ord_{n}") for n in (5, 1, 9, 3, 7)] + [_delivery("ord_1")]
    inserter._insert(group, group[0])
    ids = [d.row_id for d in group]
    assert ids[:5] == sorted(ids[:5]) and ids[5] is None  # the repeat is the duplicate
    assert all(d.finished and d.error is None for d in group)


def test_a_failed_insert_fails_its_whole_group_and_the_next_one_works(database):
    counted = SlowFirstInsert(database)
    counted.fail_next = True
    inserter = GroupInserter(counted)
    results = _record_all(inserter, [_delivery(f"bad_{n}") for n in range(6)])
    assert any(isinstance(r, RuntimeError) for r in results)
    failed = [r for r in results if isinstance(r, RuntimeError)]
    assert all(str(r) == "the database said no" for r in failed)
    # Nothing of the failed group was written; the lead was handed on, so this works.
    assert inserter.record(_delivery("after")) is not None
    with database.engine.connect() as connection:
        recorded = connection.scalar(
            select(func.count()).select_from(WebhookEvent)
            .where(WebhookEvent.source == "grouped", WebhookEvent.event_id.like("bad_%"))
        )
    assert recorded == len(results) - len(failed)
