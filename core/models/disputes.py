"""Disputes (chargebacks) the gateways report, recorded once per gateway reference."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from praho.core.clock import utcnow
from praho.core.db import Base, MinorUnits, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class DisputeStatus(StrEnum):
    """Where a dispute stands, as far as the books care."""

    OPEN = "open"  # funds withdrawn or at risk; evidence may be due
    WON = "won"  # closed in our favour, funds returned
    LOST = "lost"  # closed against us, funds gone
    CLOSED = "closed"  # closed otherwise (inquiry ended, warning closed)


class Dispute(IdMixin, TimestampMixin, Base):
    """A customer's dispute of a payment at the gateway (Stripe dispute, PayPal case)."""

    __tablename__ = "disputes"
    __table_args__ = (UniqueConstraint("gateway_id", "gateway_reference"),)

    gateway_id: Mapped[str] = mapped_column(String(30))
    gateway_reference: Mapped[str] = mapped_column(String(255))
    # The disputed charge or capture at the gateway, and the payment intent when known.
    payment_reference: Mapped[str | None] = mapped_column(String(255), index=True)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[DisputeStatus] = mapped_column(
        String(10), default=DisputeStatus.OPEN, index=True
    )
    gateway_status: Mapped[str] = mapped_column(String(50), default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
