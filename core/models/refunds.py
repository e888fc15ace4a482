"""Refunds: giving back (part of) a payment, to the card or to the customer's credit.

A :class:`Refund` moves through :data:`REFUND_TRANSITIONS` (pending -> processing ->
approved -> completed, or rejected, failed, cancelled); every change writes a
:class:`RefundEvent`. Its ``reference`` (REF-YYYYMMDD-XXXXXXXX) is unique and is the
gateway's idempotency key, so asking the gateway again can never refund twice. The
amount is reserved against the payment when the refund is created (under the
payment's row lock), so refunds never exceed the payment, also when two race.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from praho.core.db import Base, JSONDocument, MinorUnits, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship


class RefundReason(StrEnum):
    """Why money is given back."""

    CUSTOMER_REQUEST = "customer_request"
    ERROR_CORRECTION = "error_correction"
    DISPUTE = "dispute"
    FRAUD = "fraud"
    SERVICE_FAILURE = "service_failure"
    DUPLICATE = "duplicate"
    OTHER = "other"


class RefundStatus(StrEnum):
    """Where a refund is in its workflow."""

    PENDING = "pending"  # requested
    PROCESSING = "processing"  # being reviewed by finance
    APPROVED = "approved"  # approved; the gateway is (being) asked
    COMPLETED = "completed"  # money given back (or credited); ledger posted
    REJECTED = "rejected"
    FAILED = "failed"  # the gateway refused it; nothing moved
    CANCELLED = "cancelled"


R = RefundStatus
REFUND_TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    R.PENDING: frozenset({R.PROCESSING, R.REJECTED, R.CANCELLED}),
    R.PROCESSING: frozenset({R.APPROVED, R.REJECTED, R.CANCELLED}),
    R.APPROVED: frozenset({R.COMPLETED, R.FAILED, R.CANCELLED}),
    R.COMPLETED: frozenset(),
    R.REJECTED: frozenset(),
    R.FAILED: frozenset(),
    R.CANCELLED: frozenset(),
}
# Refunds that hold (or used) part of the payment: the refundable rest excludes them.
RESERVING_STATUSES = (R.PENDING, R.PROCESSING, R.APPROVED, R.COMPLETED)


class RefundDestination(StrEnum):
    """Where the money goes: back the way it came, or to the customer's credit balance."""

    ORIGINAL = "original"  # the card/PayPal through the gateway, or the bank (paid out by hand)
    CUSTOMER_CREDIT = "customer_credit"


class Refund(IdMixin, TimestampMixin, Base):
    """A full or partial refund of one payment."""

    __tablename__ = "refunds"

    reference: Mapped[str] = mapped_column(String(21), unique=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[RefundReason] = mapped_column(String(20))
    destination: Mapped[RefundDestination] = mapped_column(String(16))
    status: Mapped[RefundStatus] = mapped_column(String(12), default=R.PENDING, index=True)
    # How the amount splits: {"credit": minor units from the unallocated part,
    # "invoices": {"<invoice id>": minor units}}; fixed at creation.
    split: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    internal_note: Mapped[str | None] = mapped_column(Text)
    customer_note: Mapped[str | None] = mapped_column(Text)
    gateway_note: Mapped[str | None] = mapped_column(Text)
    gateway_id: Mapped[str | None] = mapped_column(String(40))
    gateway_reference: Mapped[str | None] = mapped_column(String(255))
    gateway_status: Mapped[str | None] = mapped_column(String(12))
    bank_reference: Mapped[str | None] = mapped_column(String(100))
    requested_by: Mapped[str | None] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    events: Mapped[list[RefundEvent]] = relationship(
        back_populates="refund", order_by="RefundEvent.id"
    )


class RefundEvent(IdMixin, Base):
    """One change of a refund: a status move or a note, who made it and when."""

    __tablename__ = "refund_events"

    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    actor: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    refund: Mapped[Refund] = relationship(back_populates="events")


__all__ = [
    "REFUND_TRANSITIONS",
    "RESERVING_STATUSES",
    "Refund",
    "RefundDestination",
    "RefundEvent",
    "RefundReason",
    "RefundStatus",
]
