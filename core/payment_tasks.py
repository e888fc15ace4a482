"""Celery tasks of the payment layer: collecting invoices, settling unknown outcomes,
purging old keys.

All are safe to run any number of times, on any worker: settling only asks gateways
(it never re-sends a charge) and applying an answer twice changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from celery import shared_task
from flask import current_app
from praho.core.clock import utcnow
from praho.core.payment_runner import collect_invoice_ids, settle_in_transactions
from praho.core.services.payments import purge_expired_keys
from praho.core.tasks import task_actor, task_transaction
from sqlalchemy.exc import OperationalError

COLLECT_TASK = "praho.payments.collect_invoices"
SETTLE_TASK = "praho.payments.settle_unknown"
PURGE_KEYS_TASK = "praho.payments.purge_idempotency_keys"


@shared_task(name=COLLECT_TASK, acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, retry_backoff_max=60, max_retries=8)
def collect_invoices_task(invoice_ids: list[int], now: str) -> dict[str, Any]:
    """Collect invoices a billing chunk issued (``now``: the run's instant, ISO 8601).

    Delivered twice, it charges nothing twice: a renewal charge is attempt 1 of its invoice.
    """
    database = current_app.extensions["praho.db"]
    summary = collect_invoice_ids(database, [int(i) for i in invoice_ids],
                                  now=datetime.fromisoformat(now), actor=task_actor(COLLECT_TASK))
    return asdict(summary)


@shared_task(name=SETTLE_TASK, acks_late=True)
def settle_unknown_task() -> dict[str, Any]:
    """Ask the gateways about attempts whose outcome is unknown or pending."""
    database = current_app.extensions["praho.db"]
    report = settle_in_transactions(database, now=utcnow(), actor=task_actor(SETTLE_TASK))
    return asdict(report)


@shared_task(name=PURGE_KEYS_TASK, acks_late=True)
def purge_keys_task() -> dict[str, Any]:
    """Delete idempotency records older than their lifetime (24 h)."""
    with task_transaction() as session:
        return {"purged": purge_expired_keys(session, now=utcnow())}
