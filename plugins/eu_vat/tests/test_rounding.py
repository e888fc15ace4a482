"""Rounding: VAT per (category, rate) group on the group's taxable amount (EN 16931
BR-CO-17), never the sum of per-line VAT; the cases where the two differ; and a property
test that every total reconciles to the minor unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from praho.core.money import percent_of
from praho.core.services.totals import compute_totals

AUGUST = datetime(2025, 8, 5, 9, 0, tzinfo=UTC)
JULY = datetime(2025, 7, 15, 9, 0, tzinfo=UTC)
# Rates the eu_vat table really holds, with their categories; 25.5, 13.5, 9.5 and 5.5 test the
# 4-decimal rates, zero-rate categories test groups without VAT.
GROUPS = [
    ("S", Decimal(r)) for r in ("21", "19", "11", "9", "5", "25.5", "13.5", "9.5", "5.5", "27")
] + [("AE", Decimal(0)), ("O", Decimal(0)), ("E", Decimal(0)), ("Z", Decimal(0))]


@dataclass
class Line:
    net_amount_minor: int
    tax_category: str
    tax_rate: Decimal
    tax_exemption_code: str | None = None
    tax_exemption_reason: str | None = None


@dataclass
class Allowance:
    amount_minor: int
    is_charge: bool
    tax_category: str
    tax_rate: Decimal


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _per_line_vat(lines) -> int:
    return sum(percent_of(line.net_amount_minor, line.tax_rate) for line in lines)


# --- cases where per-line and per-group rounding differ -----------------------------------


def test_ten_small_lines_have_vat_only_per_group():
    lines = [Line(2, "S", Decimal(21)) for _ in range(10)]  # 10 x 0.02 RON
    totals = compute_totals(lines)
    assert _per_line_vat(lines) == 0  # 0.0042 rounds to 0.00 on every line
    assert totals.vat_minor == 4  # 0.20 x 21% = 0.042 -> 0.04
    assert totals.total_minor == 24


def test_per_line_rounding_would_overcharge():
    lines = [Line(35, "S", Decimal(19)) for _ in range(3)]  # 3 x 0.35 RON at 19%
    assert _per_line_vat(lines) == 21  # 0.0665 -> 0.07, three times
    assert compute_totals(lines).vat_minor == 20  # 1.05 x 19% = 0.1995 -> 0.20


def test_half_cent_rounds_up_per_group():
    lines = [Line(50, "S", Decimal(21)), Line(50, "S", Decimal(21))]  # 0.105 per line
    assert _per_line_vat(lines) == 22
    assert compute_totals(lines).vat_minor == 21  # 1.00 x 21% = 0.21 exactly


def test_four_decimal_rate():
    lines = [
        Line(333, "S", Decimal("25.5")),
        Line(333, "S", Decimal("25.5")),
        Line(334, "S", Decimal("25.5")),
    ]
    assert _per_line_vat(lines) == 85 + 85 + 85  # 0.84915 -> 0.85, 0.8517 -> 0.85
    assert compute_totals(lines).vat_minor == 255  # 10.00 x 25.5% = 2.55


def test_allowance_changes_the_group_base_not_the_lines():
    lines = [Line(999, "S", Decimal(21)), Line(1, "S", Decimal(11))]
    allowances = [Allowance(333, False, "S", Decimal(21))]
    totals = compute_totals(lines, allowances, prepaid_minor=500)
    standard = next(g for g in totals.groups if g.rate == 21)
    assert (standard.taxable_minor, standard.tax_minor) == (666, 140)  # 6.66 x 21% = 1.3986
    assert (totals.taxable_minor, totals.vat_minor, totals.total_minor, totals.payable_minor) == (
        667,
        140,
        807,
        307,
    )


def test_issued_invoice_rounds_per_group(praho_factory, make_customer):
    customer = make_customer("RO", business=False)
    invoice = praho_factory.invoice(customer, lines=[("DNS query pack", "1", "0.35")] * 3, now=JULY)
    assert [line.tax_rate for line in invoice.lines] == [Decimal(19)] * 3
    assert (invoice.taxable_minor, invoice.vat_minor, invoice.total_minor) == (105, 20, 125)
    assert invoice.tax_subtotals[0].tax_minor == 20
    after = praho_factory.invoice(customer, lines=[("API call", "1000", "0.0002")] * 10, now=AUGUST)
    assert after.lines[0].net_amount_minor == 20 and after.vat_minor == 42  # 2.00 x 21% = 0.42


# --- the property: totals always reconcile ---------------------------------------------------


@st.composite
def documents(draw):
    n_lines = draw(st.integers(min_value=1, max_value=25))
    lines = []
    for _ in range(n_lines):
        category, rate = draw(st.sampled_from(GROUPS))
        lines.append(Line(draw(st.integers(min_value=0, max_value=5_000_000)), category, rate))
    allowances = []
    keys = sorted({(line.tax_category, line.tax_rate) for line in lines}, key=str)
    for key in draw(st.lists(st.sampled_from(keys), max_size=3)):
        room = sum(
            line.net_amount_minor for line in lines if (line.tax_category, line.tax_rate) == key
        )
        room -= sum(
            a.amount_minor
            for a in allowances
            if not a.is_charge and (a.tax_category, a.tax_rate) == key
        )
        is_charge = draw(st.booleans())
        upper = 100_000 if is_charge else max(room, 0)
        allowances.append(
            Allowance(draw(st.integers(min_value=0, max_value=upper)), is_charge, *key)
        )
    prepaid = draw(st.integers(min_value=0, max_value=1_000_000))
    return lines, allowances, prepaid


@settings(max_examples=300, deadline=None)
@given(documents())
def test_totals_always_reconcile(document):
    lines, allowances, prepaid = document
    totals = compute_totals(lines, allowances, prepaid_minor=prepaid)
    # Line sum, allowances and charges.
    assert totals.lines_net_minor == sum(line.net_amount_minor for line in lines)
    assert totals.allowance_total_minor == sum(
        a.amount_minor for a in allowances if not a.is_charge
    )
    assert totals.charge_total_minor == sum(a.amount_minor for a in allowances if a.is_charge)
    assert totals.taxable_minor == (
        totals.lines_net_minor - totals.allowance_total_minor + totals.charge_total_minor
    )
    # One group per (category, rate); group bases add up to the document's taxable amount.
    keys = [(g.category, g.rate) for g in totals.groups]
    assert len(keys) == len(set(keys))
    assert sum(g.taxable_minor for g in totals.groups) == totals.taxable_minor
    for group in totals.groups:
        key = (group.category, group.rate)
        members = [line for line in lines if (line.tax_category, line.tax_rate) == key]
        own = [
            a for a in allowances if (a.tax_category, a.tax_rate) == (group.category, group.rate)
        ]
        base = (
            sum(line.net_amount_minor for line in members)
            - sum(a.amount_minor for a in own if not a.is_charge)
            + sum(a.amount_minor for a in own if a.is_charge)
        )
        assert group.taxable_minor == base
        # BR-CO-17: VAT = round(base x rate / 100), half-up, on the group, to the minor unit.
        exact = Decimal(base) * group.rate / 100
        assert group.tax_minor == _half_up(exact)
        assert abs(Decimal(group.tax_minor) - exact) <= Decimal("0.5")
        if group.category != "S":
            assert group.tax_minor == 0
    assert totals.vat_minor == sum(g.tax_minor for g in totals.groups)
    assert totals.total_minor == totals.taxable_minor + totals.vat_minor
    assert totals.payable_minor == totals.total_minor - prepaid
    # Per-line rounding may differ, but never by more than half a unit per line.
    if not allowances:
        assert abs(_per_line_vat(lines) - totals.vat_minor) <= (len(lines) + 1) // 2 + len(
            totals.groups
        )
