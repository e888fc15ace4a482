"""Fuzzing the money and VAT arithmetic (praho.core.money, praho.core.services.totals).

Properties over every valid input (amounts within the configured bounds, ISO 4217
currencies, rates 0..100 with 4 decimals, quantities and unit prices with 6):
no exception; totals reconcile to the minor unit; VAT is per group (BR-CO-17);
allocation conserves every minor unit; conversions round-trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from praho.core import validation as v
from praho.core.errors import FieldError
from praho.core.money import (
    _CURRENCY_EXPONENTS,
    CurrencyError,
    Money,
    allocate,
    convert_minor,
    percent_of,
    sum_money,
    to_major,
    to_minor,
)
from praho.core.services.totals import compute_totals, line_gross_minor, net_for_gross
from praho.core.testing import fuzz_settings, fuzz_tried

BOUND = v.DEFAULT_MAX_AMOUNT_MINOR
currencies = st.sampled_from(sorted(_CURRENCY_EXPONENTS))
amounts = st.integers(-BOUND, BOUND)
rates = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)
categories = st.sampled_from(["S", "Z", "E", "AE", "K", "G", "O"])


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


lines = st.builds(Line, st.integers(-BOUND // 100, BOUND // 100), categories, rates)
allowances = st.builds(Allowance, st.integers(0, BOUND // 100), st.booleans(), categories, rates)


@fuzz_settings(factor=10)
@given(doc_lines=st.lists(lines, max_size=30), doc_allowances=st.lists(allowances, max_size=5),
       prepaid=st.integers(0, BOUND))
def test_totals_always_reconcile(doc_lines, doc_allowances, prepaid):
    fuzz_tried("money: compute_totals reconciles")
    totals = compute_totals(doc_lines, doc_allowances, prepaid_minor=prepaid)
    assert totals.lines_net_minor == sum(line.net_amount_minor for line in doc_lines)
    assert totals.allowance_total_minor == sum(a.amount_minor for a in doc_allowances
                                               if not a.is_charge)
    assert totals.charge_total_minor == sum(a.amount_minor for a in doc_allowances if a.is_charge)
    assert totals.taxable_minor == (totals.lines_net_minor - totals.allowance_total_minor
                                    + totals.charge_total_minor)
    assert totals.taxable_minor == sum(g.taxable_minor for g in totals.groups)
    assert totals.vat_minor == sum(g.tax_minor for g in totals.groups)
    assert totals.total_minor == totals.taxable_minor + totals.vat_minor
    assert totals.payable_minor == totals.total_minor - prepaid
    for group in totals.groups:
        exact = Decimal(group.taxable_minor) * group.rate / 100
        assert group.tax_minor == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        assert abs(group.tax_minor - exact) <= Decimal("0.5")
    keys = [(g.category, g.rate.normalize()) for g in totals.groups]
    assert len(keys) == len(set(keys)), "one VAT breakdown row per (category, rate)"


@fuzz_settings(factor=10)
@given(amount=amounts, weights=st.lists(st.integers(0, 10**9) | st.decimals(
    min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
    min_size=1, max_size=40))
def test_allocation_conserves_every_minor_unit(amount, weights):
    fuzz_tried("money: allocate conserves")
    if sum(Decimal(w) for w in weights) == 0:
        with pytest.raises(ValueError):
            allocate(amount, weights)
        return
    parts = allocate(amount, weights)
    assert sum(parts) == amount and len(parts) == len(weights)
    total = sum(Decimal(w) for w in weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(amount) * Decimal(weight) / total
        assert abs(part - exact) < 1
        assert part == 0 or (part > 0) == (amount > 0)


@fuzz_settings(factor=10)
@given(amount=amounts, currency=currencies)
def test_minor_major_round_trip(amount, currency):
    fuzz_tried("money: minor/major round trip")
    assert to_minor(to_major(amount, currency), currency) == amount
    money = Money(amount, currency)
    assert Money.of(money.major, currency) == money
    assert (money + Money.zero(currency)) == money and (money - money).amount_minor == 0
    assert sum_money([money, -money], currency) == Money.zero(currency)


@fuzz_settings(factor=5)
@given(amount=amounts, currency=currencies, other=currencies,
       rate=st.decimals(min_value=Decimal("0.000001"), max_value=10**6, places=6,
                        allow_nan=False, allow_infinity=False))
def test_conversion_is_exact_within_half_a_minor_unit(amount, currency, other, rate):
    fuzz_tried("money: convert_minor")
    converted = convert_minor(amount, currency, rate, other)
    exact = to_major(amount, currency) * rate
    assert abs(to_major(converted, other) - exact) <= Decimal(1).scaleb(
        -_CURRENCY_EXPONENTS[other]) / 2
    if currency != other:
        with pytest.raises(CurrencyError):
            Money(1, currency) + Money(1, other)


@fuzz_settings(factor=10)
@given(quantity=st.decimals(min_value=Decimal("0.000001"), max_value=v.MAX_QUANTITY, places=6,
                            allow_nan=False, allow_infinity=False),
       price=st.decimals(min_value=0, max_value=v.MAX_UNIT_PRICE, places=6, allow_nan=False,
                         allow_infinity=False),
       currency=currencies)
def test_any_valid_line_computes_or_is_rejected_by_the_bound(quantity, price, currency):
    fuzz_tried("money: line_gross_minor on valid lines")
    assert v.quantity("q", str(quantity)) == quantity and v.unit_price("p", str(price)) == price
    gross = line_gross_minor(quantity, price, currency)
    exact = (quantity * price).scaleb(_CURRENCY_EXPONENTS[currency])
    assert abs(gross - exact) <= Decimal("0.5")
    try:
        v.amount_minor("net", gross)
    except FieldError as error:
        assert error.field == "net" and abs(gross) > BOUND


@fuzz_settings(factor=10)
@given(gross=st.integers(0, BOUND), rate=rates)
def test_net_for_gross_is_the_closest_net(gross, rate):
    fuzz_tried("money: net_for_gross")
    net = net_for_gross(gross, rate)
    miss = abs(net + percent_of(net, rate) - gross)
    assert miss <= 1
    for neighbour in (net - 1, net + 1):
        assert abs(neighbour + percent_of(neighbour, rate) - gross) >= miss


@fuzz_settings(factor=5)
@given(value=st.one_of(st.text(max_size=50), st.integers(), st.floats(), st.booleans(),
                       st.none(), st.decimals(), st.lists(st.integers(), max_size=2)))
def test_numeric_validators_raise_only_field_errors(value):
    fuzz_tried("money: numeric validators on any value")
    for check in (lambda x: v.quantity("quantity", x), lambda x: v.unit_price("unit_price", x),
                  lambda x: v.rate_percent("rate", x), lambda x: v.exchange_rate("rate", x),
                  lambda x: v.amount_minor("amount", x), lambda x: v.document_amount("total", x),
                  lambda x: v.currency("currency", x)):
        try:
            check(value)
        except FieldError as error:
            assert error.field in {"quantity", "unit_price", "rate", "amount", "total", "currency"}
            assert error.reason and len(error.message) < 300


def test_money_refuses_floats_and_unknown_currencies():
    with pytest.raises(TypeError):
        Money(1.5, "RON")  # type: ignore[arg-type]
    with pytest.raises(CurrencyError):
        Money(1, "XXX")

