"""Celery task: the daily price migration batch (scheduled through ``register_periodic_tasks``)."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from celery import shared_task
from praho.core.clock import utcnow
from praho.core.tasks import task_actor, task_transaction
from praho.plugins.grandfathering.changes import run_batch
from praho.plugins.grandfathering.settings import current_settings

TASK_NAME = "praho.plugins.grandfathering.run_price_migrations"
logger = logging.getLogger("praho.grandfathering")


@shared_task(name=TASK_NAME)
def run_price_migrations() -> dict[str, Any]:
    """Run today's batch; returns how many actions of each kind were done."""
    with task_transaction() as session:
        actions = run_batch(
            session, now=utcnow(), settings=current_settings(), actor=task_actor(TASK_NAME)
        )
        counts = dict(Counter(action.kind for action in actions))
    logger.info("price migration batch: %s", counts or "nothing to do")
    return counts
