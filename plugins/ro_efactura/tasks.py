"""Celery tasks of the e-Factura plugin: parse arguments, call one service, return a summary."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from flask import current_app
from praho.core.tasks import PeriodicTask
from praho.plugins.ro_efactura.anaf_client import AnafClient
from praho.plugins.ro_efactura.runs import alert_deadlines, poll_due, submit_pending
from praho.plugins.ro_efactura.settings import current_settings

SUBMIT_TASK = "praho.efactura.submit_pending"
POLL_TASK = "praho.efactura.poll_due"
ALERT_TASK = "praho.efactura.alert_deadlines"


def _transaction() -> Any:
    return current_app.extensions["praho.db"].transaction


@shared_task(name=SUBMIT_TASK)
def submit_pending_task() -> dict[str, int]:
    """Upload the documents waiting in state pending."""
    settings = current_settings()
    return submit_pending(_transaction(), client=AnafClient(settings), settings=settings).states


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
