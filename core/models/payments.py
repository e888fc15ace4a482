"""Payments: methods on file, attempts sent to gateways, money received and its allocation.

A :class:`PaymentAttempt` is written (and committed) before a gateway is called; its
``key`` is the gateway idempotency key, so asking again can never charge twice. Money
actually received is a :class:`Payment` (card, PayPal, bank transfer, or customer
credit used), split over invoices by :class:`PaymentAllocation`; what is not allocated
is customer credit. :class:`IdempotencyRecord` gives callers Stripe's key semantics.
Card numbers are never stored: a method is a gateway token plus what may be shown.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from praho.core.db import Base, JSONDocument, MinorUnits, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship


class MethodStatus(StrEnum):
    """Whether a method on file may be charged."""

    ACTIVE = "active"
    REMOVED = "removed"


class AttemptStatus(StrEnum):
    """Our record of one gateway request (Kill Bill's transaction status, lower case).

    ``unknown`` is where every attempt starts: it is committed before the request is
    sent, so a crash mid-call leaves an attempt the settle task can ask the gateway about.
    """

    UNKNOWN = "unknown"
    PENDING = "pending"
    PROCESSED = "processed"
    ERROR = "error"
    CANCELED = "canceled"


# Which result may follow which. PROCESSED wins over every earlier state (money moved,
# whatever we believed before: a late success after a recorded timeout, an out-of-order
# webhook); nothing leaves PROCESSED (money comes back only by refund or dispute).
ATTEMPT_TRANSITIONS: dict[AttemptStatus, frozenset[AttemptStatus]] = {
    AttemptStatus.UNKNOWN: frozenset({AttemptStatus.PENDING, AttemptStatus.PROCESSED,
                                      AttemptStatus.ERROR, AttemptStatus.CANCELED}),
    AttemptStatus.PENDING: frozenset({AttemptStatus.PROCESSED, AttemptStatus.ERROR,
                                      AttemptStatus.CANCELED}),
    AttemptStatus.ERROR: frozenset({AttemptStatus.PROCESSED}),
    AttemptStatus.CANCELED: frozenset({AttemptStatus.PROCESSED}),
    AttemptStatus.PROCESSED: frozenset(),
}
IN_FLIGHT = frozenset({AttemptStatus.UNKNOWN, AttemptStatus.PENDING})


class AttemptReason(StrEnum):
    """Why an attempt was made: the billing run, dunning, or a person."""

    RENEWAL = "renewal"
    RETRY = "retry"
    MANUAL = "manual"


class PaymentKind(StrEnum):
    """How money reached us."""

    CARD = "card"
    PAYPAL = "paypal"
    BANK_TRANSFER = "bank_transfer"
    CREDIT = "credit"


class PaymentRecordStatus(StrEnum):
    """A received payment's state (refunds are recorded by the refund services)."""

    RECEIVED = "received"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class PaymentMethod(IdMixin, TimestampMixin, Base):
    """A method on file: the gateway's token and what may be shown, never a card number."""

    __tablename__ = "payment_methods"
    __table_args__ = (
        UniqueConstraint("gateway_id", "token"),
        # At most one default per customer, enforced by the database.
        Index("ix_payment_methods_one_default", "customer_id", unique=True,
              sqlite_where=text("is_default"), postgresql_where=text("is_default")),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    gateway_id: Mapped[str] = mapped_column(String(40))
    token: Mapped[str] = mapped_column(String(255))
    # The gateway's customer object (Stripe cus_..., PayPal payer id), when it has one.
    customer_reference: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20), default=PaymentKind.CARD)
    brand: Mapped[str | None] = mapped_column(String(30))
    last4: Mapped[str | None] = mapped_column(String(4))
    exp_month: Mapped[int | None] = mapped_column(Integer)
    exp_year: Mapped[int | None] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[MethodStatus] = mapped_column(String(10), default=MethodStatus.ACTIVE)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def label(self) -> str:
        """What a person sees: ``visa •••• 4242 (12/2030)``."""
        parts = [self.brand or self.kind]
        if self.last4:
            parts.append(f"•••• {self.last4}")
        if self.exp_month and self.exp_year:
            parts.append(f"({self.exp_month:02d}/{self.exp_year})")
        return " ".join(parts)


