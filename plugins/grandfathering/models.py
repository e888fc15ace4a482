"""The grandfathering plugin's tables: price locks, price changes, their migration plan, notices.

* :class:`PriceLock`: a customer keeps a price (optionally for one subscription) until it
  expires or is revoked. Rows are changed only through the lock services, which audit
  every assignment, change, revocation and expiry.
* :class:`PriceChange`: one row per new price version announced through the catalog
  service (the ``price_changed`` hook), with the amounts before and after.
* :class:`PriceMigration`: the migration plan, one row per (price change, subscription):
  when the subscription moves, or which lock protects it.
* :class:`PriceNotice`: every notice e-mailed (price change or lock expiry); price
  resolution reads these rows to never bill a higher price before the notice has run.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from praho.core.db import Base, MinorUnits, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class PriceLock(IdMixin, TimestampMixin, Base):
    """A customer's locked unit price for one catalog price (and optionally one subscription)."""

    __tablename__ = "pricelock_locks"
    __table_args__ = (
        # A bulk lock is idempotent: one lock per subscription per bulk operation.
        UniqueConstraint("bulk_key", "subscription_id"),
        Index("ix_pricelock_locks_scope", "customer_id", "price_id"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    price_id: Mapped[int] = mapped_column(ForeignKey("prices.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    unit_amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(300))
    granted_by: Mapped[str] = mapped_column(String(100))
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The lock covers periods starting before this day; NULL: no expiry.
    expires_on: Mapped[date | None] = mapped_column(Date)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    bulk_key: Mapped[str | None] = mapped_column(String(100))
    # Set once the expiry was announced; the catalog price applies from that day on.
    expiry_notice_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expiry_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def covers(self, day: date) -> bool:
        """True when the lock applies to a period starting on ``day``."""
        return self.revoked_at is None and (self.expires_on is None or day < self.expires_on)


class PriceChange(IdMixin, TimestampMixin, Base):
    """A new price version announced through the catalog (the ``price_changed`` hook)."""

    __tablename__ = "pricelock_price_changes"

    price_id: Mapped[int] = mapped_column(ForeignKey("prices.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("price_versions.id"), unique=True)
    # The version in effect before this one (what "old price" means).
    previous_version_id: Mapped[int] = mapped_column(ForeignKey("price_versions.id"))
    old_amount_minor: Mapped[int] = mapped_column(MinorUnits)
    new_amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    effective_from: Mapped[date] = mapped_column(Date)
    notice_days: Mapped[int] = mapped_column(Integer)
    announced_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def is_increase(self) -> bool:
        """A rise needs notice; a decrease applies from its effective date."""
        return self.new_amount_minor > self.old_amount_minor


class MigrationStatus(StrEnum):
    """Where one subscription is in a price change's migration plan."""

    PLANNED = "planned"  # notice not sent yet
    NOTIFIED = "notified"  # notice sent; moves on ``move_on``
    PROTECTED = "protected"  # a price lock keeps the old price
    MIGRATED = "migrated"  # billed at the new price
    SKIPPED = "skipped"  # ended before moving, or already paying at least the new price


class PriceMigration(IdMixin, TimestampMixin, Base):
    """One subscription in a price change's migration plan."""

    __tablename__ = "pricelock_migrations"
    __table_args__ = (UniqueConstraint("price_change_id", "subscription_id"),)

    price_change_id: Mapped[int] = mapped_column(ForeignKey("pricelock_price_changes.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    status: Mapped[MigrationStatus] = mapped_column(String(10), index=True)
    # First renewal at the new price, and the day its notice is due (move_on - notice days).
    move_on: Mapped[date | None] = mapped_column(Date)
    notice_due_on: Mapped[date | None] = mapped_column(Date)
    lock_id: Mapped[int | None] = mapped_column(ForeignKey("pricelock_locks.id"))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("pricelock_notices.id"))
    migrated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NoticeKind(StrEnum):
    """Why a customer was told about a higher price."""

    PRICE_CHANGE = "price_change"
    LOCK_EXPIRY = "lock_expiry"


class PriceNotice(IdMixin, TimestampMixin, Base):
    """A notice e-mailed to a customer: old and new price, and from when the new one applies."""

    __tablename__ = "pricelock_notices"

    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[NoticeKind] = mapped_column(String(12))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    price_id: Mapped[int] = mapped_column(ForeignKey("prices.id"))
    # The catalog version the notice announces (the one in effect when it applies).
    version_id: Mapped[int] = mapped_column(ForeignKey("price_versions.id"))
    lock_id: Mapped[int | None] = mapped_column(ForeignKey("pricelock_locks.id"))
    old_amount_minor: Mapped[int] = mapped_column(MinorUnits)
    new_amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Renewals starting on or after this day may be billed at the new price.
    applies_from: Mapped[date] = mapped_column(Date)
    email_message_id: Mapped[int | None] = mapped_column(ForeignKey("email_messages.id"))
