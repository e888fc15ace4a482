"""Fiscal documents: invoices, proformas and credit notes, with lines and VAT breakdown.

One entity serves the three kinds. A document is a draft until issued; issuing assigns
the gapless number, freezes seller/buyer snapshots and totals and sets ``locked_at``.
After that only the columns in :data:`MUTABLE_AFTER_ISSUE` may change (payment and
void bookkeeping); everything else is guarded in the ORM (core.immutability) and, on
PostgreSQL, by triggers (see migrations).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from praho.core.db import Base, ExactDecimal, JSONDocument, MinorUnits, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship


class DocumentKind(StrEnum):
    """The three kinds of billing document."""

    INVOICE = "invoice"
    PROFORMA = "proforma"
    CREDIT_NOTE = "credit_note"


class DocumentStatus(StrEnum):
    """Draft (editable), issued (numbered, frozen) or void (cancelled, number kept)."""

    DRAFT = "draft"
    ISSUED = "issued"
    VOID = "void"


class PaymentStatus(StrEnum):
    """How much of an issued document has been paid."""

    UNPAID = "unpaid"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERPAID = "overpaid"


class LineKind(StrEnum):
    """Why a line is on the document."""

    CHARGE = "charge"
    PRORATION = "proration"
    USAGE = "usage"
    ADJUSTMENT = "adjustment"


# Columns an issued document may still change. Everything else is fiscal and frozen.
MUTABLE_AFTER_ISSUE = frozenset(
    {
        "status",
        "voided_at",
        "void_reason",
        "amount_paid_minor",
        "payment_status",
        "credited_minor",
        "refunded_minor",
        "converted_to_id",
        "internal_note",
        "updated_at",
    }
)


class DocumentSeries(IdMixin, TimestampMixin, Base):
    """A numbering series (INV, PRO, CN). Numbers are gapless per series and year."""

    __tablename__ = "document_series"

    code: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[DocumentKind] = mapped_column(String(12))
    # Printed before the number; may change (rotation) without ever reusing a number.
    prefix: Mapped[str] = mapped_column(String(20))
    reset_yearly: Mapped[bool] = mapped_column(Boolean, default=False)
    padding: Mapped[int] = mapped_column(Integer, default=6)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SeriesCounter(IdMixin, Base):
    """The last number used in a series (and year, when it resets yearly; else year 0)."""

    __tablename__ = "series_counters"
    __table_args__ = (UniqueConstraint("series_id", "year"),)

    series_id: Mapped[int] = mapped_column(ForeignKey("document_series.id"))
    year: Mapped[int] = mapped_column(Integer, default=0)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Invoice(IdMixin, TimestampMixin, Base):
    """An invoice, proforma or credit note. See the module docstring for immutability."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("series_id", "fiscal_year", "number"),)

    kind: Mapped[DocumentKind] = mapped_column(String(12), index=True)
    status: Mapped[DocumentStatus] = mapped_column(String(8), default=DocumentStatus.DRAFT, index=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("document_series.id"))
    fiscal_year: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[int | None] = mapped_column(Integer)
    full_number: Mapped[str | None] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"))
    seller_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    buyer_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    currency: Mapped[str] = mapped_column(String(3))
    language: Mapped[str] = mapped_column(String(2), default="ro")
    issue_date: Mapped[date | None] = mapped_column(Date, index=True)
    # Tax point: the date VAT becomes chargeable; rates and exchange rates follow it.
    tax_point_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date, index=True)
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=14)
    # RON per one unit of ``currency`` (BNR), when currency is not RON.
    exchange_rate: Mapped[Decimal | None] = mapped_column(ExactDecimal(16, 6))
    exchange_rate_date: Mapped[date | None] = mapped_column(Date)
    exchange_rate_source: Mapped[str | None] = mapped_column(String(40))
    tax_regime: Mapped[str | None] = mapped_column(String(40))
    # Evidence behind the tax decisions (VIES request date and consultation id, ...).
    tax_evidence: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    lines_net_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    allowance_total_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    charge_total_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    taxable_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    vat_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    total_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    prepaid_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    payable_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    vat_ron_minor: Mapped[int | None] = mapped_column(MinorUnits)

    amount_paid_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    payment_status: Mapped[PaymentStatus] = mapped_column(String(16), default=PaymentStatus.UNPAID)
    credited_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    refunded_minor: Mapped[int] = mapped_column(MinorUnits, default=0)

    # Credit notes: the invoice they correct (billing reference BT-25/26).
    original_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    # An invoice converted from a paid proforma, and the proforma's forward link.
    converted_from_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    converted_to_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    # The subscription a renewal, proration or proration credit note belongs to.
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    # Billing period for recurring documents (set by the subscription billing run).
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(300))
    internal_note: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    issued_by: Mapped[str | None] = mapped_column(String(100))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="save-update, merge"
    )
    allowances: Mapped[list[InvoiceAllowance]] = relationship(
        back_populates="invoice", order_by="InvoiceAllowance.id", cascade="save-update, merge"
    )
    tax_subtotals: Mapped[list[InvoiceTaxSubtotal]] = relationship(
        back_populates="invoice", order_by="InvoiceTaxSubtotal.id", cascade="save-update, merge"
    )
    original_invoice: Mapped[Invoice | None] = relationship(
        remote_side="Invoice.id", foreign_keys=[original_invoice_id]
    )

    @property
    def is_locked(self) -> bool:
        """True once issued: fiscal fields can no longer change."""
        return self.locked_at is not None

    @property
    def balance_due_minor(self) -> int:
        """What is still owed on this document (never below zero)."""
        return max(self.payable_minor - self.amount_paid_minor - self.credited_minor, 0)

    def __repr__(self) -> str:
        return f"<{self.kind} {self.full_number or f'draft#{self.id}'} {self.total_minor} {self.currency}>"


