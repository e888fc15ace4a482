"""Value objects that pricing plugins return to the core (prices, extra lines, discounts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class ResolvedPrice:
    """A unit price chosen for a renewal, with who chose it and why."""

    unit_amount_minor: int
    currency: str
    source: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DraftLine:
    """A line a plugin wants on a document; the core decides its VAT."""

    item_name: str
    quantity: Decimal
    unit_price: Decimal
    kind: str = "charge"
    description: str | None = None
    unit_code: str = "C62"
    product_id: int | None = None
    price_id: int | None = None
    period_start: date | None = None
    period_end: date | None = None
    # Set only when the amount must not be recomputed as quantity x unit price
    # (graduated usage tiers): the exact line net in minor units.
    net_amount_minor: int | None = None
    line_allowance_minor: int = 0
    line_allowance_reason: str | None = None
    # Override the product's VAT class (standard, reduced, zero, exempt) for this line.
    tax_class: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DraftAllowance:
    """A document-level discount (or charge when ``is_charge``) a plugin wants applied.

    ``amount_minor`` is the wanted amount; the core caps discounts so a document never
    becomes negative and spreads the allowance over the VAT groups it applies to.
    """

    amount_minor: int
    reason: str
    source: str
    reason_code: str = "95"
    percent: Decimal | None = None
    is_charge: bool = False
    applies_to_product_ids: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
