"""Celery: the app factory wired to Flask, the beat schedule, and the core's tasks.

Tasks run inside the Flask app context (Flask's ``celery_init_app`` pattern). With no
``PRAHO_BROKER_URL`` tasks run eagerly in-process, so the embedded default needs no
broker. Tasks only parse arguments, open a transaction and call one service.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from celery import Celery, Task
from celery.exceptions import Ignore, Reject, Retry
from celery.schedules import crontab
from flask import Flask, current_app
from praho.core.models.audit import ActorType
from praho.core.services.audit import Actor
from praho.core.task_failures import failure_recorder
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class PeriodicTask:
    """One beat schedule entry: a registered task name and when it runs."""

    name: str
    task: str
    schedule: crontab | timedelta | float
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app whose tasks run inside ``app``'s context."""

    def open_transaction() -> Any:
        return app.extensions["praho.db"].transaction()

    record_failure = failure_recorder(open_transaction)

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                try:
                    return self.run(*args, **kwargs)
                except (Retry, Ignore, Reject):
                    raise
                except Exception as exc:
                    # Eager tasks propagate before Celery calls on_failure: record here.
                    if self.request.is_eager:
                        record_failure(sender=self, task_id=self.request.id or "eager",
                                       exception=exc, args=args, kwargs=kwargs,
                                       einfo=traceback.format_exc())
                    raise

        def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any,
                       einfo: Any) -> None:
            # Kept in the database so the back office shows failed background work.
            record_failure(sender=self, task_id=task_id, exception=exc, args=args,
                           kwargs=kwargs, einfo=einfo)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    broker = app.config.get("BROKER_URL")
    celery_app.conf.update(
        broker_url=broker or "memory://",
        result_backend=app.config.get("RESULT_BACKEND") or None,
        task_always_eager=not broker,
        task_eager_propagates=True,
        task_store_eager_result=False,
        task_ignore_result=True,
        # A task is acknowledged only after it finished, so a killed worker's task is
        # delivered again; every task is idempotent, so that is safe.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        timezone="Europe/Bucharest",
        enable_utc=True,
        broker_connection_retry_on_startup=True,
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    # Task modules use @shared_task; importing them binds their tasks to this app.
    for module in CORE_TASK_MODULES:
        importlib.import_module(module)
    return celery_app


def build_beat_schedule(app: Flask) -> dict[str, dict[str, Any]]:
    """The beat schedule: the core's entries plus every plugin's ``register_periodic_tasks``."""
    entries: list[PeriodicTask] = list(CORE_PERIODIC_TASKS)
    entries += app.extensions["praho.plugins"].collect("register_periodic_tasks", app=app)
    schedule: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry.name in schedule:
            raise ValueError(f"two periodic tasks are named {entry.name!r}")
        options = {"queue": entry.queue} if entry.queue else {}
        schedule[entry.name] = {"task": entry.task, "schedule": entry.schedule,
                                "kwargs": entry.kwargs, "options": options}
    return schedule


# Core scheduled work; capabilities add theirs here or through plugins.
CORE_PERIODIC_TASKS: list[PeriodicTask] = [
    # The billing run, every night at 02:00 Bucharest time. Running it more often is
    # harmless: each subscription-period is billed once whatever the number of runs.
    PeriodicTask(name="billing-run-daily", task="praho.billing.run",
                 schedule=crontab(hour=2, minute=0)),
    # The e-mail outbox's safety net: retries whatever is still queued, with backoff.
    PeriodicTask(name="mail-deliver-due", task="praho.mail.deliver_due",
                 schedule=timedelta(minutes=1)),
    # Payments whose outcome is unknown (timeouts) or pending: ask the gateways.
    PeriodicTask(name="payments-settle-unknown", task="praho.payments.settle_unknown",
                 schedule=timedelta(minutes=5)),
    PeriodicTask(name="payments-purge-idempotency-keys",
                 task="praho.payments.purge_idempotency_keys", schedule=timedelta(hours=1)),
    # Recorded webhook events are applied when the endpoint wakes the workers; this
    # catches any the wake-up missed (broker unreachable for a moment).
    PeriodicTask(name="webhooks-apply-received", task="praho.webhooks.apply_received",
                 schedule=timedelta(seconds=30)),
    # Webhook events whose handler failed, retried after 5 min, 15 min, 1 h, 2 h, 6 h.
    PeriodicTask(name="webhooks-retry-due", task="praho.webhooks.retry_due",
                 schedule=timedelta(minutes=1)),
]
# Modules whose @shared_task functions the core provides.
CORE_TASK_MODULES: list[str] = ["praho.core.billing_tasks", "praho.core.mail_tasks",
                                 "praho.core.payment_tasks", "praho.core.webhooks.tasks"]


@contextmanager
def task_transaction() -> Iterator[Session]:
    """A session committed when the task body succeeds, rolled back otherwise."""
    database = current_app.extensions["praho.db"]
    with database.transaction() as session:
        yield session


def task_actor(task_name: str) -> Actor:
    """The audit actor for work done by a Celery task."""
    return Actor(ActorType.TASK, task_name)
