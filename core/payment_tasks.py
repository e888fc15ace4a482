"""Celery tasks of the payment layer: settling unknown outcomes, purging old keys.

Both are safe to run any number of times, on any worker: settling only asks gateways
(it never re-sends a charge) and applying an answer twice changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import shared_task
from praho.core.clock import utcnow
from praho.core.services.payments import purge_expired_keys, settle_unknown_attempts
from praho.core.tasks import task_actor, task_transaction

SETTLE_TASK = "praho.payments.settle_unknown"
PURGE_KEYS_TASK = "praho.payments.purge_idempotency_keys"


@shared_task(name=SETTLE_TASK, acks_late=True)
def settle_unknown_task() -> dict[str, Any]:
    """Ask the gateways about attempts whose outcome is unknown or pending."""
    with task_transaction() as session:
        report = settle_unknown_attempts(session, now=utcnow(), actor=task_actor(SETTLE_TASK))
    return asdict(report)


@shared_task(name=PURGE_KEYS_TASK, acks_late=True)
def purge_keys_task() -> dict[str, Any]:
    """Delete idempotency records older than their lifetime (24 h)."""
    with task_transaction() as session:
        return {"purged": purge_expired_keys(session, now=utcnow())}
