"""Celery tasks of the e-Factura plugin: parse arguments, call one service, return a summary."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from flask import current_app
from praho.core.tasks import PeriodicTask
from praho.plugins.ro_efactura.anaf_client import AnafClient
from praho.plugins.ro_efactura.models import SubmissionState
from praho.plugins.ro_efactura.runs import RunReport, alert_deadlines, poll_due, submit_pending
from praho.plugins.ro_efactura.settings import current_settings
from praho.plugins.ro_efactura.submissions import ids_in_state
from praho.plugins.ro_efactura.transmission import upload_submission

SUBMIT_TASK = "praho.efactura.submit_pending"
UPLOAD_BATCH_TASK = "praho.efactura.upload_batch"
# Submissions per upload task when the work fans out to the workers: ANAF answers each
# upload in a second or so, so small batches spread the wait over every worker.
UPLOAD_BATCH_SIZE = 10
POLL_TASK = "praho.efactura.poll_due"
ALERT_TASK = "praho.efactura.alert_deadlines"


def _transaction() -> Any:
    return current_app.extensions["praho.db"].transaction


@shared_task(name=SUBMIT_TASK)
def submit_pending_task() -> dict[str, int]:
    """Upload the documents waiting in state pending.

    With workers (a broker is set) the pending submissions fan out as
    ``praho.efactura.upload_batch`` tasks, so any number of workers upload in parallel;
    each upload claims its submission first, so a batch delivered twice (a killed
    worker, acks late) never uploads a document twice. Without a broker: here, in turn.
    """
    settings = current_settings()
    celery_app = current_app.extensions["celery"]
    if celery_app.conf.task_always_eager:
        return submit_pending(_transaction(), client=AnafClient(settings), settings=settings).states
    with _transaction()() as session:
        ids = ids_in_state(session, SubmissionState.PENDING, limit=settings.submit_batch_size)
    batches = [ids[i:i + UPLOAD_BATCH_SIZE] for i in range(0, len(ids), UPLOAD_BATCH_SIZE)]
    for batch in batches:
        upload_batch_task.delay(batch)
    return {"dispatched": len(ids), "tasks": len(batches)}


@shared_task(name=UPLOAD_BATCH_TASK, acks_late=True)
def upload_batch_task(submission_ids: list[int]) -> dict[str, int]:
    """Upload a batch of submissions (each claimed first: a redelivery uploads nothing twice)."""
    settings = current_settings()
    client = AnafClient(settings)
    report = RunReport()
    for submission_id in submission_ids:
        report.count(upload_submission(_transaction(), int(submission_id), client=client,
                                       settings=settings))
    return report.states


@shared_task(name=POLL_TASK)
def poll_due_task() -> dict[str, int]:
    """Follow uploaded documents (with backoff) and settle unknown outcomes."""
    settings = current_settings()
    return poll_due(_transaction(), client=AnafClient(settings), settings=settings).states


@shared_task(name=ALERT_TASK)
def alert_deadlines_task() -> list[str]:
    """Warn about documents approaching the 5-working-day deadline."""
    alerts = alert_deadlines(
        _transaction(), settings=current_settings(), smtp=dict(current_app.config)
    )
    return [str(alert) for alert in alerts]


def periodic_tasks() -> list[PeriodicTask]:
    """Beat entries: submit every 5 minutes, poll every 2, alerts at 9:00 and 15:00."""
    from datetime import timedelta

    from celery.schedules import crontab

    return [
        PeriodicTask("efactura-submit", SUBMIT_TASK, timedelta(minutes=5)),
        PeriodicTask("efactura-poll", POLL_TASK, timedelta(minutes=2)),
        PeriodicTask("efactura-deadline-alerts", ALERT_TASK, crontab(hour="9,15", minute=0)),
    ]
