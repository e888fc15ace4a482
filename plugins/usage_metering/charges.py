"""Charge models: a period's quantity to an exact amount, rounded once at the end.

Pure functions on ``Decimal`` (no database): per unit, graduated tiers, volume tiers
and packages, after free included units, with a minimum amount. The amount is the
exact Decimal sum of every part, converted to minor units half-up only at the end
(so 1,000,000 units at 0.000123 cost exactly 123.00, not a sum of rounded cents).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from typing import Any

from praho.core import validation as v
from praho.core.errors import FieldError, ValidationFailed
from praho.core.money import to_minor

ZERO = Decimal(0)


class ChargeModel(StrEnum):
    """How billable units are priced."""

    PER_UNIT = "per_unit"
    # Each tier prices the units that fall inside it (0-100 at 0.10, the next at 0.08...).
    GRADUATED = "graduated"
    # The tier the whole quantity reaches prices every unit.
    VOLUME = "volume"
    # Blocks of ``package_size`` units, a started block counts whole.
    PACKAGE = "package"


@dataclass(frozen=True)
class Tier:
    """Units up to ``up_to`` (inclusive; None = no limit) at ``unit_price``, plus ``flat``."""

    up_to: Decimal | None
    unit_price: Decimal
    flat: Decimal = ZERO

    def as_dict(self) -> dict[str, str | None]:
        """The JSON form stored on the charge."""
        return {
            "up_to": None if self.up_to is None else str(self.up_to),
            "unit_price": str(self.unit_price),
            "flat": str(self.flat),
        }


@dataclass(frozen=True)
class ChargeSpec:
    """A validated charge: the model and its numbers (prices in major units)."""

    model: ChargeModel
    unit_price: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    package_size: Decimal | None = None
    package_price: Decimal | None = None
    included_units: Decimal = ZERO
    minimum_minor: int = 0


@dataclass(frozen=True)
class TierPart:
    """What one tier (or the single price) contributed: units, price, exact amount."""

    first_unit: Decimal
    last_unit: Decimal | None
    units: Decimal
    unit_price: Decimal
    flat: Decimal
    amount: Decimal

    def as_dict(self) -> dict[str, str | None]:
        """JSON form, kept in the invoice line's details."""
        return {
            "from": str(self.first_unit),
            "up_to": None if self.last_unit is None else str(self.last_unit),
            "units": str(self.units),
            "unit_price": str(self.unit_price),
            "flat": str(self.flat),
            "amount": str(self.amount),
        }


@dataclass(frozen=True)
class Rated:
    """The result of rating one quantity."""

    quantity: Decimal
    billable: Decimal
    exact_amount: Decimal
    amount_minor: int
    minimum_applied: bool
    parts: tuple[TierPart, ...] = field(default=())


def _price(field_name: str, value: Any) -> Decimal:
    return v.unit_price(field_name, value)


def _units(field_name: str, value: Any, *, positive: bool) -> Decimal:
    minimum = Decimal("0.000001") if positive else ZERO
    return v.decimal(field_name, value, places=6, minimum=minimum, maximum=v.MAX_QUANTITY)


def parse_charge(data: dict[str, Any]) -> ChargeSpec:
    """Validate a charge definition (every field named in the error) into a ChargeSpec."""
    errors = v.Collector()
    model_text = errors.check(v.choice, "model", data.get("model"), ChargeModel)
    included = errors.check(
        _units, "included_units", data.get("included_units", "0"), positive=False
    )
    minimum = errors.check(v.amount_minor, "minimum_minor", data.get("minimum_minor", 0))
    errors.raise_if_any()
    model = ChargeModel(model_text)
    unit_price = package_size = package_price = None
    tiers: list[Tier] = []
    if model == ChargeModel.PER_UNIT:
        unit_price = errors.check(_price, "unit_price", data.get("unit_price"))
    elif model == ChargeModel.PACKAGE:
        package_size = errors.check(_units, "package_size", data.get("package_size"), positive=True)
        package_price = errors.check(_price, "package_price", data.get("package_price"))
    else:
        tiers = _parse_tiers(errors, data.get("tiers"))
    errors.raise_if_any()
    return ChargeSpec(
        model, unit_price, tuple(tiers), package_size, package_price, included or ZERO, minimum or 0
    )


