"""Turning stored events into quantities, in SQL: one subscription, or every one at once.

Times are half-open UTC windows ``[start, end)``; business periods (Bucharest dates)
are converted with :func:`window_of`. Sums and maxima are exact integers of
millionths on every database (see models), converted to Decimal here.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from praho.core.clock import start_of_business_day
from praho.plugins.usage_metering.meters import Aggregation, round_quantity
from praho.plugins.usage_metering.models import Meter, UsageEvent
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

E = UsageEvent.__table__.c


def window_of(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants of a business period ``[start, end)`` (Bucharest midnights)."""
    return start_of_business_day(start), start_of_business_day(end)


def _measure(aggregation: str) -> Any:
    if aggregation == Aggregation.SUM:
        return func.sum(E.quantity_micro)
    if aggregation == Aggregation.MAX:
        return func.max(E.quantity_micro)
    if aggregation == Aggregation.COUNT:
        return func.count()
    if aggregation == Aggregation.UNIQUE_COUNT:
        return func.count(E.unique_key.distinct())
    raise ValueError(f"no simple measure for {aggregation}")


def _to_quantity(aggregation: str, value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    if aggregation in (Aggregation.COUNT, Aggregation.UNIQUE_COUNT):
        return Decimal(int(value))
    return Decimal(int(value)).scaleb(-6)


def _last_query(meter: Meter, start: datetime, end: datetime) -> Select[Any]:
    ranked = (
        select(
            E.subscription_id,
            E.quantity_micro,
            func.row_number()
            .over(
                partition_by=E.subscription_id, order_by=(E.occurred_at.desc(), E.event_id.desc())
            )
            .label("rank"),
        )
        .where(E.meter_id == meter.id, E.occurred_at >= start, E.occurred_at < end)
        .subquery()
    )
    return select(ranked.c.subscription_id, ranked.c.quantity_micro).where(ranked.c.rank == 1)


def raw_quantity(
    session: Session, meter: Meter, subscription_id: int, start: datetime, end: datetime
) -> Decimal:
    """The meter's aggregate for one subscription over ``[start, end)``, before rounding."""
    where = (
        E.subscription_id == subscription_id,
        E.meter_id == meter.id,
        E.occurred_at >= start,
        E.occurred_at < end,
    )
    if meter.aggregation == Aggregation.LAST:
        value = session.execute(
            select(E.quantity_micro)
            .where(*where)
            .order_by(E.occurred_at.desc(), E.event_id.desc())
            .limit(1)
        ).scalar()
    else:
        value = session.execute(select(_measure(meter.aggregation)).where(*where)).scalar()
    return _to_quantity(meter.aggregation, value)


def period_quantity(
    session: Session, meter: Meter, subscription_id: int, start: datetime, end: datetime
) -> tuple[Decimal, Decimal]:
    """(raw, rounded) quantity for one subscription: what a period is rated on."""
    raw = raw_quantity(session, meter, subscription_id, start, end)
    return raw, round_quantity(raw, meter.rounding, meter.rounding_increment)


def aggregate_all(
    session: Session, meter: Meter, start: datetime, end: datetime
) -> dict[int, Decimal]:
    """Raw quantity per subscription for one meter over ``[start, end)``: one GROUP BY query.

    Used by ``praho usage rate`` and the benchmark: a whole period of every subscription
    without a query per subscription.
    """
    if meter.aggregation == Aggregation.LAST:
        rows = session.execute(_last_query(meter, start, end))
    else:
        rows = session.execute(
            select(E.subscription_id, _measure(meter.aggregation))
            .where(E.meter_id == meter.id, E.occurred_at >= start, E.occurred_at < end)
            .group_by(E.subscription_id)
        )
    return {sub: _to_quantity(meter.aggregation, value) for sub, value in rows}
