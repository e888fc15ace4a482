"""Writing validated usage events fast, each (meter, customer, event id) at most once.

PostgreSQL: the batch is COPied into a session-local temporary table, then moved with
one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` that answers the duplicates; the
primary key (meter, customer, event id) decides which events are new, so two senders of
the same batch at the same moment store it once (the second waits for the first's
commit, then skips). Rows are inserted in key order so two overlapping batches always
lock keys in the same order (no deadlock).
SQLite (the embedded default, one writer at a time): executemany with the same
ON CONFLICT clause after reading which keys exist.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from praho.core.db import is_postgres
from praho.plugins.usage_metering.models import UsageEvent
from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

COLUMNS = (
    "meter_id",
    "event_id",
    "subscription_id",
    "customer_id",
    "occurred_at",
    "quantity_micro",
    "unique_key",
    "properties",
    "ingested_at",
)
STAGE = "usage_events_stage"
_STAGE_DDL = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (meter_id bigint, "
    'event_id varchar(100) COLLATE "C", '
    "subscription_id bigint, customer_id bigint, occurred_at timestamptz, "
    "quantity_micro bigint, unique_key varchar(200), properties json, "
    "ingested_at timestamptz) ON COMMIT DELETE ROWS"
)
# Moves the staged rows and answers only the duplicates (usually none), so a clean
# batch sends nothing back.
_MOVE = (
    f"WITH stored AS (INSERT INTO usage_events ({', '.join(COLUMNS)}) "  # noqa: S608
    f"SELECT {', '.join(COLUMNS)} FROM {STAGE} ORDER BY meter_id, customer_id, event_id "
    "ON CONFLICT (meter_id, customer_id, event_id) DO NOTHING "
    "RETURNING meter_id, customer_id, event_id) "
    f"SELECT s.meter_id, s.customer_id, s.event_id FROM {STAGE} s WHERE NOT EXISTS "
    "(SELECT 1 FROM stored WHERE stored.meter_id = s.meter_id "
    "AND stored.customer_id = s.customer_id AND stored.event_id = s.event_id)"
)


# An event's key: (meter_id, customer_id, event_id), the primary key of usage_events.
EventKey = tuple[int, int, str]


def event_key(row: Sequence[Any]) -> EventKey:
    """The idempotency key of a row in COLUMNS order."""
    return (row[0], row[3], row[1])


def store_events(session: Session, rows: Sequence[tuple[Any, ...]]) -> set[EventKey]:
    """Insert rows (in COLUMNS order, unique keys within the batch); returns the new keys."""
    if not rows:
        return set()
    if is_postgres(session):
        return _store_postgres(session, rows)
    return _store_sqlite(session, rows)


def _store_postgres(session: Session, rows: Sequence[tuple[Any, ...]]) -> set[EventKey]:
    connection = session.connection()
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_STAGE_DDL)
        with cursor.copy(f"COPY {STAGE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(_MOVE)
        duplicates = {
            (meter_id, customer_id, event_id)
            for meter_id, customer_id, event_id in cursor.fetchall()
        }
        # Empty now: ON COMMIT DELETE ROWS only empties it at the end of the transaction,
        # and the next batch of the same transaction stages into it again.
        cursor.execute(f"TRUNCATE {STAGE}")
    finally:
        cursor.close()
    return {event_key(row) for row in rows} - duplicates


def _store_sqlite(session: Session, rows: Sequence[tuple[Any, ...]]) -> set[EventKey]:
    by_scope: dict[tuple[int, int], list[str]] = defaultdict(list)
    for row in rows:
        by_scope[(row[0], row[3])].append(row[1])
    existing: set[EventKey] = set()
    for (meter_id, customer_id), event_ids in by_scope.items():
        for start in range(0, len(event_ids), 500):
            chunk = event_ids[start : start + 500]
            existing.update(
                (meter_id, customer_id, found)
                for found in session.execute(
                    select(UsageEvent.event_id).where(
                        UsageEvent.meter_id == meter_id,
                        UsageEvent.customer_id == customer_id,
                        UsageEvent.event_id.in_(chunk),
                    )
                ).scalars()
            )
    fresh = [row for row in rows if event_key(row) not in existing]
    if fresh:
        new = [dict(zip(COLUMNS, row, strict=True)) for row in fresh]
        for values in new:
            values["properties"] = json.loads(values["properties"])
        session.execute(sqlite_insert(UsageEvent).on_conflict_do_nothing(), new)
    return {event_key(row) for row in fresh}


def copy_rows_raw(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """COPY rows straight into usage_events, no staging, no de-duplication.

    Only for the benchmark's "physical limit" figure: it fails on a duplicate key.
    """
    connection = session.connection()
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY usage_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()
