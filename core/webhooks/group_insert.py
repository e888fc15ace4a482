"""Recording concurrent deliveries together: one insert and one commit for all that wait.

The endpoint's threads (gunicorn's gthread workers) each record one delivery. On
PostgreSQL a delivery that arrives while another thread of the same process is inserting
waits for it, and the next insert takes every delivery waiting by then: one thread, the
leader, runs the statement for the group while the others sleep until their rows are
committed. No delivery waits for company: with nothing else in flight it is inserted at
once, alone. Each delivery is still answered only after its own row is committed, so
what the gateway hears stays true; one round trip and one commit (one WAL flush) serve
the whole group instead of one each.

The group is one ``INSERT ... SELECT FROM unnest(...) ORDER BY position ON CONFLICT
DO NOTHING RETURNING``: ids follow arrival order, a row another transaction holds is a
duplicate as before, and of two deliveries of one event in the same group the first is
recorded and the second is the duplicate.
"""

from __future__ import annotations

import json
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from praho.core.db import Database
from sqlalchemy import text

_INSERT_GROUP = text(
    "INSERT INTO webhook_events (source, event_id, event_type, payload, status, attempts, "
    "received_at, processed_at) "
    "SELECT v.source, v.event_id, v.event_type, CAST(v.payload AS jsonb), v.status, 0, "
    "v.received_at, v.processed_at FROM unnest(CAST(:sources AS text[]), "
    "CAST(:event_ids AS text[]), CAST(:event_types AS text[]), CAST(:payloads AS text[]), "
    "CAST(:statuses AS text[]), CAST(:received AS timestamptz[]), "
    "CAST(:processed AS timestamptz[])) WITH ORDINALITY "
    "AS v(source, event_id, event_type, payload, status, received_at, processed_at, position) "
    "ORDER BY v.position "
    "ON CONFLICT (source, event_id) DO NOTHING RETURNING id, source, event_id"
)
# A bound on one statement's size; more waiting deliveries go in the next group.
MAX_GROUP = 64


@dataclass
class Delivery:
    """One delivery's row, and what recording it came to (set by the group's leader)."""

    source: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    status: str
    received_at: datetime
    processed_at: datetime | None
    row_id: int | None = None
    error: BaseException | None = None
    finished: bool = False
    lead: bool = False
    wake: threading.Event = field(default_factory=threading.Event)


class GroupInserter:
    """The per-process queue of deliveries waiting to be inserted, and who leads it."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._lock = threading.Lock()
        self._waiting: list[Delivery] = []
        self._leading = False

    def record(self, delivery: Delivery) -> int | None:
        """Insert ``delivery`` (with whatever else waits); its new id, or None for a
        duplicate. Raises what the insert raised."""
        with self._lock:
            self._waiting.append(delivery)
            if not self._leading:
                self._leading = delivery.lead = True
        if not delivery.lead:
            delivery.wake.wait()  # recorded by a leader, or asked to lead
        if not delivery.finished:
            self._lead(delivery)
        if delivery.error is not None:
            raise delivery.error
        return delivery.row_id

    def _lead(self, mine: Delivery) -> None:
        """Insert groups until ``mine`` is recorded, then hand the lead to a waiter."""
        while not mine.finished:
            with self._lock:
                group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
            self._insert(group, mine)
        with self._lock:
            if self._waiting:
                successor = self._waiting[0]
                successor.lead = True
                successor.wake.set()  # it leads the next group
            else:
                self._leading = False

    def _insert(self, group: list[Delivery], leader: Delivery) -> None:
        error: BaseException | None = None
        inserted: dict[tuple[str, str], int] = {}
        try:
            rows = self._database.single_statement_rows(_INSERT_GROUP, {
                "sources": [d.source for d in group],
                "event_ids": [d.event_id for d in group],
                "event_types": [d.event_type for d in group],
                "payloads": [json.dumps(d.payload) for d in group],
                "statuses": [d.status for d in group],
                "received": [d.received_at for d in group],
                "processed": [d.processed_at for d in group],
            })
            inserted = {(source, event_id): row_id for row_id, source, event_id in rows}
        except BaseException as failure:  # noqa: BLE001 - each request of the group raises it
            error = failure
        for delivery in group:
            # The first delivery of a key takes its id; a second in the group is a duplicate.
            delivery.row_id = inserted.pop((delivery.source, delivery.event_id), None)
            delivery.error = error
            delivery.finished = True
            if delivery is not leader:
                delivery.wake.set()


_inserters: weakref.WeakKeyDictionary[Database, GroupInserter] = weakref.WeakKeyDictionary()
_inserters_lock = threading.Lock()


def inserter_for(database: Database) -> GroupInserter:
    """The process's :class:`GroupInserter` for ``database``."""
    with _inserters_lock:
        found = _inserters.get(database)
        if found is None:
            found = _inserters[database] = GroupInserter(database)
        return found
