"""Celery tasks of the webhook pipeline (they open a transaction and call one service)."""

from __future__ import annotations

from celery import shared_task
from flask import current_app
from praho.core.config import bounded_setting
from praho.core.models.audit import ActorType
from praho.core.services.audit import Actor
from praho.core.tasks import task_actor, task_transaction
from praho.core.webhooks import applier, pipeline

APPLY_TASK = "praho.webhooks.apply_received"
# One task stops after this long and sends a successor, so no task holds a worker (or
# outlives the broker's visibility timeout) while deliveries keep arriving.
APPLY_TIME_BUDGET_SECONDS = 20.0


def apply_batch_size() -> int:
    """``PRAHO_WEBHOOK_APPLY_BATCH``; ValueError names a value outside 1 to 5000."""
    return bounded_setting("WEBHOOK_APPLY_BATCH", 1, 5000)


@shared_task(name=APPLY_TASK, acks_late=True, ignore_result=True)
def apply_received() -> int:
    """Apply recorded events in batches (:func:`~praho.core.webhooks.applier.apply_waiting`).

    Returns how many events were taken. When the time budget ran out with more waiting,
    a successor task takes over (not when eager: it would run inline without end).
    """
    taken, more = applier.apply_waiting(
        current_app.extensions["praho.db"],
        pipeline.webhook_sources(),
        batch_size=apply_batch_size(),
        budget_seconds=APPLY_TIME_BUDGET_SECONDS,
    )
    if more and not apply_received.app.conf.task_always_eager:
        apply_received.apply_async()
    return taken


RETRY_DUE_TASK = "praho.webhooks.retry_due"


@shared_task(name=RETRY_DUE_TASK, acks_late=True, ignore_result=True)
def retry_due() -> int:
    """Apply again the events whose backoff has elapsed (5 min, 15 min, 1 h, 2 h, 6 h)."""
    with task_transaction() as session:
        return pipeline.retry_due(session, pipeline.webhook_sources())


REPLAY_TASK = "praho.webhooks.replay"


@shared_task(name=REPLAY_TASK, acks_late=True, ignore_result=True)
def replay(event_row_id: int, requested_by: str | None = None) -> str:
    """Apply one failed or retrying event again now; returns its new status.

    ``requested_by`` (a staff e-mail) is the audit actor; without it, the task itself.
    """
    actor = (
        Actor(ActorType.USER, requested_by[:100]) if requested_by else task_actor(REPLAY_TASK)
    )
    with task_transaction() as session:
        return str(pipeline.replay_event(session, event_row_id, actor=actor).status)
