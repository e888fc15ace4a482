"""Exchange rates published by the National Bank of Romania, and the log of every fetch.

Rates are stored per (source, date, currency) exactly as published (value and multiplier)
and normalised to RON per one unit, which is what invoices use. A stored rate is never
changed; a failed fetch leaves every stored rate as it was and is logged with its reason.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from praho.core.db import Base, ExactDecimal, UTCDateTime
from praho.core.models.base import IdMixin
from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class RateFetch(IdMixin, Base):
    """One attempt to read the BNR feed (scheduled, CLI or file import), good or failed."""

    __tablename__ = "bnr_rate_fetches"

    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    url: Mapped[str] = mapped_column(String(500))
    ok: Mapped[bool] = mapped_column(Boolean)
    # The typed error's code (empty, not_xml, http_error, ...) and its message.
    error_code: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(String(500))
    publishing_date: Mapped[date | None] = mapped_column(Date)
    first_rate_date: Mapped[date | None] = mapped_column(Date)
    last_rate_date: Mapped[date | None] = mapped_column(Date)
    rates_seen: Mapped[int] = mapped_column(Integer, default=0)
    rates_added: Mapped[int] = mapped_column(Integer, default=0)


class ExchangeRate(IdMixin, Base):
    """RON per unit of ``currency`` for the banking day ``rate_date`` (the feed's Cube date)."""

    __tablename__ = "bnr_exchange_rates"
    __table_args__ = (
        UniqueConstraint("source", "rate_date", "currency"),
        Index("ix_bnr_exchange_rates_lookup", "currency", "rate_date"),
    )

    source: Mapped[str] = mapped_column(String(20), default="BNR")
    rate_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    # RON per ONE unit: the published value divided by the multiplier.
    rate: Mapped[Decimal] = mapped_column(ExactDecimal(18, 8))
    published_value: Mapped[Decimal] = mapped_column(ExactDecimal(14, 4))
    multiplier: Mapped[int] = mapped_column(Integer, default=1)
    publishing_date: Mapped[date | None] = mapped_column(Date)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fetch_id: Mapped[int | None] = mapped_column(ForeignKey("bnr_rate_fetches.id"))

    def __repr__(self) -> str:
        return f"<ExchangeRate {self.rate_date} {self.currency} {self.rate}>"
