"""Celery tasks of the virtualmin plugin; they only open transactions and call the runner."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from flask import current_app
from praho.plugins.virtualmin import reconcile, runner
from praho.plugins.virtualmin.settings import current_settings

RUN_ACTIONS = "praho.plugins.virtualmin.run_actions"
RUN_DUE = "praho.plugins.virtualmin.run_due"
RECONCILE = "praho.plugins.virtualmin.reconcile"


def _database() -> Any:
    return current_app.extensions["praho.db"]


@shared_task(name=RUN_ACTIONS, acks_late=True, ignore_result=True)
def run_actions(ids: list[int]) -> int:
    """Run the actions a committed transaction recorded (one attempt each)."""
    return runner.run_actions(_database(), [int(i) for i in ids], settings=current_settings())


@shared_task(name=RUN_DUE, acks_late=True, ignore_result=True)
def run_due() -> int:
    """The sweeper: retries after backoff, deletions after their grace period, stale claims."""
    return runner.run_due(_database(), settings=current_settings())


@shared_task(name=RECONCILE, acks_late=True, ignore_result=True)
def reconcile_all() -> list[dict[str, Any]]:
    """Compare every server's domain list with billing and record the findings."""
    runs = reconcile.reconcile_servers(_database(), settings=current_settings())
    return [{"server": r.server, "ok": r.ok, "open_findings": r.open_findings} for r in runs]
