"""Orders: what a customer bought, kept in step with invoices and refunds."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from praho.core.db import Base, ExactDecimal, MinorUnits, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship


class OrderStatus(StrEnum):
    """Lifecycle of an order."""

    DRAFT = "draft"
    PLACED = "placed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class RefundState(StrEnum):
    """How much of an order, invoice or payment has been refunded."""

    NONE = "none"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class Order(IdMixin, TimestampMixin, Base):
    """A purchase by a customer; its lines may start subscriptions."""

    __tablename__ = "orders"

    number: Mapped[str] = mapped_column(String(40), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[OrderStatus] = mapped_column(String(12), default=OrderStatus.DRAFT)
    refund_state: Mapped[RefundState] = mapped_column(String(20), default=RefundState.NONE)
    total_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    refunded_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notes: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.position", cascade="all, delete-orphan"
    )


class OrderLine(IdMixin, Base):
    """One product bought in an order."""

    __tablename__ = "order_lines"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=1)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    price_id: Mapped[int | None] = mapped_column(ForeignKey("prices.id"))
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal(18, 6), default=Decimal(1))
    unit_amount_minor: Mapped[int] = mapped_column(MinorUnits)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    refunded_minor: Mapped[int] = mapped_column(MinorUnits, default=0)

    order: Mapped[Order] = relationship(back_populates="lines")
