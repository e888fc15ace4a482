"""Usage metering tables: meters, charges, events, ratings, API keys and alerts.

``usage_events`` is the one large table. Its primary key is (meter_id, customer_id,
event_id): an event id is the sender's own, so it is unique per customer, never across
customers (one customer's "usage-1" must not swallow another's). That unique constraint
makes ingestion idempotent and is also the only unique index, and the table carries no
foreign keys because every row is validated in bulk before it is written
(a per-row foreign-key check would cost more than the insert itself). Quantities are
stored as integer millionths (``quantity_micro``) so SUM and MAX stay exact on every
database, including SQLite, whose NUMERIC would turn them into floats.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from praho.core.db import Base, ExactDecimal, JSONDocument, MinorUnits, UTCDateTime
from praho.core.models.base import IdMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column


class Meter(IdMixin, Base):
    """What is measured and how a period's events become one quantity."""

    __tablename__ = "usage_meters"

    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(100))
    # Shown to people (GB, h, mailbox); unit_code is the UN/ECE Rec 20 code on invoices.
    unit: Mapped[str] = mapped_column(String(20))
    unit_code: Mapped[str] = mapped_column(String(3), default="C62")
    aggregation: Mapped[str] = mapped_column(String(12))
    # The event property aggregated (None only for ``count``).
    property: Mapped[str | None] = mapped_column(String(60))
    rounding: Mapped[str] = mapped_column(String(8), default="none")
    rounding_increment: Mapped[Decimal] = mapped_column(ExactDecimal(18, 6), default=Decimal(1))
    category: Mapped[str] = mapped_column(String(12))
    # Event name of the matching Stripe billing meter, when usage is also reported there.
    stripe_event_name: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MeterCharge(IdMixin, Base):
    """How a meter's quantity is charged for subscriptions to one catalog price."""

    __tablename__ = "usage_meter_charges"
    __table_args__ = (UniqueConstraint("meter_id", "price_id"),)

    meter_id: Mapped[int] = mapped_column(ForeignKey("usage_meters.id"))
    price_id: Mapped[int] = mapped_column(ForeignKey("prices.id"), index=True)
    model: Mapped[str] = mapped_column(String(10))
    # Major units of the price's currency, exact (may be below one minor unit).
    unit_price: Mapped[Decimal | None] = mapped_column(ExactDecimal(20, 6))
    # [{"up_to": "1000" | null, "unit_price": "0.05", "flat": "0"}], ascending.
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    package_size: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 6))
    package_price: Mapped[Decimal | None] = mapped_column(ExactDecimal(20, 6))
    included_units: Mapped[Decimal] = mapped_column(ExactDecimal(18, 6), default=Decimal(0))
    minimum_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UsageEvent(Base):
    """One usage event, accepted once per (meter, customer, event id).

    The customer is the sender's scope: a customer's API key reports only for that
    customer, and an integration key or a trusted caller reporting for many customers
    keeps each customer's ids apart, so no sender can collide with (or probe) another
    customer's ids.
    """

    __tablename__ = "usage_events"
    __table_args__ = (
        PrimaryKeyConstraint("meter_id", "customer_id", "event_id"),
        Index(
            "ix_usage_events_subscription_meter_time", "subscription_id", "meter_id", "occurred_at"
        ),
    )

    meter_id: Mapped[int] = mapped_column(BigInteger)
    # Byte-order collation on PostgreSQL: the key is an opaque identifier, so the
    # locale-aware comparison (strcoll) in every index step buys nothing.
    event_id: Mapped[str] = mapped_column(
        String(100).with_variant(String(100, collation="C"), "postgresql")
    )
    subscription_id: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The aggregated property in millionths (1 for ``count`` meters).
    quantity_micro: Mapped[int] = mapped_column(BigInteger)
    # The property's value as text, for ``unique_count`` meters.
    unique_key: Mapped[str | None] = mapped_column(String(200))
    # Plain JSON, not JSONB: stored for audit and re-rating, never queried by content.
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UsageRating(IdMixin, Base):
    """A rated (subscription, charge, period): revision 0 in arrears, then adjustments."""

    __tablename__ = "usage_ratings"
    __table_args__ = (
        UniqueConstraint("subscription_id", "meter_charge_id", "period_start", "revision"),
    )

    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    meter_charge_id: Mapped[int] = mapped_column(ForeignKey("usage_meter_charges.id"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("usage_meters.id"))
    period_start: Mapped[date] = mapped_column(Date)
    # Exclusive end (the next period's first day).
    period_end: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer)
    # The period's quantity as known by this revision (rounded) and the amount billed
    # for the whole period so far; an adjustment bills the difference.
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal(24, 6))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    total_amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


class UsageApiKey(IdMixin, Base):
    """An ingestion key for one customer, or for an integration (any customer) when None."""

    __tablename__ = "usage_api_keys"

    name: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    # SHA-256 of the whole key: keys are 192-bit random, so a slow hash adds nothing.
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UsageAlert(IdMixin, Base):
    """A threshold on one subscription's meter: a quantity, or a percent of included units."""

    __tablename__ = "usage_alerts"

    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("usage_meters.id"))
    threshold_quantity: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    threshold_percent: Mapped[Decimal | None] = mapped_column(ExactDecimal(9, 4))
    # Defaults to the customer's billing e-mail.
    email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UsageAlertFiring(IdMixin, Base):
    """An alert that fired for a period: unique, so it fires once per period."""

    __tablename__ = "usage_alert_firings"
    __table_args__ = (UniqueConstraint("alert_id", "period_start"),)

    alert_id: Mapped[int] = mapped_column(ForeignKey("usage_alerts.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    threshold: Mapped[Decimal] = mapped_column(ExactDecimal(24, 6))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal(24, 6))
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UsageStripeCursor(IdMixin, Base):
    """How far a meter's events have been reported to Stripe (by ingestion time)."""

    __tablename__ = "usage_stripe_cursors"

    meter_id: Mapped[int] = mapped_column(ForeignKey("usage_meters.id"), unique=True)
    reported_through: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UsageStripeRefusal(IdMixin, Base):
    """An event Stripe refused for good (a 4xx about the event): never sent again.

    Kept so staff see what Stripe does not have (back office, Usage > Stripe refusals)
    while the report cursor moves past it; transient failures (network, 5xx, 429) are
    not recorded here, they are retried by the next run.
    """

    __tablename__ = "usage_stripe_refusals"
    __table_args__ = (UniqueConstraint("meter_id", "customer_id", "event_id"),)

    meter_id: Mapped[int] = mapped_column(ForeignKey("usage_meters.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(100))
    identifier: Mapped[str] = mapped_column(String(100))
    http_status: Mapped[int] = mapped_column(Integer)
    # Stripe's error code or type (``invalid_request_error``, ``idempotency_error``...).
    error_code: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    refused_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
