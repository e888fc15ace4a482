"""Refunds as the gateways report them (webhooks), recorded once per gateway reference.

A gateway refund may be started by us (our refund key travels in its metadata) or at the
gateway itself (dashboard, dispute). This table is the gateway's side of the story; the
refund services turn a succeeded refund into a credit note and ledger postings.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from praho.core.clock import utcnow
from praho.core.db import Base, MinorUnits, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class GatewayRefundStatus(StrEnum):
    """A refund's state at the gateway."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # may follow succeeded: the card network returned the money
    CANCELED = "canceled"


# Which reported state may follow which (late or repeated reports change nothing).
GATEWAY_REFUND_TRANSITIONS: dict[GatewayRefundStatus, frozenset[GatewayRefundStatus]] = {
    GatewayRefundStatus.PENDING: frozenset(
        {GatewayRefundStatus.SUCCEEDED, GatewayRefundStatus.FAILED, GatewayRefundStatus.CANCELED}
    ),
    GatewayRefundStatus.SUCCEEDED: frozenset({GatewayRefundStatus.FAILED}),
    GatewayRefundStatus.FAILED: frozenset(),
    GatewayRefundStatus.CANCELED: frozenset(),
}


class GatewayRefund(IdMixin, TimestampMixin, Base):
    """One refund at a gateway (Stripe re_..., PayPal refund id)."""

    __tablename__ = "gateway_refunds"
    __table_args__ = (UniqueConstraint("gateway_id", "gateway_reference"),)

    gateway_id: Mapped[str] = mapped_column(String(30))
    gateway_reference: Mapped[str] = mapped_column(String(255))
    # The refunded payment at the gateway (PaymentIntent / capture id).
    payment_reference: Mapped[str | None] = mapped_column(String(255), index=True)
    # Our refund key when we started it (metadata praho_key / custom_id).
    refund_key: Mapped[str | None] = mapped_column(String(255), index=True)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[GatewayRefundStatus] = mapped_column(String(10), index=True)
    failure_reason: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
