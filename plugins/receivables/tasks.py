"""Celery tasks of the collection run: the nightly entry and one task per chunk of cases.

Tasks are acknowledged late: a worker killed mid-chunk leaves its task to be delivered
again, and the redelivered chunk takes only the steps its cases have not taken yet
(see :mod:`praho.core.services.dunning_steps`). A chunk delivered after it was done
does nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from flask import current_app
from praho.core.clock import noon_of, parse_date, utcnow
from praho.core.models.collections import CollectionRun
from praho.core.tasks import task_actor
from praho.plugins.receivables.runner import chase_chunk, start_run
from sqlalchemy.exc import OperationalError

log = logging.getLogger("praho.collections")

RUN_TASK = "praho.collections.run"
CHUNK_TASK = "praho.collections.chase_chunk"


@shared_task(name=RUN_TASK, acks_late=True)
def run_collections_task(
    run_date: str | None = None, chunk_size: int | None = None
) -> dict[str, Any]:
    """Start the run as of now (or noon of ``run_date``) and fan its chunks out."""
    now = noon_of(parse_date(run_date)) if run_date else utcnow()
    database = current_app.extensions["praho.db"]
    run_id, chunk_ids = start_run(
        database, now=now, actor=task_actor(RUN_TASK), chunk_size=chunk_size
    )
    for chunk_id in chunk_ids:
        chase_chunk_task.delay(chunk_id)
    log.info("collection run %s: %d chunk(s) dispatched", run_id, len(chunk_ids))
    result: dict[str, Any] = {"run_id": run_id, "chunks": len(chunk_ids)}
    with database.transaction() as session:
        run = session.get(CollectionRun, run_id)
        if run is not None and run.finished_at is not None:
            # Eager mode (no broker) or no cases: the run is already complete.
            result.update(run.summary)
    return result


@shared_task(
    name=CHUNK_TASK,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
)
def chase_chunk_task(chunk_id: int) -> dict[str, Any]:
    """Chase one chunk's cases (retried on lost connections and deadlocks)."""
    database = current_app.extensions["praho.db"]
    chased = chase_chunk(database, chunk_id, actor=task_actor(CHUNK_TASK))
    if chased is None:
        return {"chunk_id": chunk_id, "already_done": True}
    return {"chunk_id": chunk_id, "cases": chased}
