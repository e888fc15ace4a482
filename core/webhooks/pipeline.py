"""One pipeline for every inbound webhook: verify, record once, dispatch, retry.

``receive_webhook`` runs a delivery through: size limit -> ``source.verify`` (signature and
timestamp on the raw bytes) -> ``source.parse`` -> record once per (source, event id) ->
dispatch to the source's handler inside a savepoint -> mark processed. A duplicate (even
delivered concurrently) finds the row already there and is acknowledged without being
applied again: on PostgreSQL the insert is ``ON CONFLICT DO NOTHING``, which waits for a
concurrent inserter to commit; elsewhere a savepoint catches the unique violation.

A handler that raises has its savepoint rolled back; the event stays recorded with status
``retrying`` and is tried again after 5 min, 15 min, 1 h, 2 h and 6 h (``retry_due``, run by
Celery beat), then marked ``failed`` for the back office, which may ``replay_event`` it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from praho.core.clock import resolve_now
from praho.core.db import is_postgres
from praho.core.errors import InvalidTransition, NotFound
from praho.core.models.webhooks import WebhookEvent, WebhookStatus
from praho.core.redaction import redact_payload, redact_text
from praho.core.services.audit import Actor, record_audit
from praho.core.validation import external_text
from praho.core.webhooks.source import ParsedEvent, WebhookRejected, WebhookSource
from praho.core.webhooks.verification import DEFAULT_MAX_BODY_BYTES
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
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


def receive_webhook(
    session: Session,
    source: WebhookSource,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> WebhookOutcome:
    """Verify, record and apply one delivery; raise :class:`WebhookRejected` to refuse it.

    Nothing is written before the delivery is verified and parsed, so a refused delivery
    changes nothing. The caller commits.
    """
    moment = resolve_now(now)
    if len(body) > max_bytes:
        raise WebhookRejected(
            f"body of {len(body)} bytes exceeds the limit of {max_bytes}", http_status=413
        )
    source.verify(headers, body, moment)
    event = source.parse(body)
    if not event.event_id or len(event.event_id) > 255:
        raise WebhookRejected("event id missing or longer than 255 characters")
    row = _record_once(session, source.id, event, moment)
    if row is None:
        return WebhookOutcome("duplicate", None, event.event_type, duplicate=True)
    apply_event(session, source, row, event, now=moment)
    return WebhookOutcome(str(row.status), row.id, event.event_type)


def _record_once(
    session: Session, source_id: str, event: ParsedEvent, now: datetime
) -> WebhookEvent | None:
    """Insert the event row; None when (source, event id) is already recorded."""
    values: dict[str, Any] = {
        "source": source_id,
        "event_id": event.event_id,
        "event_type": event.event_type[:100],
        "payload": redact_payload(dict(event.payload)),
        "status": WebhookStatus.RECEIVED,
        "attempts": 0,
        "received_at": now,
    }
    if is_postgres(session):
        statement = (
            pg_insert(WebhookEvent)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["source", "event_id"])
            .returning(WebhookEvent)
        )
        # The inserted row comes back as an ORM object: no second query to load it.
        return session.execute(
            select(WebhookEvent).from_statement(statement)
        ).scalar_one_or_none()
    row = WebhookEvent(**values)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


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
        _schedule_retry(row, exc, now)
    else:
        row.status = WebhookStatus.PROCESSED
        row.processed_at = now
        row.last_error = None
        row.next_attempt_at = None
    session.flush()
    return row


def _schedule_retry(row: WebhookEvent, exc: Exception, now: datetime) -> None:
    # Handler errors may quote the gateway's text: no control characters, bounded.
    row.last_error = external_text(redact_text(f"{type(exc).__name__}: {exc}"), max_length=2000)
    if row.attempts <= len(RETRY_DELAYS):
        row.status = WebhookStatus.RETRYING
        row.next_attempt_at = now + RETRY_DELAYS[row.attempts - 1]
    else:
        row.status = WebhookStatus.FAILED
        row.next_attempt_at = None
    logger.warning(
        "webhook %s/%s (%s) attempt %d failed: %s; now %s",
        row.source,
        row.event_id,
        row.event_type,
        row.attempts,
        row.last_error,
        row.status,
    )


def _event_of(row: WebhookEvent) -> ParsedEvent:
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
        _schedule_retry(row, LookupError(f"webhook source {row.source!r} is not loaded"), now)
        session.flush()
        return row
    return apply_event(session, source, row, _event_of(row), now=now)


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
