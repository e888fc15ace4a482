"""Inbound webhook events, recorded once per (source, event id)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from praho.core.clock import utcnow
from praho.core.db import Base, JSONDocument, UTCDateTime
from praho.core.models.base import IdMixin
from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column


class WebhookStatus(StrEnum):
    """Processing state of a received event."""

    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"
    RETRYING = "retrying"
    FAILED = "failed"


class WebhookEvent(IdMixin, Base):
    """A verified event from a gateway. The payload copy is redacted before storing."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        # The applier's queue: the events waiting, in arrival order. Partial, so taking the
        # oldest few reads only those, however many events were applied before them and
        # whatever the statistics say (scanning the primary key and filtering on status
        # read every applied event first; sorting all waiting events read a whole backlog).
        Index(
            "ix_webhook_events_received",
            "id",
            postgresql_where=text("status = 'received'"),
            sqlite_where=text("status = 'received'"),
        ),
    )

    source: Mapped[str] = mapped_column(String(30))
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(100), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[WebhookStatus] = mapped_column(String(10), default=WebhookStatus.RECEIVED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
