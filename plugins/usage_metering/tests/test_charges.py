"""Charge models against a naive reference (hypothesis), and their validation."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from praho.core.errors import ValidationFailed
from praho.core.money import to_minor
from praho.core.testing import fuzz_settings, fuzz_tried
from praho.plugins.usage_metering.charges import parse_charge, rate
from praho.plugins.usage_metering.meters import round_quantity

prices = st.decimals(min_value=0, max_value=100, places=6, allow_nan=False, allow_infinity=False)
quantities = st.decimals(
    min_value=0, max_value=100000, places=3, allow_nan=False, allow_infinity=False
)


@st.composite
def tiered(draw):
    bounds = sorted(set(draw(st.lists(st.integers(1, 5000), min_size=0, max_size=5))))
    tiers = [
        {"up_to": str(b), "unit_price": str(draw(prices)), "flat": str(draw(prices))}
        for b in bounds
    ]
    tiers.append({"up_to": None, "unit_price": str(draw(prices)), "flat": str(draw(prices))})
    return tiers


def naive_units(tiers):
    """Expand tiers into (lower, upper, price, flat) with None as infinity."""
    lower = Decimal(0)
    out = []
    for tier in tiers:
        upper = None if tier["up_to"] is None else Decimal(tier["up_to"])
        out.append((lower, upper, Decimal(tier["unit_price"]), Decimal(tier["flat"])))
        lower = upper
    return out


def naive_graduated(tiers, billable):
    """Walk the units tier by tier, the way a person would on paper."""
    total = Decimal(0)
    for lower, upper, price, flat in naive_units(tiers):
        if billable <= lower:
            break
        top = billable if upper is None else min(billable, upper)
        total += (top - lower) * price + flat
    return total


def naive_volume(tiers, billable):
    """The price of the tier the whole quantity falls in."""
    if billable == 0:
        return Decimal(0)
    for _lower, upper, price, flat in naive_units(tiers):
        if upper is None or billable <= upper:
            return billable * price + flat
    raise AssertionError


@fuzz_settings()
@given(
    tiers=tiered(),
    quantity=quantities,
    included=st.integers(0, 300),
    minimum=st.integers(0, 50000),
    graduated=st.booleans(),
)
def test_tiered_models_match_naive_reference(tiers, quantity, included, minimum, graduated):
    fuzz_tried("usage_metering.tiered_charges")
    model = "graduated" if graduated else "volume"
    spec = parse_charge(
        {"model": model, "tiers": tiers, "included_units": str(included), "minimum_minor": minimum}
    )
    billable = max(Decimal(0), quantity - included)
    exact = naive_graduated(tiers, billable) if graduated else naive_volume(tiers, billable)
    result = rate(spec, quantity, "RON")
    assert result.exact_amount == exact
    assert result.amount_minor == max(to_minor(exact, "RON"), minimum)
    assert result.billable == billable


@fuzz_settings()
@given(quantity=quantities, price=prices, size=st.integers(1, 1000), included=st.integers(0, 50))
def test_per_unit_and_package_match_naive_reference(quantity, price, size, included):
    fuzz_tried("usage_metering.unit_package_charges")
    billable = max(Decimal(0), quantity - included)
    per_unit = rate(
        parse_charge({"model": "per_unit", "unit_price": str(price), "included_units": included}),
        quantity,
        "EUR",
    )
    assert per_unit.exact_amount == billable * price
    package = rate(
        parse_charge(
            {
                "model": "package",
                "package_size": size,
                "package_price": str(price),
                "included_units": included,
            }
        ),
        quantity,
        "EUR",
    )
    blocks = (billable / size).to_integral_value(rounding=ROUND_CEILING)
    assert package.exact_amount == blocks * price
    assert package.amount_minor == to_minor(blocks * price, "EUR")


def test_graduated_example_is_billed_per_tier():
    spec = parse_charge(
        {
            "model": "graduated",
            "included_units": "10",
            "tiers": [
                {"up_to": "100", "unit_price": "0.50"},
                {"up_to": None, "unit_price": "0.25"},
            ],
        }
    )
    result = rate(spec, Decimal(250), "RON")
    # 240 billable: 100 x 0.50 + 140 x 0.25 = 85.00
    assert result.amount_minor == 8500
    assert [p.units for p in result.parts] == [100, 140]


def test_volume_example_prices_every_unit_at_the_reached_tier():
    spec = parse_charge(
        {
            "model": "volume",
            "tiers": [
                {"up_to": "100", "unit_price": "0.50"},
                {"up_to": None, "unit_price": "0.25", "flat": "3"},
            ],
        }
    )
    assert rate(spec, Decimal(100), "RON").amount_minor == 5000
    assert rate(spec, Decimal(101), "RON").amount_minor == 2525 + 300


def test_sub_cent_prices_are_rounded_once_at_the_end():
    spec = parse_charge({"model": "per_unit", "unit_price": "0.000123"})
    # A million units at 0.000123 is exactly 123.00, never a sum of rounded cents.
    assert rate(spec, Decimal(1_000_000), "RON").amount_minor == 12300
    assert rate(spec, Decimal(40), "RON").exact_amount == Decimal("0.004920")
    assert rate(spec, Decimal(40), "RON").amount_minor == 0


def test_minimum_applies_even_without_usage():
    spec = parse_charge({"model": "per_unit", "unit_price": "1", "minimum_minor": 500})
    result = rate(spec, Decimal(0), "RON")
    assert (result.amount_minor, result.minimum_applied) == (500, True)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"model": "flat"}, "model"),
        ({"model": "per_unit"}, "unit_price"),
        ({"model": "per_unit", "unit_price": 0.1}, "unit_price"),
        ({"model": "package", "package_size": "0", "package_price": "1"}, "package_size"),
        ({"model": "graduated", "tiers": []}, "tiers"),
        ({"model": "graduated", "tiers": [{"up_to": "10", "unit_price": "1"}]}, "tiers[0].up_to"),
        (
            {
                "model": "volume",
                "tiers": [
                    {"up_to": "10", "unit_price": "1"},
                    {"up_to": "5", "unit_price": "1"},
                    {"up_to": None, "unit_price": "1"},
                ],
            },
            "tiers[1].up_to",
        ),
        ({"model": "per_unit", "unit_price": "1", "included_units": "-1"}, "included_units"),
        ({"model": "per_unit", "unit_price": "1", "minimum_minor": "5"}, "minimum_minor"),
    ],
)
def test_bad_charge_names_the_field(data, field):
    with pytest.raises(ValidationFailed) as caught:
        parse_charge(data)
    assert field in [e.field for e in caught.value.errors]


@pytest.mark.parametrize(
    ("mode", "increment", "value", "expected"),
    [
        ("up", "1", "10.01", "11"),
        ("up", "1", "10", "10"),
        ("down", "1", "10.99", "10"),
        ("nearest", "0.5", "10.26", "10.5"),
        ("nearest", "0.5", "10.24", "10.0"),
        ("none", "1", "10.123456", "10.123456"),
        ("up", "1024", "1", "1024"),
    ],
)
def test_rounding_modes(mode, increment, value, expected):
    assert round_quantity(Decimal(value), mode, Decimal(increment)) == Decimal(expected)
