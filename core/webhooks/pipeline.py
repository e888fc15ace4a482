"""One pipeline for every inbound webhook: verify, record once, apply, retry.

A delivery is checked (size limit -> ``source.verify``, signature and timestamp on the raw
bytes -> ``source.parse``) and recorded once per (source, event id) with status
``received``: ``INSERT ... ON CONFLICT DO NOTHING``, which on PostgreSQL waits for a
concurrent inserter to commit, so a duplicate (even a simultaneous one) finds the row and
is acknowledged without being applied again.

Applying is separate. The HTTP endpoint records and answers; workers apply what was
recorded in batches (:mod:`praho.core.webhooks.applier`). :func:`receive_webhook` does
both in the caller's transaction, for scripts and tests. Either way each event goes to
its source's handler; a handler that raises is rolled back to its savepoint and the event
is tried again after 5 min, 15 min, 1 h, 2 h and 6 h (``retry_due``, run by Celery beat),
then marked ``failed`` for the back office, which may ``replay_event`` it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from praho.core.clock import resolve_now
from praho.core.db import Database, JSONDocument, UTCDateTime
from praho.core.errors import InvalidTransition, NotFound
from praho.core.models.webhooks import WebhookEvent, WebhookStatus
from praho.core.redaction import redact_payload, redact_text
from praho.core.services.audit import Actor, record_audit
from praho.core.validation import external_text
from praho.core.webhooks.source import ParsedEvent, WebhookRejected, WebhookSource
from praho.core.webhooks.verification import DEFAULT_MAX_BODY_BYTES
from sqlalchemy import bindparam, or_, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

logger = logging.getLogger("praho.webhooks")

RETRY_DELAYS = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=6),
)


class EventNotReady(Exception):
    """A handler cannot apply the event yet (it arrived before the one it depends on).

    Raising it retries the event later like any failure; the name tells the back office
    that nothing is broken, the events merely arrived out of order.
    """


@dataclass(frozen=True)
class WebhookOutcome:
    """What the pipeline did with a delivery; every outcome is acknowledged with 200."""

    status: str  # processed, ignored, retrying, failed or duplicate
    event_row_id: int | None
    event_type: str
    duplicate: bool = False


def accept_delivery(
    source: WebhookSource,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    max_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> ParsedEvent:
    """The verified, parsed event of a delivery; :class:`WebhookRejected` refuses it.

    Nothing is read from or written to the database: a refused delivery changes nothing.
    """
    if len(body) > max_bytes:
        raise WebhookRejected(
            f"body of {len(body)} bytes exceeds the limit of {max_bytes}", http_status=413
        )
    source.verify(headers, body, now)
    event = source.parse(body)
    if not event.event_id or len(event.event_id) > 255:
        raise WebhookRejected("event id missing or longer than 255 characters")
    return event


def record_webhook(
    session: Session | Connection | Database,
    source: WebhookSource,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> WebhookOutcome:
    """Verify a delivery and record it once, to be applied by the workers.

    Status ``received`` for a new event, ``ignored`` for a new one of a type the source
    has no handler for (stored, nothing to apply), ``duplicate`` for one already
    recorded. One statement, on a session or a bare connection (the caller commits), or on
    the database itself, committed at once (the endpoint's way).
    """
    moment = resolve_now(now)
    event = accept_delivery(source, headers, body, now=moment, max_bytes=max_bytes)
    handled = event.event_type in source.handlers()
    status = WebhookStatus.RECEIVED if handled else WebhookStatus.IGNORED
    row_id = record_event(session, source.id, event, moment, status=status)
    if row_id is None:
        return WebhookOutcome("duplicate", None, event.event_type, duplicate=True)
    return WebhookOutcome(str(status), row_id, event.event_type)


def receive_webhook(
    session: Session,
    source: WebhookSource,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> WebhookOutcome:
    """Verify, record and apply one delivery in the caller's transaction.

    For scripts and tests that want the outcome at once; the HTTP endpoint records with
    :func:`record_webhook` and leaves applying to the workers. Raises
    :class:`WebhookRejected` to refuse; nothing is written then. The caller commits.
    """
    moment = resolve_now(now)
    outcome = record_webhook(session, source, headers, body, now=moment, max_bytes=max_bytes)
    if outcome.status != WebhookStatus.RECEIVED:
        return outcome  # a duplicate, or ignored (no handler): nothing to apply
    row = session.get(WebhookEvent, outcome.event_row_id)
    if row is None:  # pragma: no cover - inserted by this transaction a moment ago
        raise NotFound(f"webhook event {outcome.event_row_id} vanished")
    # As the workers do: the handler sees the stored (redacted) copy of the payload.
    apply_event(session, source, row, event_of(row), now=moment)
    return WebhookOutcome(str(row.status), row.id, outcome.event_type)


# Built once: this runs for every delivery, and PostgreSQL (like SQLite since 3.35) takes
# the same text.
_RECORD_ONCE = text(
    "INSERT INTO webhook_events (source, event_id, event_type, payload, status, attempts, "
    "received_at, processed_at) VALUES (:source, :event_id, :event_type, :payload, :status, "
    "0, :received_at, :processed_at) ON CONFLICT (source, event_id) DO NOTHING RETURNING id"
).bindparams(
    bindparam("payload", type_=JSONDocument),
    bindparam("received_at", type_=UTCDateTime()),
    bindparam("processed_at", type_=UTCDateTime()),
)


def record_event(
    session: Session | Connection | Database,
    source_id: str,
    event: ParsedEvent,
    now: datetime,
    *,
    status: WebhookStatus = WebhookStatus.RECEIVED,
) -> int | None:
    """Insert the event row with a redacted copy of its payload; None when already recorded.

    ``INSERT ... ON CONFLICT (source, event_id) DO NOTHING RETURNING id``: one statement,
    and a concurrent duplicate waits for the first insert's transaction, then finds it.
    Given the :class:`~praho.core.db.Database` itself, the statement is committed as it
    runs (:meth:`~praho.core.db.Database.execute_single_statement`, the endpoint's way).
    ``status`` is ``received`` (to apply) or ``ignored`` (no handler: nothing to apply).
    """
    if status not in (WebhookStatus.RECEIVED, WebhookStatus.IGNORED):
        raise ValueError(f"an event is recorded as received or ignored, not {status}")
    params = {
        "source": source_id,
        "event_id": event.event_id,
        "event_type": event.event_type[:100],
        "payload": redact_payload(dict(event.payload)),
        "status": str(status),
        "received_at": now,
        "processed_at": now if status == WebhookStatus.IGNORED else None,
    }
    if isinstance(session, Database):
        row_id = session.execute_single_statement(_RECORD_ONCE, params)
    else:
        row_id = session.execute(_RECORD_ONCE, params).scalar_one_or_none()
    return None if row_id is None else int(row_id)


def apply_event(
    session: Session, source: WebhookSource, row: WebhookEvent, event: ParsedEvent, *, now: datetime
) -> WebhookEvent:
    """Dispatch a recorded event to its handler inside a savepoint and record the outcome."""
    handler = source.handlers().get(event.event_type)
    if handler is None:
        row.status = WebhookStatus.IGNORED
        row.processed_at = now
        session.flush()
        return row
    row.attempts += 1
    try:
        with session.begin_nested():
            handler(session, event, now)
    except Exception as exc:  # noqa: BLE001 - any handler failure is retried, never lost
        row.status, row.next_attempt_at, row.last_error = retry_outcome(
            row, row.attempts, exc, now
        )
    else:
        row.status = WebhookStatus.PROCESSED
        row.processed_at = now
        row.last_error = None
        row.next_attempt_at = None
    session.flush()
    return row


def retry_outcome(
    row: Any, attempts: int, exc: BaseException, now: datetime
) -> tuple[WebhookStatus, datetime | None, str]:
    """Status, next attempt and stored error after failed attempt number ``attempts``.

    ``row`` names the event in the log: anything with ``source``, ``event_id`` and
    ``event_type`` (an event row, or the applier's plain record).
    """
    # Handler errors may quote the gateway's text: no control characters, bounded.
    error = external_text(redact_text(f"{type(exc).__name__}: {exc}"), max_length=2000)
    if attempts <= len(RETRY_DELAYS):
        status, next_at = WebhookStatus.RETRYING, now + RETRY_DELAYS[attempts - 1]
    else:
        status, next_at = WebhookStatus.FAILED, None
    logger.warning(
        "webhook %s/%s (%s) attempt %d failed: %s; now %s",
        row.source,
        row.event_id,
        row.event_type,
        attempts,
        error,
        status,
    )
    return status, next_at, error


def event_of(row: Any) -> ParsedEvent:
    """The event as handlers see it, rebuilt from the stored (redacted) payload."""
    return ParsedEvent(
        event_id=row.event_id, event_type=row.event_type, created_at=None, payload=row.payload or {}
    )


def _retry_row(
    session: Session, sources: Mapping[str, WebhookSource], row: WebhookEvent, now: datetime
) -> WebhookEvent:
    source = sources.get(row.source)
    if source is None:
        row.attempts += 1
        missing = LookupError(f"webhook source {row.source!r} is not loaded")
        row.status, row.next_attempt_at, row.last_error = retry_outcome(
            row, row.attempts, missing, now
        )
        session.flush()
        return row
    return apply_event(session, source, row, event_of(row), now=now)


def retry_due(
    session: Session,
    sources: Mapping[str, WebhookSource],
    *,
    now: datetime | None = None,
    limit: int = 100,
) -> int:
    """Apply again the events whose retry time has come; returns how many are now processed.

    Rows are locked with SKIP LOCKED so two workers never retry the same event.
    """
    moment = resolve_now(now)
    rows = (
        session.execute(
            select(WebhookEvent)
            .where(
                WebhookEvent.status == WebhookStatus.RETRYING,
                or_(WebhookEvent.next_attempt_at.is_(None), WebhookEvent.next_attempt_at <= moment),
            )
            .order_by(WebhookEvent.next_attempt_at, WebhookEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    done = 0
    for row in rows:
        if _retry_row(session, sources, row, moment).status == WebhookStatus.PROCESSED:
            done += 1
    return done


def replay_event(
    session: Session,
    event_id: int,
    *,
    now: datetime | None = None,
    sources: Mapping[str, WebhookSource] | None = None,
    actor: Actor | None = None,
) -> WebhookEvent:
    """Apply a failed (or still retrying) event again now, and audit who asked.

    ``event_id`` is the :class:`WebhookEvent` row id. Processed and ignored events are
    refused: applying them twice is exactly what the pipeline exists to prevent. (The
    back office's button only marks the event due, :mod:`praho.core.services.webhook_replay`,
    and the retry task applies it; this applies it at once, for the ``praho.webhooks.replay``
    task and scripts.)
    """
    moment = resolve_now(now)
    row = session.execute(
        select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"webhook event {event_id} not found")
    if row.status not in (WebhookStatus.FAILED, WebhookStatus.RETRYING, WebhookStatus.RECEIVED):
        raise InvalidTransition(
            f"webhook event {event_id} is {row.status}; only failed or "
            "retrying events can be replayed"
        )
    previous = (row.status, row.attempts)
    _retry_row(session, sources if sources is not None else webhook_sources(), row, moment)
    record_audit(
        session,
        actor=actor,
        action="webhook.replayed",
        object_type="webhook_event",
        object_id=row.id,
        now=moment,
        data={
            "source": row.source,
            "event_id": row.event_id,
            "from": str(previous[0]),
            "to": str(row.status),
            "attempts": row.attempts,
        },
    )
    return row


def webhook_sources() -> dict[str, WebhookSource]:
    """The current application's webhook sources by id (``register_webhook_sources``)."""
    from praho.core.plugins import get_registry

    sources: dict[str, WebhookSource] = get_registry().objects("register_webhook_sources")
    return sources


def failed_events(session: Session, *, limit: int = 100) -> list[WebhookEvent]:
    """Events the pipeline gave up on, newest first (the back office's list)."""
    return list(
        session.execute(
            select(WebhookEvent)
            .where(WebhookEvent.status == WebhookStatus.FAILED)
            .order_by(WebhookEvent.received_at.desc())
            .limit(limit)
        ).scalars()
    )