def _parse_tiers(errors: v.Collector, raw: Any) -> list[Tier]:
    if not isinstance(raw, list | tuple) or not raw:
        errors.errors.append(FieldError("tiers", "give at least one tier"))
        return []
    if len(raw) > 50:
        errors.errors.append(FieldError("tiers", "at most 50 tiers"))
        return []
    tiers: list[Tier] = []
    previous = ZERO
    for index, item in enumerate(raw):
        where = f"tiers[{index}]"
        if not isinstance(item, dict):
            errors.errors.append(FieldError(where, "must be an object with up_to and unit_price"))
            continue
        up_to_raw = item.get("up_to")
        last = index == len(raw) - 1
        up_to = None
        if up_to_raw is None:
            if not last:
                errors.errors.append(FieldError(f"{where}.up_to", "only the last tier is open"))
        else:
            up_to = errors.check(_units, f"{where}.up_to", up_to_raw, positive=True)
            if up_to is not None and up_to <= previous:
                errors.errors.append(
                    FieldError(f"{where}.up_to", f"must be above the previous tier ({previous})")
                )
            if last:
                errors.errors.append(
                    FieldError(f"{where}.up_to", "the last tier must be open (up_to null)")
                )
        price = errors.check(_price, f"{where}.unit_price", item.get("unit_price"))
        flat = errors.check(_price, f"{where}.flat", item.get("flat", "0"))
        unknown = set(item) - {"up_to", "unit_price", "flat"}
        if unknown:
            errors.errors.append(FieldError(where, f"unknown keys {sorted(unknown)}"))
        if price is not None and flat is not None:
            tiers.append(Tier(up_to, price, flat))
        if up_to is not None:
            previous = up_to
    return tiers


def rate(spec: ChargeSpec, quantity: Decimal, currency: str) -> Rated:
    """The amount for ``quantity`` units: exact, then rounded half-up once, then the minimum."""
    if quantity < 0:
        raise ValidationFailed([FieldError("quantity", "must not be negative")])
    billable = max(ZERO, quantity - spec.included_units)
    parts: list[TierPart] = []
    if billable > 0:
        parts = _parts(spec, billable)
    exact = sum((p.amount for p in parts), ZERO)
    amount = to_minor(exact, currency)
    minimum_applied = amount < spec.minimum_minor
    return Rated(
        quantity, billable, exact, max(amount, spec.minimum_minor), minimum_applied, tuple(parts)
    )


def _parts(spec: ChargeSpec, billable: Decimal) -> list[TierPart]:
    if spec.model == ChargeModel.PER_UNIT:
        assert spec.unit_price is not None
        return [TierPart(ZERO, None, billable, spec.unit_price, ZERO, billable * spec.unit_price)]
    if spec.model == ChargeModel.PACKAGE:
        assert spec.package_size is not None and spec.package_price is not None
        blocks = (billable / spec.package_size).to_integral_value(rounding=ROUND_CEILING)
        return [TierPart(ZERO, None, blocks, spec.package_price, ZERO, blocks * spec.package_price)]
    if spec.model == ChargeModel.VOLUME:
        lower = ZERO
        for tier in spec.tiers:
            if tier.up_to is None or billable <= tier.up_to:
                amount = billable * tier.unit_price + tier.flat
                return [TierPart(lower, tier.up_to, billable, tier.unit_price, tier.flat, amount)]
            lower = tier.up_to
        raise AssertionError("validated tiers end with an open tier")
    parts = []
    lower = ZERO
    for tier in spec.tiers:
        upper = billable if tier.up_to is None else min(billable, tier.up_to)
        units = upper - lower
        if units <= 0:
            break
        parts.append(
            TierPart(
                lower,
                tier.up_to,
                units,
                tier.unit_price,
                tier.flat,
                units * tier.unit_price + tier.flat,
            )
        )
        lower = upper
    return parts


def spec_of(charge: Any) -> ChargeSpec:
    """The ChargeSpec of a stored :class:`MeterCharge` (already validated when defined)."""
    tiers = tuple(
        Tier(
            None if t.get("up_to") is None else Decimal(t["up_to"]),
            Decimal(t["unit_price"]),
            Decimal(t.get("flat") or "0"),
        )
        for t in (charge.tiers or [])
    )
    return ChargeSpec(
        ChargeModel(charge.model),
        charge.unit_price,
        tiers,
        charge.package_size,
        charge.package_price,
        charge.included_units or ZERO,
        charge.minimum_minor or 0,
    )