class PaymentAttempt(IdMixin, TimestampMixin, Base):
    """One request to a gateway to collect an invoice, recorded before it is sent."""

    __tablename__ = "payment_attempts"
    __table_args__ = (
        # Attempt 1 of an invoice is the billing run's: a re-run finds it, never charges again.
        UniqueConstraint("invoice_id", "attempt_number"),
        Index("ix_payment_attempts_gateway_reference", "gateway_id", "gateway_reference"),
    )

    # Sent to the gateway as its idempotency key ("pa_" + 32 hex digits).
    key: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    attempt_number: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[AttemptReason] = mapped_column(String(10), default=AttemptReason.RENEWAL)
    gateway_id: Mapped[str] = mapped_column(String(40))
    method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id"))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[AttemptStatus] = mapped_column(String(10), default=AttemptStatus.UNKNOWN,
                                                  index=True)
    gateway_reference: Mapped[str | None] = mapped_column(String(255))
    error_code: Mapped[str | None] = mapped_column(String(80))
    error_message: Mapped[str | None] = mapped_column(String(500))
    hard_decline: Mapped[bool] = mapped_column(Boolean, default=False)
    fee_minor: Mapped[int | None] = mapped_column(MinorUnits)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The settle task's bookkeeping: when it last asked the gateway, and how often.
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checks: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str | None] = mapped_column(String(100))
    # The gateway's last answer, redacted (core.redaction) before it is stored.
    raw_response: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    method: Mapped[PaymentMethod | None] = relationship()

    @property
    def in_flight(self) -> bool:
        """True while the outcome is not final (unknown or pending)."""
        return self.status in IN_FLIGHT


class Payment(IdMixin, TimestampMixin, Base):
    """Money received (or customer credit used), allocated to invoices; the rest is credit."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("gateway_id", "gateway_reference"),
        UniqueConstraint("kind", "bank_reference"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    fee_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    gateway_id: Mapped[str | None] = mapped_column(String(40))
    gateway_reference: Mapped[str | None] = mapped_column(String(255))
    # One payment per processed attempt, however many times the result is applied.
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("payment_attempts.id"), unique=True)
    bank_reference: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[PaymentRecordStatus] = mapped_column(
        String(20), default=PaymentRecordStatus.RECEIVED
    )
    refunded_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    recorded_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(300))

    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", order_by="PaymentAllocation.id"
    )

    @property
    def allocated_minor(self) -> int:
        """The part of the payment applied to invoices."""
        return sum(a.amount_minor for a in self.allocations)

    @property
    def unallocated_minor(self) -> int:
        """The part held as customer credit (not applied, not refunded)."""
        return self.amount_minor - self.allocated_minor - self.refunded_minor


class PaymentAllocation(IdMixin, TimestampMixin, Base):
    """Part of a payment applied to one invoice. Append-only; refunds add negative rows."""

    __tablename__ = "payment_allocations"

    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    # receipt: allocated when the money arrived; credit: moved later from customer credit.
    source: Mapped[str] = mapped_column(String(10), default="receipt")

    payment: Mapped[Payment] = relationship(back_populates="allocations")


class IdempotencyRecord(IdMixin, Base):
    """A caller's idempotency key (Stripe semantics), kept at least 24 hours.

    The same key with the same parameters returns the stored response; the same key
    with different parameters is refused (:class:`praho.core.errors.IdempotencyConflict`).
    """

    __tablename__ = "idempotency_records"

    key: Mapped[str] = mapped_column(String(255), unique=True)
    operation: Mapped[str] = mapped_column(String(40))
    # SHA-256 of the canonical JSON of the request parameters.
    fingerprint: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
