"""Celery tasks of the webhook pipeline (they open a transaction and call one service)."""

from __future__ import annotations

from celery import shared_task
from praho.core.models.audit import ActorType
from praho.core.services.audit import Actor
from praho.core.tasks import task_actor, task_transaction
from praho.core.webhooks import pipeline

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
