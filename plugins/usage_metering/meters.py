"""Meters and their charges, defined as data (CLI, admin, Python), validated before writing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError, NotFound, ValidationFailed
from praho.core.models.catalog import Price
from praho.core.services.audit import Actor, record_audit
from praho.plugins.usage_metering.charges import parse_charge
from praho.plugins.usage_metering.models import Meter, MeterCharge
from sqlalchemy import select
from sqlalchemy.orm import Session

MICRO = Decimal(1_000_000)


class Aggregation(StrEnum):
    """How a period's events become one quantity."""

    SUM = "sum"
    COUNT = "count"
    MAX = "max"
    # The value of the latest event of the period (e.g. mailboxes in use at the end).
    LAST = "last"
    UNIQUE_COUNT = "unique_count"


class Rounding(StrEnum):
    """How the period's quantity is rounded to the meter's increment before rating."""

    NONE = "none"
    UP = "up"
    DOWN = "down"
    NEAREST = "nearest"


class Category(StrEnum):
    """What a hosting provider meters (reports group by it)."""

    STORAGE = "storage"
    BANDWIDTH = "bandwidth"
    COMPUTE = "compute"
    EMAIL = "email"
    OTHER = "other"


_ROUNDING = {
    Rounding.UP: ROUND_CEILING,
    Rounding.DOWN: ROUND_FLOOR,
    Rounding.NEAREST: ROUND_HALF_UP,
}


def round_quantity(quantity: Decimal, rounding: str, increment: Decimal) -> Decimal:
    """Round to a multiple of ``increment`` (up, down, nearest half-up), or leave as is."""
    if rounding == Rounding.NONE:
        return quantity
    steps = (quantity / increment).to_integral_value(rounding=_ROUNDING[Rounding(rounding)])
    return steps * increment


@dataclass(frozen=True)
class MeterInput:
    """A meter definition as received (strings are fine; everything is validated)."""

    code: Any
    name: Any
    unit: Any
    aggregation: Any
    category: Any = "other"
    property: Any = None
    rounding: Any = "none"
    rounding_increment: Any = "1"
    unit_code: Any = "C62"
    name_en: Any = None
    stripe_event_name: Any = None

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> MeterInput:
        """From a dict (CLI JSON file, API); unknown keys are an error."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValidationFailed([FieldError(k, "unknown field") for k in sorted(unknown)])
        return cls(**data)


def _validate_meter(data: MeterInput) -> dict[str, Any]:
    errors = v.Collector()
    values = {
        "code": errors.check(v.code, "code", data.code, max_length=60),
        "name": errors.check(v.text, "name", data.name, max_length=100),
        "name_en": errors.check(v.text, "name_en", data.name_en, max_length=100, required=False),
        "unit": errors.check(v.text, "unit", data.unit, max_length=20),
        "unit_code": errors.check(v.unit_code, "unit_code", data.unit_code),
        "aggregation": errors.check(v.choice, "aggregation", data.aggregation, Aggregation),
        "category": errors.check(v.choice, "category", data.category, Category),
        "rounding": errors.check(v.choice, "rounding", data.rounding, Rounding),
        "rounding_increment": errors.check(
            v.decimal,
            "rounding_increment",
            data.rounding_increment,
            places=6,
            minimum=Decimal("0.000001"),
            maximum=v.MAX_QUANTITY,
        ),
        "property": errors.check(v.text, "property", data.property, max_length=60, required=False),
        "stripe_event_name": errors.check(
            v.text, "stripe_event_name", data.stripe_event_name, max_length=100, required=False
        ),
    }
    if values["aggregation"] not in (None, Aggregation.COUNT) and not values["property"]:
        errors.errors.append(
            FieldError(
                "property",
                f"is required for {data.aggregation} meters (the event property to aggregate)",
            )
        )
    errors.raise_if_any()
    if values["aggregation"] == Aggregation.COUNT:
        values["property"] = None
    return values


def define_meter(
    session: Session, data: MeterInput, *, actor: Actor | None = None, now: datetime | None = None
) -> Meter:
    """Create a meter, or update the one with the same code (its events are kept)."""
    values = _validate_meter(data)
    moment = resolve_now(now)
    meter = session.execute(select(Meter).where(Meter.code == values["code"])).scalar_one_or_none()
    if meter is None:
        meter = Meter(created_at=moment, active=True, **values)
        session.add(meter)
    else:
        for key, value in values.items():
            setattr(meter, key, value)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="usage_meter.defined",
        object_type="usage_meter",
        object_id=meter.code,
        now=moment,
        data={k: str(x) for k, x in values.items()},
    )
    return meter


def meter_by_code(session: Session, code: str) -> Meter:
    """The meter with this code, or NotFound."""
    meter = session.execute(select(Meter).where(Meter.code == code)).scalar_one_or_none()
    if meter is None:
        raise NotFound(f"no usage meter {code!r}")
    return meter


def define_charge(
    session: Session,
    *,
    meter: Meter,
    price: Price,
    data: dict[str, Any],
    actor: Actor | None = None,
    now: datetime | None = None,
) -> MeterCharge:
    """Set how ``meter`` is charged for subscriptions to ``price`` (replacing a previous one).

    A changed charge applies to periods rated from then on; rated periods keep the
    amounts already invoiced.
    """
    spec = parse_charge(data)
    moment = resolve_now(now)
    charge = session.execute(
        select(MeterCharge).where(
            MeterCharge.meter_id == meter.id, MeterCharge.price_id == price.id
        )
    ).scalar_one_or_none()
    values = {
        "model": str(spec.model),
        "unit_price": spec.unit_price,
        "tiers": [t.as_dict() for t in spec.tiers],
        "package_size": spec.package_size,
        "package_price": spec.package_price,
        "included_units": spec.included_units,
        "minimum_minor": spec.minimum_minor,
    }
    if charge is None:
        charge = MeterCharge(meter_id=meter.id, price_id=price.id, created_at=moment, **values)
        session.add(charge)
        session.info.pop(_CHARGED_PRICES, None)
    else:
        for key, value in values.items():
            setattr(charge, key, value)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="usage_charge.defined",
        object_type="usage_meter_charge",
        object_id=charge.id,
        now=moment,
        currency=price.currency,
        data={
            "meter": meter.code,
            "price": price.code,
            **{k: (x if isinstance(x, list | int) else str(x)) for k, x in values.items()},
        },
    )
    return charge


# Session cache of the price ids that have charges: the billing run asks for every
# subscription, and most plans meter nothing. define_charge clears it.
_CHARGED_PRICES = "praho.usage_metering.charged_prices"


def charged_price_ids(session: Session) -> set[int]:
    """The ids of the prices that charge any meter (cached in the session)."""
    charged = session.info.get(_CHARGED_PRICES)
    if charged is None:
        charged = set(session.execute(select(MeterCharge.price_id).distinct()).scalars())
        session.info[_CHARGED_PRICES] = charged
    return charged


def charges_for_prices(session: Session, price_ids: list[int]) -> list[MeterCharge]:
    """The charges of these prices (the usage billed to subscriptions holding them)."""
    if not price_ids:
        return []
    if charged_price_ids(session).isdisjoint(price_ids):
        return []
    return list(
        session.execute(
            select(MeterCharge).where(MeterCharge.price_id.in_(price_ids)).order_by(MeterCharge.id)
        ).scalars()
    )
