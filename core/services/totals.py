"""Document totals, computed the EN 16931 way.

Line nets are rounded first (quantity x unit price, half-up to the minor unit). VAT is
computed once per (category, rate) group on the group's taxable amount, rounded
half-up (BR-CO-17), never summed from per-line VAT. Allowances and charges belong to a
group and change its taxable amount. Totals reconcile to the minor unit:
taxable = lines - allowances + charges; total = taxable + VAT; payable = total - prepaid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from praho.core.money import percent_of, to_minor


class LineLike(Protocol):
    """What totals need of a line."""

    net_amount_minor: int
    tax_category: str
    tax_rate: Decimal
    tax_exemption_code: str | None
    tax_exemption_reason: str | None


class AllowanceLike(Protocol):
    """What totals need of a document-level allowance or charge."""

    amount_minor: int
    is_charge: bool
    tax_category: str
    tax_rate: Decimal


@dataclass
class TaxGroup:
    """One VAT breakdown row (BG-23)."""

    category: str
    rate: Decimal
    lines_minor: int = 0
    allowances_minor: int = 0
    charges_minor: int = 0
    exemption_code: str | None = None
    exemption_reason: str | None = None

    @property
    def taxable_minor(self) -> int:
        """BT-116: line nets minus allowances plus charges of this group."""
        return self.lines_minor - self.allowances_minor + self.charges_minor

    @property
    def tax_minor(self) -> int:
        """BT-117: round(taxable x rate, 2), half-up."""
        return percent_of(self.taxable_minor, self.rate)


@dataclass
class DocumentTotals:
    """Every total printed on a document, all in minor units of the document currency."""

    lines_net_minor: int
    allowance_total_minor: int
    charge_total_minor: int
    taxable_minor: int
    vat_minor: int
    total_minor: int
    prepaid_minor: int
    payable_minor: int
    groups: list[TaxGroup] = field(default_factory=list)


def line_gross_minor(quantity: Decimal, unit_price: Decimal, currency: str) -> int:
    """quantity x unit price, rounded half-up to the currency's minor unit (BR-LIN-04)."""
    return to_minor(quantity * unit_price, currency)


def compute_totals(lines: Iterable[LineLike], allowances: Iterable[AllowanceLike] = (),
                   *, prepaid_minor: int = 0) -> DocumentTotals:
    """Group lines and allowances by (category, rate) and compute every total."""
    groups: dict[tuple[str, Decimal], TaxGroup] = {}

    def group_for(category: str, rate: Decimal) -> TaxGroup:
        key = (category, Decimal(rate).normalize())
        if key not in groups:
            groups[key] = TaxGroup(category=category, rate=Decimal(rate))
        return groups[key]

    lines_net = 0
    for line in lines:
        group = group_for(line.tax_category, line.tax_rate)
        group.lines_minor += line.net_amount_minor
        lines_net += line.net_amount_minor
        if group.exemption_code is None and line.tax_exemption_code:
            group.exemption_code = line.tax_exemption_code
        if group.exemption_reason is None and line.tax_exemption_reason:
            group.exemption_reason = line.tax_exemption_reason
    allowance_total = charge_total = 0
    for allowance in allowances:
        group = group_for(allowance.tax_category, allowance.tax_rate)
        if allowance.is_charge:
            group.charges_minor += allowance.amount_minor
            charge_total += allowance.amount_minor
        else:
            group.allowances_minor += allowance.amount_minor
            allowance_total += allowance.amount_minor
    ordered = sorted(groups.values(), key=lambda g: (g.category != "S", -g.rate, g.category))
    taxable = sum(g.taxable_minor for g in ordered)
    vat = sum(g.tax_minor for g in ordered)
    total = taxable + vat
    return DocumentTotals(
        lines_net_minor=lines_net,
        allowance_total_minor=allowance_total,
        charge_total_minor=charge_total,
        taxable_minor=taxable,
        vat_minor=vat,
        total_minor=total,
        prepaid_minor=prepaid_minor,
        payable_minor=total - prepaid_minor,
        groups=ordered,
    )


def net_for_gross(gross_minor: int, rate: Decimal) -> int:
    """The net amount whose net + VAT equals ``gross_minor`` (or comes closest).

    Used to credit an exact gross amount (a refund of 100.00 incl. VAT): dividing and
    rounding alone can miss by one minor unit, so neighbours are tried.
    """
    if rate == 0:
        return gross_minor
    exact = Decimal(gross_minor) * 100 / (100 + Decimal(rate))
    estimate = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    best = estimate
    for candidate in (estimate - 1, estimate, estimate + 1):
        if candidate + percent_of(candidate, rate) == gross_minor:
            return candidate
        if abs(candidate + percent_of(candidate, rate) - gross_minor) < abs(
            best + percent_of(best, rate) - gross_minor
        ):
            best = candidate
    return best
