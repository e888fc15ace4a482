"""Billing-cycle date maths: anchor days across short months, partial periods, seconds."""

from datetime import date
from decimal import Decimal

import pytest
from praho.core.errors import FieldError
from praho.core.services.billing_cycles import (
    Period,
    add_months,
    cycle_label,
    cycle_months,
    first_period,
    next_anchor_after,
    period_end,
    prorated_unit_price,
)
from praho.core.testing import at


def _chain(start: date, months: int, anchor: int, count: int) -> list[date]:
    days = [start]
    for _ in range(count):
        days.append(period_end(days[-1], months, anchor))
    return days


def test_anchor_31_is_kept_across_short_months():
    assert _chain(date(2026, 1, 31), 1, 31, 5) == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
        date(2026, 6, 30),
    ]


def test_leap_february_gets_the_29th():
    assert _chain(date(2028, 1, 31), 1, 31, 2) == [
        date(2028, 1, 31),
        date(2028, 2, 29),
        date(2028, 3, 31),
    ]
    assert _chain(date(2028, 1, 30), 1, 30, 2) == [
        date(2028, 1, 30),
        date(2028, 2, 29),
        date(2028, 3, 30),
    ]


def test_quarterly_half_yearly_yearly_and_custom_cycles():
    assert _chain(date(2026, 1, 31), 3, 31, 4) == [
        date(2026, 1, 31),
        date(2026, 4, 30),
        date(2026, 7, 31),
        date(2026, 10, 31),
        date(2027, 1, 31),
    ]
    assert _chain(date(2026, 8, 31), 6, 31, 2) == [
        date(2026, 8, 31),
        date(2027, 2, 28),
        date(2027, 8, 31),
    ]
    assert _chain(date(2028, 2, 29), 12, 29, 4) == [
        date(2028, 2, 29),
        date(2029, 2, 28),
        date(2030, 2, 28),
        date(2031, 2, 28),
        date(2032, 2, 29),
    ]
    assert _chain(date(2026, 11, 15), 5, 15, 2) == [
        date(2026, 11, 15),
        date(2027, 4, 15),
        date(2027, 9, 15),
    ]


def test_add_months_goes_backwards_too():
    assert add_months(date(2026, 3, 31), -1, 31) == date(2026, 2, 28)
    assert add_months(date(2026, 1, 15), -3, 15) == date(2025, 10, 15)


def test_cycle_names_and_numbers():
    assert [cycle_months(x) for x in ("monthly", "quarterly", "half-yearly", "yearly", 5, "7")] == [
        1,
        3,
        6,
        12,
        5,
        7,
    ]
    assert cycle_label(3) == "quarterly" and cycle_label(5) == "every 5 months"
    for bad in ("fortnightly", 0, 121, None, True):
        with pytest.raises(FieldError, match="billing_cycle"):
            cycle_months(bad)


def test_first_period_on_the_anchor_is_full():
    period, full = first_period(date(2026, 1, 31), 1, 31)
    assert (period, full) == (Period(date(2026, 1, 31), date(2026, 2, 28)), None)
    # 30 April is the anchor day 31 of April.
    assert first_period(date(2026, 4, 30), 1, 31)[1] is None


def test_first_period_off_the_anchor_is_partial_to_the_next_anchor():
    period, full = first_period(date(2026, 3, 15), 1, 1)
    assert period == Period(date(2026, 3, 15), date(2026, 4, 1))
    assert full == Period(date(2026, 3, 1), date(2026, 4, 1))
    period, full = first_period(date(2026, 3, 15), 3, 1)
    assert period.end == date(2026, 4, 1) and full == Period(date(2026, 1, 1), date(2026, 4, 1))
    assert next_anchor_after(date(2026, 1, 31), 30) == date(2026, 2, 28)


def test_period_seconds_follow_bucharest_daylight_saving():
    march = Period(date(2026, 3, 1), date(2026, 4, 1))  # clocks go forward on 29 March
    october = Period(date(2026, 10, 1), date(2026, 11, 1))  # and back on 25 October
    assert march.seconds == 31 * 86400 - 3600
    assert october.seconds == 31 * 86400 + 3600
    assert march.last_day == date(2026, 3, 31)
    assert march.seconds_left(at("2026-03-31", 0)) == 86400
    assert march.seconds_left(at("2026-02-01")) == march.seconds
    assert march.seconds_left(at("2026-04-02")) == 0


def test_prorated_unit_price():
    assert prorated_unit_price(Decimal("100.00"), 1, 3) == Decimal("33.333333")
    assert prorated_unit_price(Decimal("100.00"), 2, 3) == Decimal("66.666667")
