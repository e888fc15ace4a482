"""Customers: companies and individuals, with Romanian and EU identifiers."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from praho.core.db import Base, JSONDocument
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class CustomerKind(StrEnum):
    """A legal person (company, PFA, NGO) or a private individual."""

    COMPANY = "company"
    INDIVIDUAL = "individual"


class CustomerStatus(StrEnum):
    """Whether the customer can be billed."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    CLOSED = "closed"


class InvoiceMode(StrEnum):
    """What the billing run issues for this customer: a fiscal invoice, or a proforma first."""

    INVOICE = "invoice"
    PROFORMA = "proforma"


class Customer(IdMixin, TimestampMixin, Base):
    """Who we bill. Identifiers are stored normalised (see services.customers)."""

    __tablename__ = "customers"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[CustomerKind] = mapped_column(String(20), default=CustomerKind.COMPANY)
    legal_name: Mapped[str] = mapped_column(String(200))
    # Romanian fiscal code (CUI/CIF), digits only, no "RO" prefix.
    cui: Mapped[str | None] = mapped_column(String(12), index=True)
    # EU VAT identifier with its country prefix (RO14399840, DE136695976).
    vat_id: Mapped[str | None] = mapped_column(String(20), index=True)
    vat_payer: Mapped[bool] = mapped_column(Boolean, default=False)
    # Romanian personal numeric code, individuals only (optional on invoices).
    cnp: Mapped[str | None] = mapped_column(String(13))
    # Trade register number (Reg. Com.), e.g. J40/1234/2020.
    trade_register: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(2), default="ro")
    currency: Mapped[str] = mapped_column(String(3), default="RON")
    street: Mapped[str] = mapped_column(String(150))
    city: Mapped[str] = mapped_column(String(50))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    # ISO 3166-2 subdivision (RO-B, RO-CJ); required for Romanian addresses.
    county: Mapped[str | None] = mapped_column(String(6))
    country: Mapped[str] = mapped_column(String(2), default="RO")
    invoice_mode: Mapped[InvoiceMode] = mapped_column(String(10), default=InvoiceMode.INVOICE)
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=14)
    tags: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    status: Mapped[CustomerStatus] = mapped_column(String(10), default=CustomerStatus.ACTIVE)
    notes: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    @property
    def is_business(self) -> bool:
        """B2B for tax purposes: a company, or anyone registered for VAT."""
        return self.kind == CustomerKind.COMPANY or bool(self.vat_id)

    def __repr__(self) -> str:
        return f"<Customer {self.code} {self.legal_name!r}>"
