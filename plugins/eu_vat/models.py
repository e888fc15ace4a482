"""The eu_vat plugin's tables: dated VAT rules per country, and the VIES consultation log.

A rate change is a new :class:`VatRule` row with its own ``valid_from``; the previous row
gets a ``valid_to``. Rows are never edited otherwise, so any past document can be
explained by the row that was in force at its tax point.

:class:`ViesCheck` keeps every VIES consultation (valid, invalid or fault) with the
request date and consultation number VIES returned: it is both the result cache and the
evidence a tax auditor asks for when a reverse-charge invoice is questioned.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from praho.core.db import Base, ExactDecimal, UTCDateTime
from praho.core.models.base import IdMixin
from sqlalchemy import Boolean, Date, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class VatRule(IdMixin, Base):
    """One VAT rate of one country and tax class, valid for a closed or open period."""

    __tablename__ = "eu_vat_rules"
    __table_args__ = (UniqueConstraint("country", "tax_class", "valid_from"),)

    country: Mapped[str] = mapped_column(String(2))
    # standard, reduced or reduced_2 (see praho.core.models.TaxClass).
    tax_class: Mapped[str] = mapped_column(String(20))
    rate: Mapped[Decimal] = mapped_column(ExactDecimal(7, 4))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    # Where the row comes from: the data file's reference, or who added it by hand.
    reference: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def covers(self, day: date) -> bool:
        """True when ``day`` falls inside the rule's period."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def __repr__(self) -> str:
        period = f"{self.valid_from}..{self.valid_to or ''}"
        return f"<VatRule {self.country} {self.tax_class} {self.rate} {period}>"


class ViesOutcome(StrEnum):
    """What one consultation established. A fault never means invalid."""

    VALID = "valid"
    INVALID = "invalid"
    FAULT = "fault"


class ViesCheck(IdMixin, Base):
    """One VIES consultation and its answer; valid and invalid answers double as the cache."""

    __tablename__ = "eu_vat_vies_checks"
    __table_args__ = (
        Index("ix_eu_vat_vies_checks_lookup", "country_code", "vat_number", "checked_at"),
    )

    # VIES member-state code (EL for Greece) and the number without prefix.
    country_code: Mapped[str] = mapped_column(String(2))
    vat_number: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[ViesOutcome] = mapped_column(String(8))
    valid: Mapped[bool | None] = mapped_column(Boolean)
    # The fault string (MS_UNAVAILABLE, TIMEOUT, ...) or our transport error code.
    fault_code: Mapped[str | None] = mapped_column(String(40))
    fault_message: Mapped[str | None] = mapped_column(String(300))
    name: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(500))
    # requestDate as VIES answered it, and the consultation number (checkVatApprox only).
    request_date: Mapped[date | None] = mapped_column(Date)
    request_identifier: Mapped[str | None] = mapped_column(String(40))
    requester_vat_id: Mapped[str | None] = mapped_column(String(20))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Until when the answer may be reused without asking VIES again (None for faults).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def vat_id(self) -> str:
        """The full identifier as VIES knows it (EL... for Greece)."""
        return f"{self.country_code}{self.vat_number}"

    def __repr__(self) -> str:
        return f"<ViesCheck {self.vat_id} {self.outcome} {self.checked_at:%Y-%m-%d %H:%M}>"
