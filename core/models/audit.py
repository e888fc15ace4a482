"""Append-only audit trail with a hash chain that makes tampering detectable."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from praho.core.db import Base, JSONDocument, MinorUnits, UTCDateTime
from praho.core.models.base import IdMixin
from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column


class ActorType(StrEnum):
    """Who caused an event."""

    USER = "user"
    TASK = "task"
    WEBHOOK = "webhook"
    CLI = "cli"
    SYSTEM = "system"
    API = "api"


class AuditEvent(IdMixin, Base):
    """Who did what to which object, with amounts. ``seq``/``hash`` are set at commit."""

    __tablename__ = "audit_events"

    # Position in the chain, assigned under a lock when the transaction commits.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_type: Mapped[ActorType] = mapped_column(String(10))
    actor_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(60))
    amount_minor: Mapped[int | None] = mapped_column(MinorUnits)
    currency: Mapped[str | None] = mapped_column(String(3))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """Single row holding the chain's last position; locked while events are sealed."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
