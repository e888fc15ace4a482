"""Replaying a webhook event that failed for good: mark it for one more processing round.

The webhook pipeline retries a failing handler with backoff and finally flags the event
``failed``. After the cause is fixed (a missing customer, a plugin bug), a person asks
for a replay: the event goes back to ``retrying`` due now, and the pipeline's retry
task processes it again exactly like a scheduled retry (same idempotency: one event per
(source, event id), handlers are idempotent by their own keys).
"""

from __future__ import annotations

from datetime import datetime

from praho.core.clock import resolve_now
from praho.core.errors import InvalidTransition
from praho.core.models.webhooks import WebhookEvent, WebhookStatus
from praho.core.services.audit import Actor, record_audit
from sqlalchemy.orm import Session

REPLAYABLE = frozenset({WebhookStatus.FAILED})


def replay_webhook_event(
    session: Session,
    event: WebhookEvent,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> WebhookEvent:
    """Mark a failed event for retry now; refuse any other status (nothing changes then)."""
    moment = resolve_now(now)
    if event.status not in REPLAYABLE:
        raise InvalidTransition(
            f"webhook event {event.source}/{event.event_id} is {event.status}; "
            "only failed events can be replayed"
        )
    previous_error = event.last_error
    event.status = WebhookStatus.RETRYING
    event.next_attempt_at = moment
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="webhook.replay_requested",
        object_type="webhook_event",
        object_id=event.id,
        now=moment,
        data={
            "source": event.source,
            "event_id": event.event_id,
            "attempts": event.attempts,
            "last_error": (previous_error or "")[:300],
        },
    )
    return event
