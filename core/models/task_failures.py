"""Celery task failures, kept so the back office shows what background work went wrong."""

from __future__ import annotations

from datetime import datetime

from praho.core.db import Base, UTCDateTime
from praho.core.models.base import IdMixin
from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class TaskFailure(IdMixin, Base):
    """One failed execution of a task (after its own retries, if any, were used up).

    Arguments and messages are stored redacted: a task argument may carry a token.
    """

    __tablename__ = "task_failures"

    task_name: Mapped[str] = mapped_column(String(200), index=True)
    task_id: Mapped[str] = mapped_column(String(155), index=True)
    arguments: Mapped[str] = mapped_column(Text)
    exception_type: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(200))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    resolved_note: Mapped[str | None] = mapped_column(String(500))
