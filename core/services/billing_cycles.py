"""Billing-cycle date maths: anchored periods and time fractions measured by the second.

Periods are Europe/Bucharest calendar dates with an exclusive end (the first day of the
next period). A period of N months starting on an anchor day ends N months later on the
same anchor day, clamped to the length of short months without drifting: with anchor 31,
31 Jan -> 28 Feb (29 in leap years) -> 31 Mar -> 30 Apr -> 31 May.

Fractions of a period are measured in seconds between the UTC instants at which the
Bucharest days begin, so a March period with the daylight-saving change is one hour
shorter than 31 x 86,400 seconds, exactly as the customer experienced it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from praho.core.clock import ensure_aware, start_of_business_day
from praho.core.errors import FieldError

CYCLE_NAMES = {1: "monthly", 3: "quarterly", 6: "half-yearly", 12: "yearly"}
MAX_CYCLE_MONTHS = 120
UNIT_PRICE_PLACES = Decimal("0.000001")


def cycle_months(value: int | str) -> int:
    """Parse a billing cycle: monthly, quarterly, half-yearly, yearly, or a number of months."""
    named = {name: months for months, name in CYCLE_NAMES.items()}
    named.update({"semiannual": 6, "half_yearly": 6, "annual": 12, "annually": 12})
    if isinstance(value, str) and value.strip().lower() in named:
        return named[value.strip().lower()]
    if isinstance(value, bool):
        raise FieldError("billing_cycle", "must be a number of months or a cycle name")
    try:
        months = int(value)
    except (TypeError, ValueError):
        raise FieldError(
            "billing_cycle",
            f"{value!r} is not a cycle: use monthly, quarterly, "
            "half-yearly, yearly or a number of months",
        ) from None
    if not 1 <= months <= MAX_CYCLE_MONTHS:
        raise FieldError("billing_cycle", f"must be 1 to {MAX_CYCLE_MONTHS} months")
    return months


def cycle_label(months: int) -> str:
    """monthly, quarterly, half-yearly, yearly, or ``every N months``."""
    return CYCLE_NAMES.get(months, f"every {months} months")


def anchored_date(year: int, month: int, anchor_day: int) -> date:
    """The anchor day in a month, clamped to the month's last day."""
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def add_months(day: date, months: int, anchor_day: int) -> date:
    """``day`` moved by ``months`` (may be negative), landing on the anchor day (clamped)."""
    index = day.year * 12 + (day.month - 1) + months
    return anchored_date(index // 12, index % 12 + 1, anchor_day)


def period_end(start: date, months: int, anchor_day: int) -> date:
    """Exclusive end of the period of ``months`` that starts on ``start``."""
    return add_months(start, months, anchor_day)


def next_anchor_after(day: date, anchor_day: int) -> date:
    """The first anchor date strictly after ``day`` (at most a month later)."""
    candidate = anchored_date(day.year, day.month, anchor_day)
    if candidate > day:
        return candidate
    return add_months(candidate, 1, anchor_day)


@dataclass(frozen=True)
class Period:
    """A billing period: ``start`` inclusive, ``end`` exclusive (Bucharest dates)."""

    start: date
    end: date

    @property
    def last_day(self) -> date:
        """The last day of service (what invoices print as the period end, EN 16931 BT-74)."""
        return date.fromordinal(self.end.toordinal() - 1)

    @property
    def starts_at(self) -> datetime:
        """UTC instant the period begins."""
        return start_of_business_day(self.start)

    @property
    def ends_at(self) -> datetime:
        """UTC instant the period ends."""
        return start_of_business_day(self.end)

    @property
    def seconds(self) -> int:
        """Length of the period in seconds."""
        return int((self.ends_at - self.starts_at).total_seconds())

    def seconds_left(self, moment: datetime) -> int:
        """Seconds from ``moment`` to the end of the period, between 0 and its length."""
        left = int((self.ends_at - ensure_aware(moment)).total_seconds())
        return max(0, min(left, self.seconds))

    def contains(self, day: date) -> bool:
        """True when ``day`` is inside the period."""
        return self.start <= day < self.end


def first_period(start: date, months: int, anchor_day: int) -> tuple[Period, Period | None]:
    """The first period of a subscription starting on ``start`` with an anchor day.

    When ``start`` is not on the anchor day, the first period is partial: it runs to the
    next anchor date and is charged as a fraction of the full period ending there, which
    is returned second (Stripe's billing-cycle anchor). Otherwise the second value is None.
    """
    if anchored_date(start.year, start.month, anchor_day) == start:
        return Period(start, period_end(start, months, anchor_day)), None
    end = next_anchor_after(start, anchor_day)
    return Period(start, end), Period(add_months(end, -months, anchor_day), end)


def prorated_unit_price(unit_price: Decimal, seconds: int, total_seconds: int) -> Decimal:
    """A unit price for part of a period, to 6 decimals (half-up).

    Proration lines are written as quantity x this price so that every line satisfies
    EN 16931 BR-LIN-04 (line net = quantity x unit price) exactly.
    """
    exact = unit_price * Decimal(seconds) / Decimal(total_seconds)
    return exact.quantize(UNIT_PRICE_PLACES, rounding=ROUND_HALF_UP)
