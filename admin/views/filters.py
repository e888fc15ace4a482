"""List filters for PRAHO's own column types (Flask-Admin only knows SQLAlchemy's).

``UTCDateTime`` columns refuse naive datetimes, so the date-time filters read what the
user typed as UTC and make it aware before it reaches the query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_admin.contrib.sqla.filters import FilterConverter
from flask_admin.model import filters


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if isinstance(value, list):
        return [_aware(v) for v in value]
    return value


def _aware_filter(base: Any) -> type:
    return type(
        f"Aware{base.__name__}",
        (base,),
        {"clean": lambda self, value: _aware(base.clean(self, value))},
    )


class PrahoFilterConverter(FilterConverter):
    """Adds filters for ``UTCDateTime``; ``ExactDecimal`` gets none (no float comparisons)."""

    aware_datetime_filters = tuple(_aware_filter(f) for f in FilterConverter.datetime_filters)

    @filters.convert("utcdatetime")
    def conv_utc_datetime(self, column: Any, name: str, **kwargs: Any) -> list[Any]:
        """Date-time filters with the value taken as UTC."""
        return [f(column, name, **kwargs) for f in self.aware_datetime_filters]
