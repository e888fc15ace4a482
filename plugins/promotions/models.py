"""The promotions plugin's tables: campaigns, coupons and their codes, redemptions and uses.

* :class:`Campaign`: dates and an optional budget (in one currency) that discounts draw on.
* :class:`Coupon`: the rules (discount, duration, limits, validity, minimum order,
  products and plans, customer segments). :class:`CouponCode` is what customers type:
  one code, or a generated batch of unique single-use codes.
* :class:`Redemption`: a coupon redeemed by a customer, for a subscription (applied at its
  renewals) or a one-off invoice; :class:`RedemptionUse` is one document it discounted.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from praho.core.db import Base, ExactDecimal, JSONDocument, MinorUnits, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class DiscountType(StrEnum):
    """How a coupon discounts."""

    PERCENTAGE = "percentage"
    FIXED = "fixed"  # an amount per currency
    FREE_MONTHS = "free_months"  # the covered lines free for N months
    BOGO = "bogo"  # buy one, get one: every second unit of a product free


class Duration(StrEnum):
    """For how many billing cycles a subscription's discount repeats."""

    ONCE = "once"
    REPEATING = "repeating"
    FOREVER = "forever"


class CustomerType(StrEnum):
    """Segment by buyer type."""

    B2B = "b2b"
    B2C = "b2c"


class Campaign(IdMixin, TimestampMixin, Base):
    """A promotion campaign: its dates and the budget its coupons' discounts draw on."""

    __tablename__ = "promo_campaigns"

    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    budget_minor: Mapped[int | None] = mapped_column(MinorUnits)
    currency: Mapped[str | None] = mapped_column(String(3))
    spent_minor: Mapped[int] = mapped_column(MinorUnits, default=0)


class Coupon(IdMixin, TimestampMixin, Base):
    """The rules of a discount; customers redeem it through one of its codes."""

    __tablename__ = "promo_coupons"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("promo_campaigns.id"), index=True)
    discount_type: Mapped[DiscountType] = mapped_column(String(12))
    percent: Mapped[Decimal | None] = mapped_column(ExactDecimal(7, 4))
    # {"RON": 1000, "EUR": 200}: the fixed discount in each currency it is offered in.
    amounts: Mapped[dict[str, int]] = mapped_column(JSONDocument, default=dict)
    free_months: Mapped[int | None] = mapped_column(Integer)
    bogo_product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    duration: Mapped[Duration] = mapped_column(String(10))
    duration_cycles: Mapped[int | None] = mapped_column(Integer)
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    times_redeemed: Mapped[int] = mapped_column(Integer, default=0)
    max_per_customer: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    # {"RON": 10000}: the minimum order (net, before discounts) per currency.
    min_order: Mapped[dict[str, int]] = mapped_column(JSONDocument, default=dict)
    product_ids: Mapped[list[int]] = mapped_column(JSONDocument, default=list)
    price_ids: Mapped[list[int]] = mapped_column(JSONDocument, default=list)
    new_customers_only: Mapped[bool] = mapped_column(Boolean, default=False)
    countries: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    customer_type: Mapped[str | None] = mapped_column(String(3))
    customer_tag: Mapped[str | None] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(100))


class CouponCode(IdMixin, TimestampMixin, Base):
    """A code customers type; batch codes are unique and usually single-use."""

    __tablename__ = "promo_coupon_codes"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("promo_coupons.id"), index=True)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    batch: Mapped[str | None] = mapped_column(String(60), index=True)


class RedemptionStatus(StrEnum):
    """Whether a redemption still discounts renewals."""

    ACTIVE = "active"
    EXHAUSTED = "exhausted"
    REVOKED = "revoked"


class Redemption(IdMixin, TimestampMixin, Base):
    """A coupon redeemed by a customer for a subscription or a one-off invoice."""

    __tablename__ = "promo_redemptions"
    __table_args__ = (Index("ix_promo_redemptions_coupon_customer", "coupon_id", "customer_id"),)

    key: Mapped[str] = mapped_column(String(120), unique=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("promo_coupons.id"))
    code_id: Mapped[int] = mapped_column(ForeignKey("promo_coupon_codes.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[RedemptionStatus] = mapped_column(String(10), default=RedemptionStatus.ACTIVE)
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    redeemed_by: Mapped[str] = mapped_column(String(100))
    cycles_used: Mapped[int] = mapped_column(Integer, default=0)
    months_used: Mapped[int] = mapped_column(Integer, default=0)
    discount_total_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


class RedemptionUse(IdMixin, TimestampMixin, Base):
    """One issued document a redemption discounted (idempotent per document)."""

    __tablename__ = "promo_redemption_uses"
    __table_args__ = (UniqueConstraint("redemption_id", "invoice_id"),)

    redemption_id: Mapped[int] = mapped_column(ForeignKey("promo_redemptions.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    months: Mapped[int] = mapped_column(Integer, default=0)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