class InvoiceLine(IdMixin, Base):
    """One line of a document. ``net_amount_minor`` is the line net after line allowance."""

    __tablename__ = "invoice_lines"

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[LineKind] = mapped_column(String(12), default=LineKind.CHARGE)
    item_name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(200))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    price_id: Mapped[int | None] = mapped_column(ForeignKey("prices.id"))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal(18, 6))
    unit_code: Mapped[str] = mapped_column(String(3), default="C62")
    # Net unit price in major units; may carry more decimals than the currency.
    unit_price: Mapped[Decimal] = mapped_column(ExactDecimal(20, 6))
    gross_amount_minor: Mapped[int] = mapped_column(MinorUnits)
    line_allowance_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    line_allowance_reason: Mapped[str | None] = mapped_column(String(100))
    net_amount_minor: Mapped[int] = mapped_column(MinorUnits)
    # EN 16931 VAT category code (S, Z, E, AE, K, G, O, L, M) and rate in percent.
    tax_category: Mapped[str] = mapped_column(String(2))
    tax_rate: Mapped[Decimal] = mapped_column(ExactDecimal(7, 4))
    tax_exemption_code: Mapped[str | None] = mapped_column(String(30))
    tax_exemption_reason: Mapped[str | None] = mapped_column(String(300))
    # Human explanation of the tax decision ("RO seller, RO buyer: standard 21%").
    tax_note: Mapped[str | None] = mapped_column(String(300))
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    # Line-specific detail: proration maths, usage tiers, source references.
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class InvoiceAllowance(IdMixin, Base):
    """A document-level allowance (discount) or charge, with its own VAT category (EN 16931)."""

    __tablename__ = "invoice_allowances"

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    is_charge: Mapped[bool] = mapped_column(Boolean, default=False)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    base_amount_minor: Mapped[int | None] = mapped_column(MinorUnits)
    percent: Mapped[Decimal | None] = mapped_column(ExactDecimal(7, 4))
    reason: Mapped[str] = mapped_column(String(100))
    # UNTDID 5189 allowance reason code (95 discount) / 7161 charge code.
    reason_code: Mapped[str | None] = mapped_column(String(4))
    tax_category: Mapped[str] = mapped_column(String(2))
    tax_rate: Mapped[Decimal] = mapped_column(ExactDecimal(7, 4))
    source: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    invoice: Mapped[Invoice] = relationship(back_populates="allowances")


class InvoiceTaxSubtotal(IdMixin, Base):
    """VAT breakdown per (category, rate), computed per group (BR-CO-17), frozen at issue."""

    __tablename__ = "invoice_tax_subtotals"
    __table_args__ = (UniqueConstraint("invoice_id", "tax_category", "tax_rate"),)

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    tax_category: Mapped[str] = mapped_column(String(2))
    tax_rate: Mapped[Decimal] = mapped_column(ExactDecimal(7, 4))
    taxable_minor: Mapped[int] = mapped_column(MinorUnits)
    tax_minor: Mapped[int] = mapped_column(MinorUnits)
    tax_ron_minor: Mapped[int | None] = mapped_column(MinorUnits)
    exemption_code: Mapped[str | None] = mapped_column(String(30))
    exemption_reason: Mapped[str | None] = mapped_column(String(300))

    invoice: Mapped[Invoice] = relationship(back_populates="tax_subtotals")



__all__ = [
    "DocumentKind",
    "DocumentSeries",
    "DocumentStatus",
    "Invoice",
    "InvoiceAllowance",
    "InvoiceLine",
    "InvoiceTaxSubtotal",
    "LineKind",
    "MUTABLE_AFTER_ISSUE",
    "PaymentStatus",
    "SeriesCounter",
]
