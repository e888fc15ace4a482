"""Celery task of the collection run (it only opens a transaction and calls the service)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from praho.core.clock import noon_of, parse_date, utcnow
from praho.core.services.collections import run_collections
from praho.core.tasks import task_actor, task_transaction

RUN_TASK = "praho.collections.run"


@shared_task(name=RUN_TASK, acks_late=True)
def run_collections_task(run_date: str | None = None) -> dict[str, Any]:
    """Chase unpaid invoices as of now (or noon of ``run_date``); returns the run summary."""
    now = noon_of(parse_date(run_date)) if run_date else utcnow()
    with task_transaction() as session:
        run = run_collections(session, now=now, actor=task_actor(RUN_TASK))
        return {"run_id": run.id, **run.summary}
