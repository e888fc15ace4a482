"""Celery tasks of the billing run: the daily beat entry and one task per chunk.

Tasks are acknowledged late (``task_acks_late``): a worker killed mid-chunk leaves its
task unacknowledged, the broker delivers it again, and the chunk, rolled back with the
dead worker's transaction, is billed from scratch. A chunk delivered after it was
committed finds itself done and does nothing, so every task is idempotent.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from flask import current_app
from praho.core.billing_runner import bill_chunk, start_run
from praho.core.clock import noon_of, parse_date, utcnow
from praho.core.tasks import task_actor
from sqlalchemy.exc import OperationalError

log = logging.getLogger("praho.billing")

RUN_TASK = "praho.billing.run"
CHUNK_TASK = "praho.billing.bill_chunk"


@shared_task(name=RUN_TASK, acks_late=True)
def run_billing_task(run_date: str | None = None, chunk_size: int | None = None) -> dict[str, Any]:
    """Start today's run (or ``run_date``'s) and fan its chunks out to the workers."""
    now = noon_of(parse_date(run_date)) if run_date else utcnow()
    database = current_app.extensions["praho.db"]
    run_id, chunk_ids = start_run(
        database, now=now, actor=task_actor(RUN_TASK), chunk_size=chunk_size
    )
    for chunk_id in chunk_ids:
        bill_chunk_task.delay(chunk_id)
    log.info("billing run %s: %d chunk(s) dispatched", run_id, len(chunk_ids))
    return {"run_id": run_id, "chunks": len(chunk_ids)}


@shared_task(
    name=CHUNK_TASK,
    acks_late=True,
    bind=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
)
def bill_chunk_task(self: Any, chunk_id: int) -> dict[str, Any]:
    """Bill one chunk in its own transaction (retried on lost connections and deadlocks)."""
    database = current_app.extensions["praho.db"]
    report = bill_chunk(database, chunk_id, actor=task_actor(CHUNK_TASK))
    if report is None:
        return {"chunk_id": chunk_id, "already_done": True}
    return {"chunk_id": chunk_id, "issued": len(report.issued), "failed": len(report.failures)}
