"""Double-entry ledger: accounts, journal entries and their lines.

Amounts are signed minor units: debit positive, credit negative. Every entry sums to
zero per currency. Entries are append-only; a mistake is corrected by a reversing entry.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from praho.core.db import Base, MinorUnits, UTCDateTime
from praho.core.models.base import IdMixin
from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship


class AccountType(StrEnum):
    """Balance-sheet or result account; decides the sign a balance is shown with."""

    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"


class AccountCode(StrEnum):
    """The accounts the core posts to, numbered after the Romanian chart of accounts."""

    RECEIVABLE = "4111"  # Clienți
    CUSTOMER_CREDIT = "419"  # Clienți - creditori (advances, overpayments, credit)
    VAT_PAYABLE = "4427"  # TVA colectată
    REVENUE = "704"  # Venituri din lucrări executate și servicii prestate
    GATEWAY_CLEARING = "5125"  # Sume în curs de decontare (card/PayPal settlements)
    BANK = "5121"  # Conturi la bănci în lei
    REFUNDS_PAYABLE = "462"  # Creditori diverși (refunds owed, not yet paid out)
    GATEWAY_FEES = "627"  # Cheltuieli cu serviciile bancare
    DISCOUNTS = "709"  # Reduceri comerciale acordate
    FX_DIFFERENCES = "765"  # Venituri din diferențe de curs valutar


class Account(Base):
    """A ledger account identified by its code."""

    __tablename__ = "ledger_accounts"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    type: Mapped[AccountType] = mapped_column(String(12))


class JournalEntry(IdMixin, Base):
    """A balanced set of postings caused by one business event."""

    __tablename__ = "journal_entries"

    entry_date: Mapped[date] = mapped_column(Date, index=True)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(40))
    memo: Mapped[str] = mapped_column(String(300))
    source_type: Mapped[str | None] = mapped_column(String(40))
    source_id: Mapped[int | None] = mapped_column(MinorUnits)
    # One posting per business event: the same key twice is refused by the database.
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    reversal_of_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))

    lines: Mapped[list[JournalLine]] = relationship(back_populates="entry", order_by="JournalLine.id")


class JournalLine(IdMixin, Base):
    """One posting: an account, a signed amount in one currency, optional customer and invoice."""

    __tablename__ = "journal_lines"
    __table_args__ = (
        Index("ix_journal_lines_customer_account", "customer_id", "account_code", "currency"),
    )

    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_code: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.code"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    description: Mapped[str | None] = mapped_column(String(200))

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")
