"""Subscriptions: what a customer pays for every period, and the record of each period billed.

A subscription bills in advance (prepaid, as hosting is sold): the period that starts
on ``next_billing_date`` is invoiced on that day. ``current_period_start`` and
``current_period_end`` (exclusive: the first day of the next period) describe the period
in service now. Periods follow ``billing_cycle_months`` and keep ``anchor_day`` across
short months (31 Jan -> 28/29 Feb -> 31 Mar).

:class:`SubscriptionPeriod` is the billing-period claim: one row per (subscription,
period start), written in the same transaction as the period's document. Its unique
constraint is what makes the billing run idempotent: a rerun, a second worker or a
retry after a crash cannot bill the same period twice.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from praho.core.db import Base, ExactDecimal, JSONDocument, MinorUnits, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from praho.core.models.customers import Customer


class SubscriptionStatus(StrEnum):
    """Where a subscription is in its life."""

    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    SUSPENDED = "suspended"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"


S = SubscriptionStatus
# The one transition table. Cancelled (the customer ended it) and terminated (we ended
# it: non-payment, abuse) are final, as in the hosting panels finance teams know.
SUBSCRIPTION_TRANSITIONS: dict[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    S.TRIALING: frozenset({S.ACTIVE, S.SUSPENDED, S.CANCELLED, S.TERMINATED}),
    S.ACTIVE: frozenset({S.PAST_DUE, S.SUSPENDED, S.PAUSED, S.CANCELLED, S.TERMINATED}),
    S.PAST_DUE: frozenset({S.ACTIVE, S.SUSPENDED, S.CANCELLED, S.TERMINATED}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.CANCELLED, S.TERMINATED}),
    S.PAUSED: frozenset({S.ACTIVE, S.CANCELLED, S.TERMINATED}),
    S.CANCELLED: frozenset(),
    S.TERMINATED: frozenset(),
}
# Statuses the billing run looks at (a past-due subscription keeps being billed).
BILLABLE_STATUSES = (S.TRIALING, S.ACTIVE, S.PAST_DUE)
FINAL_STATUSES = (S.CANCELLED, S.TERMINATED)


class SuspensionReason(StrEnum):
    """Why a subscription is suspended; a late payment only lifts ``non_payment``."""

    NON_PAYMENT = "non_payment"
    MANUAL = "manual"
    ABUSE = "abuse"
    FRAUD = "fraud"


class ItemRole(StrEnum):
    """The plan itself, or an add-on billed with it (extra IP, backups, mailboxes)."""

    PLAN = "plan"
    ADDON = "addon"


class Subscription(IdMixin, TimestampMixin, Base):
    """A customer's recurring purchase of one plan and its add-ons."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_due", "status", "next_billing_date"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[SubscriptionStatus] = mapped_column(String(12))
    billing_cycle_months: Mapped[int] = mapped_column(Integer)
    # Day of month periods start on (1..31); clamped to short months, never drifts.
    anchor_day: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date)
    current_period_start: Mapped[date] = mapped_column(Date)
    # Exclusive: the first day of the following period.
    current_period_end: Mapped[date] = mapped_column(Date)
    # The day the next unbilled period starts and is invoiced; NULL once nothing is billed.
    next_billing_date: Mapped[date | None] = mapped_column(Date)
    trial_end: Mapped[date | None] = mapped_column(Date)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancellation_reason: Mapped[str | None] = mapped_column(String(300))
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspension_reason: Mapped[str | None] = mapped_column(String(20))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    items: Mapped[list[SubscriptionItem]] = relationship(
        back_populates="subscription", order_by="SubscriptionItem.id", cascade="save-update, merge"
    )
    # Read-only, never loaded by accident: lets the back office search subscriptions by
    # the customer's name or code (a join), nothing else uses it.
    customer: Mapped[Customer] = relationship(viewonly=True, lazy="raise_on_sql")

    @property
    def active_items(self) -> list[SubscriptionItem]:
        """Items billed now (removed add-ons stay in ``items`` for history)."""
        return [item for item in self.items if item.removed_at is None]

    @property
    def is_final(self) -> bool:
        """True once cancelled or terminated."""
        return self.status in FINAL_STATUSES

    def __repr__(self) -> str:
        return f"<Subscription {self.id} {self.status} next {self.next_billing_date}>"


class SubscriptionItem(IdMixin, TimestampMixin, Base):
    """One price on a subscription with its quantity; add-ons are extra items."""

    __tablename__ = "subscription_items"

    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    price_id: Mapped[int] = mapped_column(ForeignKey("prices.id"))
    role: Mapped[ItemRole] = mapped_column(String(8), default=ItemRole.PLAN)
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal(18, 6))
    # What the current period was billed at for this item: the basis of proration credits.
    billed_unit_amount_minor: Mapped[int | None] = mapped_column(MinorUnits)
    billed_quantity: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 6))
    billed_through: Mapped[date | None] = mapped_column(Date)
    # The issued line that charged the item for the rest of the current period.
    billed_line_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_lines.id"))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    subscription: Mapped[Subscription] = relationship(back_populates="items")


class SubscriptionEvent(IdMixin, Base):
    """Append-only history: every status transition and every change to a subscription."""

    __tablename__ = "subscription_events"

    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    event: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(300))
    actor: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


class SubscriptionPeriod(IdMixin, Base):
    """The claim on one billed period: unique per (subscription, period start)."""

    __tablename__ = "subscription_periods"
    __table_args__ = (UniqueConstraint("subscription_id", "period_start"),)

    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    period_start: Mapped[date] = mapped_column(Date)
    # Exclusive end, like Subscription.current_period_end.
    period_end: Mapped[date] = mapped_column(Date)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    billing_run_id: Mapped[int | None] = mapped_column(ForeignKey("billing_runs.id"), index=True)
    total_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PendingProration(IdMixin, Base):
    """A proration line waiting for the subscription's next renewal document."""

    __tablename__ = "pending_prorations"

    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    subscription_item_id: Mapped[int | None] = mapped_column(ForeignKey("subscription_items.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    item_name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(200))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    price_id: Mapped[int | None] = mapped_column(ForeignKey("prices.id"))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal(18, 6))
    unit_price: Mapped[Decimal] = mapped_column(ExactDecimal(20, 6))
    unit_code: Mapped[str] = mapped_column(String(3), default="C62")
    net_amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    # Set when a renewal document picked the line up.
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))


__all__ = [
    "BILLABLE_STATUSES",
    "FINAL_STATUSES",
    "ItemRole",
    "PendingProration",
    "SUBSCRIPTION_TRANSITIONS",
    "Subscription",
    "SubscriptionEvent",
    "SubscriptionItem",
    "SubscriptionPeriod",
    "SubscriptionStatus",
    "SuspensionReason",
]
