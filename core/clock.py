"""Explicit time. Datetimes are aware UTC; fiscal dates are Europe/Bucharest dates.

Every service takes ``now`` so the same code can run for any day (a test clock);
:func:`resolve_now` turns ``None`` into the real current time in exactly one place.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BUCHAREST = ZoneInfo("Europe/Bucharest")


class NaiveDatetimeError(ValueError):
    """A datetime without a timezone reached a place that needs an instant."""


def utcnow() -> datetime:
    """The real current instant, aware, in UTC."""
    return datetime.now(UTC)


def resolve_now(now: datetime | None) -> datetime:
    """``now`` if given (must be aware), else the real current instant, always in UTC."""
    if now is None:
        return utcnow()
    return ensure_aware(now).astimezone(UTC)


def ensure_aware(moment: datetime) -> datetime:
    """Refuse naive datetimes: an instant without a zone is ambiguous for fiscal dates."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise NaiveDatetimeError(f"datetime {moment.isoformat()} has no timezone")
    return moment


def business_date(moment: datetime) -> date:
    """The Romanian calendar date of an instant (what an invoice's issue date shows)."""
    return ensure_aware(moment).astimezone(BUCHAREST).date()


def start_of_business_day(day: date) -> datetime:
    """The UTC instant at which ``day`` begins in Bucharest."""
    return datetime.combine(day, time.min, tzinfo=BUCHAREST).astimezone(UTC)


def end_of_business_day(day: date) -> datetime:
    """The last instant (exclusive bound) of ``day`` in Bucharest, as UTC."""
    return start_of_business_day(day + timedelta(days=1))


def parse_date(text: str) -> date:
    """Parse an ISO ``YYYY-MM-DD`` date with a readable error."""
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"invalid date {text!r}: expected YYYY-MM-DD") from None


def noon_of(day: date) -> datetime:
    """A stable instant inside a Bucharest business day, for CLI ``--date`` options."""
    return datetime.combine(day, time(12, 0), tzinfo=BUCHAREST).astimezone(UTC)
