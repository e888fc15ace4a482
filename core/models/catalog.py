"""Catalog: products, prices and dated price versions.

A price change is a new :class:`PriceVersion` with an ``effective_from`` date; the old
version stays, so any past or future invoice can be explained.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from praho.core.db import Base, MinorUnits
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship


class ProductKind(StrEnum):
    """What a product is, for reports and for provisioning plugins."""

    HOSTING = "hosting"
    VPS = "vps"
    DOMAIN = "domain"
    ADDON = "addon"
    SERVICE = "service"
    USAGE = "usage"


class TaxClass(StrEnum):
    """The product's VAT class; the tax regime maps it to a rate for a country and date."""

    STANDARD = "standard"
    REDUCED = "reduced"
    # A country's second (lower) reduced rate, e.g. Romania's 5% until 2025-07-31.
    REDUCED_2 = "reduced_2"
    ZERO = "zero"
    EXEMPT = "exempt"


class Product(IdMixin, TimestampMixin, Base):
    """Something the hosting company sells."""

    __tablename__ = "products"

    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[ProductKind] = mapped_column(String(20), default=ProductKind.HOSTING)
    tax_class: Mapped[TaxClass] = mapped_column(String(20), default=TaxClass.STANDARD)
    # Electronically supplied service (EU VAT Directive art. 58): B2C VAT follows the buyer.
    electronic_service: Mapped[bool] = mapped_column(Boolean, default=True)
    # UN/ECE Recommendation 20 unit code used on invoices (C62 = one, MON = month).
    unit_code: Mapped[str] = mapped_column(String(3), default="C62")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    prices: Mapped[list[Price]] = relationship(back_populates="product")


class Price(IdMixin, TimestampMixin, Base):
    """How a product is charged in one currency and billing interval."""

    __tablename__ = "prices"

    code: Mapped[str] = mapped_column(String(80), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    nickname: Mapped[str | None] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    # Months per billing period: 1 monthly, 3 quarterly, 6 half-yearly, 12 yearly, any N;
    # NULL for a one-time price.
    interval_months: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    product: Mapped[Product] = relationship(back_populates="prices")
    versions: Mapped[list[PriceVersion]] = relationship(
        back_populates="price", order_by="PriceVersion.effective_from"
    )

    @property
    def interval_label(self) -> str:
        """month, quarter, half-year, year, N months, or one-time."""
        labels = {1: "month", 3: "quarter", 6: "half-year", 12: "year"}
        if self.interval_months is None:
            return "one-time"
        return labels.get(self.interval_months, f"{self.interval_months} months")


class PriceVersion(IdMixin, TimestampMixin, Base):
    """The unit amount of a price from a date on. Never edited once effective."""

    __tablename__ = "price_versions"
    __table_args__ = (UniqueConstraint("price_id", "effective_from"),)

    price_id: Mapped[int] = mapped_column(ForeignKey("prices.id"), index=True)
    effective_from: Mapped[date] = mapped_column(Date)
    unit_amount_minor: Mapped[int] = mapped_column(MinorUnits)
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(100))

    price: Mapped[Price] = relationship(back_populates="versions")
