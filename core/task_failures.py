"""Recording Celery task failures in the database, for the back office and monitoring.

Connected to Celery's ``task_failure`` signal in :func:`praho.core.tasks.celery_init_app`.
A failure is written in its own short transaction (the task's own transaction has rolled
back). Recording must never raise into Celery: if the database is down too, the failure
is logged and the worker goes on.
"""

from __future__ import annotations

import logging
import socket
import traceback as tb
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from praho.core.models.task_failures import TaskFailure
from praho.core.redaction import redact_payload, redact_text
from sqlalchemy import func, select
from sqlalchemy.orm import Session

log = logging.getLogger("praho.tasks")

MAX_TEXT = 8000


def record_task_failure(
    session: Session,
    *,
    task_name: str,
    task_id: str,
    args: Any,
    kwargs: Any,
    exception: BaseException,
    traceback_text: str,
    now: datetime,
    worker: str | None = None,
) -> TaskFailure:
    """Store one failed task execution, redacted and truncated."""
    arguments = redact_text(repr(redact_payload({"args": list(args or ()), "kwargs": dict(kwargs or {})})))
    row = TaskFailure(
        task_name=task_name[:200],
        task_id=str(task_id)[:155],
        arguments=arguments[:MAX_TEXT],
        exception_type=type(exception).__qualname__[:200],
        message=redact_text(str(exception))[:MAX_TEXT],
        traceback=redact_text(traceback_text)[-MAX_TEXT:],
        worker=(worker or "")[:200] or None,
        failed_at=now,
    )
    session.add(row)
    session.flush()
    return row


def resolve_task_failure(session: Session, failure_id: int, *, note: str) -> TaskFailure:
    """Mark a failure as dealt with (the back office's action), keeping the record."""
    row = session.get(TaskFailure, failure_id)
    if row is None:
        from praho.core.errors import NotFound

        raise NotFound(f"task failure {failure_id} does not exist")
    row.resolved = True
    row.resolved_note = note[:500]
    session.flush()
    return row


def unresolved_failures(session: Session) -> int:
    """How many failures nobody has looked at yet (the dashboard and /healthz detail)."""
    return session.execute(
        select(func.count(TaskFailure.id)).where(TaskFailure.resolved.is_(False))
    ).scalar_one()


def failure_recorder(open_transaction: Callable[[], Any]) -> Callable[..., None]:
    """A ``task_failure`` signal receiver writing through ``open_transaction()``."""

    def on_task_failure(sender: Any = None, task_id: str = "", exception: BaseException | None = None,
                        args: Any = None, kwargs: Any = None, traceback: Any = None,
                        einfo: Any = None, **_: Any) -> None:
        try:
            text = str(einfo) if einfo is not None else "".join(tb.format_tb(traceback))
            with open_transaction() as session:
                record_task_failure(
                    session,
                    task_name=getattr(sender, "name", None) or "unknown",
                    task_id=task_id,
                    args=args,
                    kwargs=kwargs,
                    exception=exception or RuntimeError("unknown failure"),
                    traceback_text=text,
                    now=datetime.now(UTC),
                    worker=socket.gethostname(),
                )
        except Exception:  # noqa: BLE001 - recording a failure must never fail the worker
            log.exception("could not record the failure of task %s", task_id)

    return on_task_failure
