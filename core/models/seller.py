"""The selling company (the hosting provider) whose details are printed on documents."""

from __future__ import annotations

from praho.core.db import Base
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column


class Seller(IdMixin, TimestampMixin, Base):
    """A legal entity that issues invoices; one is the default. Snapshotted at issue."""

    __tablename__ = "sellers"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    cui: Mapped[str] = mapped_column(String(12))
    vat_id: Mapped[str | None] = mapped_column(String(20))
    vat_payer: Mapped[bool] = mapped_column(Boolean, default=True)
    trade_register: Mapped[str | None] = mapped_column(String(40))
    share_capital: Mapped[str | None] = mapped_column(String(60))
    street: Mapped[str] = mapped_column(String(150))
    city: Mapped[str] = mapped_column(String(50))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    county: Mapped[str | None] = mapped_column(String(6))
    country: Mapped[str] = mapped_column(String(2), default="RO")
    iban: Mapped[str] = mapped_column(String(34))
    bank_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    # Which registered tax regime decides VAT on this seller's documents.
    tax_regime: Mapped[str] = mapped_column(String(40), default="eu_vat")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
