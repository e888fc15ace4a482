"""The tax regime contract: what the core asks a tax plugin and what it gets back.

The core never decides VAT itself. For every line it builds a :class:`TaxRequest` and
asks the seller's regime (registered through ``register_tax_regimes``) for a
:class:`TaxDecision`, which is printed on the line with its explanation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

# EN 16931 VAT category codes (UNCL 5305 subset used by EN 16931).
VAT_CATEGORIES = {
    "S": "Standard rate",
    "Z": "Zero rated goods",
    "E": "Exempt from tax",
    "AE": "VAT reverse charge",
    "K": "VAT exempt for EEA intra-community supply",
    "G": "Free export item, tax not charged",
    "O": "Services outside scope of tax",
    "L": "Canary Islands general indirect tax",
    "M": "Tax for production, services and importation in Ceuta and Melilla",
}


@dataclass(frozen=True)
class TaxParty:
    """The tax-relevant facts of a seller or buyer."""

    country: str
    is_business: bool
    vat_id: str | None = None
    vat_payer: bool = False
    county: str | None = None


@dataclass(frozen=True)
class TaxRequest:
    """One line to decide: who sells what to whom, on which tax point."""

    seller: TaxParty
    buyer: TaxParty
    tax_class: str
    electronic_service: bool
    tax_point: date
    currency: str
    product_code: str | None = None


@dataclass(frozen=True)
class TaxDecision:
    """The VAT treatment of a line, with the reason printed on the document."""

    category: str
    rate: Decimal
    note: str
    exemption_code: str | None = None
    exemption_reason: str | None = None
    # Evidence worth keeping with the document (VIES request date, consultation id).
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.category not in VAT_CATEGORIES:
            raise ValueError(f"unknown VAT category {self.category!r}")
        if self.category != "S" and self.rate != 0:
            raise ValueError(f"category {self.category} requires rate 0")


@runtime_checkable
class TaxRegime(Protocol):
    """A tax regime plugin object."""

    id: str

    def decide(self, session: Any, request: TaxRequest) -> TaxDecision:
        """Decide the VAT of one line; raise TaxDecisionError/TaxDecisionPending if it cannot."""


@dataclass(frozen=True)
class ExchangeRateQuote:
    """RON per one unit of ``currency``, as published for ``rate_date`` by ``source``."""

    currency: str
    rate: Decimal
    rate_date: date
    source: str
