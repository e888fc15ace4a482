"""The e-Factura reporting deadline, with Romanian public holidays.

Until 31.12.2025 a document had to reach SPV within 5 calendar days of its issue date;
from 1.01.2026 (OUG 89/2025) within 5 working days. Weekends and the public holidays of
the Labour Code (art. 139) are not working days. A calendar-day deadline that ends on a
non-working day moves to the next working day (Fiscal Procedure Code, art. 181).
"""

from __future__ import annotations

from datetime import date, timedelta

# The calendar is shared with other plugins (BNR banking days), so it lives in the core;
# the names stay importable from here for this plugin's callers.
from praho.core.business_days import (
    FIXED_HOLIDAYS,
    add_working_days,
    is_working_day,
    next_working_day,
    orthodox_easter,
    public_holidays,
)

__all__ = [
    "DEADLINE_DAYS",
    "FIXED_HOLIDAYS",
    "WORKING_DAYS_FROM",
    "add_working_days",
    "is_working_day",
    "next_working_day",
    "orthodox_easter",
    "public_holidays",
    "submission_deadline",
    "working_days_left",
]

WORKING_DAYS_FROM = date(2026, 1, 1)
DEADLINE_DAYS = 5


def submission_deadline(issue_date: date) -> date:
    """The last day on which a document issued on ``issue_date`` may reach SPV."""
    if issue_date < WORKING_DAYS_FROM:
        return next_working_day(issue_date + timedelta(days=DEADLINE_DAYS))
    return add_working_days(issue_date, DEADLINE_DAYS)


def working_days_left(today: date, deadline: date) -> int:
    """Working days from ``today`` (exclusive) up to ``deadline`` (inclusive); negative if late."""
    if today > deadline:
        return -sum(
            1
            for n in range(1, (today - deadline).days + 1)
            if is_working_day(deadline + timedelta(days=n))
        )
    return sum(
        1
        for n in range(1, (deadline - today).days + 1)
        if is_working_day(today + timedelta(days=n))
    )
