"""Outgoing e-mail, stored before it is sent (an outbox), one row per logical message."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from praho.core.db import Base, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class EmailStatus(StrEnum):
    """Delivery state of a message."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class EmailMessage(IdMixin, TimestampMixin, Base):
    """A rendered message. ``key`` makes queuing idempotent: same key, same message."""

    __tablename__ = "email_messages"

    key: Mapped[str] = mapped_column(String(200), unique=True)
    to_address: Mapped[str] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    status: Mapped[EmailStatus] = mapped_column(String(8), default=EmailStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    related_type: Mapped[str | None] = mapped_column(String(40))
    related_id: Mapped[str | None] = mapped_column(String(60))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
