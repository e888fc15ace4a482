"""Apply recorded webhook events in batches: one transaction and one audit seal per batch.

The endpoint only records a delivery (status ``received``) and answers; the workers apply
what was recorded (:mod:`praho.core.webhooks.tasks`). A batch takes up to ``limit`` events
in arrival order, locked with ``SKIP LOCKED`` so any number of workers share the backlog
without applying an event twice, and runs each through its source's handler.

All handlers of a batch first run inside one savepoint; consecutive events that their
source's ``batch_handlers()`` can apply together go to that batch handler as one run. If
one raises (or writing what they did fails when the savepoint is released), that
savepoint is rolled back and the batch runs again with a savepoint per event and the
single handlers, so the failing event is
scheduled for retry (5 min, 15 min, 1 h, 2 h, 6 h) and the others are applied; a handler
therefore may run twice in one batch, which handlers allow (they describe a state and
call gateways idempotently, as for any retry). Audit events are inserted at commit, all
together (:func:`~praho.core.services.audit.audit_written_at_commit`), and the events'
new statuses are written in one statement.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from praho.core.clock import resolve_now
from praho.core.db import Database
from praho.core.models.webhooks import WebhookEvent, WebhookStatus
from praho.core.services.audit import audit_written_at_commit
from praho.core.services.bulk_sql import update_rows
from praho.core.webhooks.pipeline import event_of, retry_outcome
from praho.core.webhooks.source import WebhookBatchHandler, WebhookSource, batch_handlers_of
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

DEFAULT_BATCH_SIZE = 500


@dataclass
class _Pending:
    """An event of the batch as handlers need it, and what applying it came to."""

    id: int
    source: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    attempts: int
    status: WebhookStatus = WebhookStatus.RECEIVED
    last_error: str | None = None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class AppliedBatch:
    """What one batch did: events taken, and how many were processed, ignored or failed."""

    taken: int
    processed: int = 0
    ignored: int = 0
    failed: int = 0
    event_ids: list[int] = field(default_factory=list)


def apply_received(
    session: Session,
    sources: Mapping[str, WebhookSource],
    *,
    now: datetime | None = None,
    limit: int = DEFAULT_BATCH_SIZE,
) -> AppliedBatch:
    """Apply up to ``limit`` recorded events, oldest first; the caller commits.

    Events another worker has locked are skipped; an empty batch means nothing is waiting
    that this worker could take.
    """
    if limit < 1:
        raise ValueError(f"batch size must be positive, got {limit}")
    moment = resolve_now(now)
    rows = session.execute(waiting_events(limit)).all()
    batch = [_Pending(row.id, row.source, row.event_id, row.event_type, row.payload or {},
                      row.attempts) for row in rows]
    if not batch:
        return AppliedBatch(taken=0)
    with audit_written_at_commit(session):
        try:
            with session.begin_nested():
                _apply_shared(session, sources, batch, moment)
        except Exception:  # noqa: BLE001 - a handler raised, or releasing its writes failed
            for pending in batch:
                _reset(pending)
                _apply(session, sources, pending, moment, isolated=True)
    _store(session, batch, moment)
    counts = {status: sum(1 for p in batch if p.status == status) for status in WebhookStatus}
    return AppliedBatch(
        taken=len(batch),
        processed=counts[WebhookStatus.PROCESSED],
        ignored=counts[WebhookStatus.IGNORED],
        failed=counts[WebhookStatus.RETRYING] + counts[WebhookStatus.FAILED],
        event_ids=[p.id for p in batch],
    )


def waiting_events(limit: int) -> Select[Any]:
    """The oldest ``limit`` events waiting to be applied that no other worker holds, locked.

    ``ix_webhook_events_received`` (partial, by id) serves it: a batch reads only the events
    it takes, whatever came before them.
    """
    table = WebhookEvent.__table__
    return (
        select(table.c.id, table.c.source, table.c.event_id, table.c.event_type,
               table.c.payload, table.c.attempts)
        .where(table.c.status == str(WebhookStatus.RECEIVED))
        .order_by(table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def apply_waiting(
    database: Database,
    sources: Mapping[str, WebhookSource],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    budget_seconds: float = 20.0,
) -> tuple[int, bool]:
    """Apply batches, each in its own transaction, until fewer than a full batch waited.

    Returns (events taken, True when it stopped at the time budget with more waiting).
    What the Celery task ``praho.webhooks.apply_received`` runs; safe on any number of
    workers at once and when delivered twice.
    """
    deadline = time.monotonic() + budget_seconds
    taken = 0
    while True:
        with database.transaction() as session:
            batch = apply_received(session, sources, limit=batch_size)
        taken += batch.taken
        if batch.taken < batch_size:
            return taken, False
        if time.monotonic() >= deadline:
            return taken, True


def _apply_shared(
    session: Session, sources: Mapping[str, WebhookSource], batch: list[_Pending], now: datetime
) -> None:
    """The shared pass: runs of consecutive events with one batch handler go together.

    A run is cut by any event its batch handler does not take (another source, a type
    with another or no batch handler), so events are still applied in arrival order; a
    run of one goes to the single handler.
    """
    tables = {source_id: batch_handlers_of(source) for source_id, source in sources.items()}

    def batch_handler(pending: _Pending) -> WebhookBatchHandler | None:
        return tables.get(pending.source, {}).get(pending.event_type)

    start = 0
    while start < len(batch):
        handler = batch_handler(batch[start])
        end = start + 1
        while (handler is not None and end < len(batch)
               and batch[end].source == batch[start].source
               and batch_handler(batch[end]) is handler):
            end += 1
        if handler is not None and end - start > 1:
            run = batch[start:end]
            handler(session, [event_of(pending) for pending in run], now)
            for pending in run:
                pending.status = WebhookStatus.PROCESSED
        else:
            _apply(session, sources, batch[start], now, isolated=False)
        start = end


def _reset(pending: _Pending) -> None:
    pending.status = WebhookStatus.RECEIVED
    pending.last_error = None
    pending.next_attempt_at = None


def _apply(
    session: Session,
    sources: Mapping[str, WebhookSource],
    pending: _Pending,
    now: datetime,
    *,
    isolated: bool,
) -> None:
    """Run one event's handler; in the shared savepoint a failure aborts the whole pass."""
    source = sources.get(pending.source)
    handler = source.handlers().get(pending.event_type) if source is not None else None
    if source is not None and handler is None:
        pending.status = WebhookStatus.IGNORED
        return
    try:
        if source is None:
            raise LookupError(f"webhook source {pending.source!r} is not loaded")
        if isolated:
            with session.begin_nested():
                handler(session, event_of(pending), now)  # type: ignore[misc]
        else:
            handler(session, event_of(pending), now)  # type: ignore[misc]
    except Exception as exc:  # noqa: BLE001 - any handler failure is retried, never lost
        if not isolated:
            raise  # the whole shared pass is rolled back and run again, one savepoint each
        pending.status, pending.next_attempt_at, pending.last_error = retry_outcome(
            pending, pending.attempts + 1, exc, now
        )
        return
    pending.status = WebhookStatus.PROCESSED


def _store(session: Session, batch: list[_Pending], now: datetime) -> None:
    """Write every event's outcome in one statement (``UPDATE ... FROM unnest`` on
    PostgreSQL)."""
    update_rows(
        session,
        WebhookEvent.__table__,
        [
            {
                "id": pending.id,
                "status": str(pending.status),
                # An ignored event ran no handler: no attempt is counted.
                "attempts": pending.attempts
                + (0 if pending.status == WebhookStatus.IGNORED else 1),
                "processed_at": now
                if pending.status in (WebhookStatus.PROCESSED, WebhookStatus.IGNORED)
                else None,
                "last_error": pending.last_error,
                "next_attempt_at": pending.next_attempt_at,
            }
            for pending in batch
        ],
    )
