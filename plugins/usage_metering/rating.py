"""Rating closed periods into renewal documents: usage in arrears and late adjustments.

The billing run asks for extra lines (``collect_renewal_charges``) while it builds the
document of the period starting on ``period_start``. The usage billed then is the
closed window ``[end of the last rated window (or the subscription's start),
period_start)`` for each meter its plan charges; a meter it stopped charging (a plan
change, a removed add-on) is rated by its last charge up to the day that charge
stopped (see ``charge_history``). Late events, accepted after their period was rated,
are found by re-aggregating recently rated periods: when the quantity changed, the
difference in amount is billed as an adjustment line (the earlier invoice is never
touched). Nothing is written here: what was rated (zero quantities included, which
get no line) waits in the session, keyed by subscription and period, and
:func:`record_ratings` stores it once the document is issued (``subscription_renewed``),
in the billing run's transaction. A preview rolls back and never issues, so it records
nothing.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from praho.core.clock import business_date
from praho.core.models.invoices import LineKind
from praho.core.models.subscriptions import Subscription
from praho.core.money import to_major
from praho.core.pricing import DraftLine
from praho.core.services.renewal import format_day
from praho.plugins.usage_metering.aggregation import period_quantity, window_of
from praho.plugins.usage_metering.charge_history import ended_charges
from praho.plugins.usage_metering.charges import (
    ChargeModel,
    ChargeSpec,
    Rated,
    Tier,
    rate,
    spec_of,
)
from praho.plugins.usage_metering.meters import charges_for_prices
from praho.plugins.usage_metering.models import Meter, MeterCharge, UsageRating
from praho.plugins.usage_metering.settings import UsageSettings, current_settings
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

_MARK = "praho.usage_metering.rated_subscriptions"
WORDS = {
    "ro": {
        "period": "Perioada",
        "included": "incluse",
        "minimum": "minim facturat",
        "late": "Ajustare consum tardiv",
        "tiers": "trepte",
    },
    "en": {
        "period": "Period",
        "included": "included",
        "minimum": "minimum charge",
        "late": "Late usage adjustment",
        "tiers": "tiers",
    },
}


@event.listens_for(Session, "after_transaction_end")
def _forget_rated(session: Session, transaction: Any) -> None:
    """What was rated belongs to one outermost transaction (savepoints keep it)."""
    if transaction.parent is None:
        session.info.pop(_MARK, None)


def usage_lines(
    session: Session,
    subscription: Subscription,
    period_start: date,
    *,
    language: str,
    now: datetime,
    settings: UsageSettings | None = None,
) -> list[DraftLine]:
    """Arrears and adjustment lines for the document of the period starting ``period_start``."""
    settings = settings or current_settings()
    lines: list[DraftLine] = []
    pending: list[dict[str, Any]] = []
    for meter_id, (charge, stop) in _charged_meters(session, subscription).items():
        meter = session.get(Meter, meter_id)
        assert meter is not None
        # Per meter, not per charge: after a plan change the new charge continues where
        # the old one stopped, and late events of old periods keep the old terms.
        rated = _rated_periods(session, subscription.id, meter_id)
        for line in _adjustments(
            session, subscription, meter, charge, rated, language, now, settings
        ):
            lines.append(line)
            pending.append(line.details["usage"])
        last_end = max((r.period_end for r in rated), default=subscription.start_date)
        end = period_start if stop is None else min(period_start, stop)
        if last_end < end:
            usage, line = _arrears(
                session, subscription, meter, charge, last_end, end, language, now
            )
            pending.append(usage)
            if line is not None:
                lines.append(line)
    memo = session.info.setdefault(_MARK, {})
    memo.pop((subscription.id, period_start), None)
    if pending:
        memo[(subscription.id, period_start)] = pending
    return lines


def _charged_meters(
    session: Session, subscription: Subscription
) -> dict[int, tuple[MeterCharge, date | None]]:
    """Meter id -> (the charge that rates it, the day its usage stops being billable).

    The stop is None for a meter charged now. A meter no price charges any more (its
    add-on removed, or the plan changed to a price without it) is still rated, by the
    last charge that had it, up to and including the day that charge stopped: the
    usage it had until then is owed, and late events dated before then are accepted.
    Once its windows reach that day, only late events can add to it (adjustments).
    """
    # One charge per meter: a plan and an add-on both charging a meter bill it once
    # (the older charge decides).
    price_ids = [item.price_id for item in subscription.active_items]
    meters: dict[int, tuple[MeterCharge, date | None]] = {}
    for charge in charges_for_prices(session, price_ids):
        meters.setdefault(charge.meter_id, (charge, None))
    ended = ended_charges(
        session,
        Subscription.id == subscription.id,
        items_removed=any(item.removed_at is not None for item in subscription.items),
    )
    for meter_id, stopped in ended.get(subscription.id, {}).items():
        if meter_id in meters:
            continue
        charge = session.get(MeterCharge, stopped.charge_id)
        assert charge is not None
        meters[meter_id] = (charge, business_date(stopped.until) + timedelta(days=1))
    return meters


def _rated_periods(session: Session, subscription_id: int, meter_id: int) -> list[UsageRating]:
    """The latest revision of every rated period of (subscription, meter)."""
    latest = (
        select(
            UsageRating.meter_charge_id,
            UsageRating.period_start,
            func.max(UsageRating.revision).label("revision"),
        )
        .where(UsageRating.subscription_id == subscription_id, UsageRating.meter_id == meter_id)
        .group_by(UsageRating.meter_charge_id, UsageRating.period_start)
        .subquery()
    )
    return list(
        session.execute(
            select(UsageRating)
            .join(
                latest,
                (UsageRating.meter_charge_id == latest.c.meter_charge_id)
                & (UsageRating.period_start == latest.c.period_start)
                & (UsageRating.revision == latest.c.revision),
            )
            .where(UsageRating.subscription_id == subscription_id)
            .order_by(UsageRating.period_start)
        ).scalars()
    )


def _arrears(
    session: Session,
    subscription: Subscription,
    meter: Meter,
    charge: MeterCharge,
    start: date,
    end: date,
    language: str,
    now: datetime,
) -> tuple[dict[str, Any], DraftLine | None]:
    spec = spec_of(charge)
    raw, quantity = period_quantity(session, meter, subscription.id, *window_of(start, end))
    rated = rate(spec, quantity, subscription.currency)
    usage = _usage(meter, charge.id, spec, rated, start, end, 0, rated.amount_minor, now, raw)
    if quantity == 0 and rated.amount_minor == 0:
        return usage, None
    words = WORDS.get(language, WORDS["ro"])
    description = f"{words['period']} {format_day(start)} - {format_day(end - timedelta(days=1))}: "
    description += f"{_number(quantity)} {meter.unit}"
    if spec.included_units:
        description += f", {_number(spec.included_units)} {words['included']}"
    if len(rated.parts) > 1:
        description += f"; {words['tiers']}: " + ", ".join(
            f"{_number(p.units)} x {_number(p.unit_price)}" for p in rated.parts
        )
    if rated.minimum_applied:
        description += f"; {words['minimum']}"
    return usage, _line(
        meter, usage, rated, LineKind.USAGE, description, language, subscription.currency
    )


def _adjustments(
    session: Session,
    subscription: Subscription,
    meter: Meter,
    charge: MeterCharge,
    rated: list[UsageRating],
    language: str,
    now: datetime,
    settings: UsageSettings,
) -> list[DraftLine]:
    if not rated:
        return []
    last_rating = max(r.rated_at for r in rated)
    # A period can have received events since the last rating only if it ended less
    # than the acceptance window before that rating (one day of margin for commits that
    # were in flight while it ran).
    horizon = business_date(last_rating - timedelta(days=settings.max_event_age_days + 1))
    lines = []
    words = WORDS.get(language, WORDS["ro"])
    for previous in rated:
        if previous.period_end < horizon:
            continue
        spec = _spec_from_details(previous.details) or spec_of(charge)
        raw, quantity = period_quantity(
            session, meter, subscription.id, *window_of(previous.period_start, previous.period_end)
        )
        if quantity == previous.quantity:
            continue
        result = rate(spec, quantity, previous.currency)
        difference = result.amount_minor - previous.total_amount_minor
        if difference == 0:
            continue
        description = (
            f"{words['late']} {format_day(previous.period_start)} - "
            f"{format_day(previous.period_end - timedelta(days=1))}: "
            f"{_number(previous.quantity)} -> {_number(quantity)} {meter.unit}"
        )
        usage = _usage(
            meter,
            previous.meter_charge_id,
            spec,
            result,
            previous.period_start,
            previous.period_end,
            previous.revision + 1,
            difference,
            now,
            raw,
        )
        lines.append(
            _line(
                meter,
                usage,
                result,
                LineKind.ADJUSTMENT,
                description,
                language,
                previous.currency,
                billed_quantity=abs(quantity - previous.quantity),
            )
        )
    return lines


def _usage(
    meter: Meter,
    charge_id: int,
    spec: ChargeSpec,
    rated: Rated,
    start: date,
    end: date,
    revision: int,
    amount_minor: int,
    now: datetime,
    raw: Decimal,
) -> dict[str, Any]:
    """What one rating stores (and the line shows in its details)."""
    return {
        "meter_id": meter.id,
        "meter": meter.code,
        "meter_charge_id": charge_id,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "revision": revision,
        "raw_quantity": str(raw),
        "quantity": str(rated.quantity),
        "billable": str(rated.billable),
        "exact_amount": str(rated.exact_amount),
        "amount_minor": amount_minor,
        "total_amount_minor": rated.amount_minor,
        "minimum_applied": rated.minimum_applied,
        "rated_at": now.isoformat(),
        "parts": [p.as_dict() for p in rated.parts],
        "charge": _spec_details(spec),
    }


def _line(
    meter: Meter,
    usage: dict[str, Any],
    rated: Rated,
    kind: LineKind,
    description: str,
    language: str,
    currency: str,
    *,
    billed_quantity: Decimal | None = None,
) -> DraftLine:
    shown = billed_quantity if billed_quantity is not None else rated.quantity
    quantity = shown if shown > 0 else Decimal(1)
    amount_minor = usage["amount_minor"]
    unit_price = (to_major(abs(amount_minor), currency) / quantity).quantize(
        Decimal("0.000001"), rounding=ROUND_HALF_UP
    )
    name = (meter.name_en or meter.name) if language == "en" else meter.name
    return DraftLine(
        item_name=name[:100],
        description=description[:200],
        quantity=quantity.quantize(Decimal("0.000001")),
        unit_price=unit_price,
        unit_code=meter.unit_code,
        kind=str(kind),
        net_amount_minor=amount_minor,
        period_start=date.fromisoformat(usage["period_start"]),
        period_end=date.fromisoformat(usage["period_end"]) - timedelta(days=1),
        details={"usage": usage},
    )


def _spec_details(spec: ChargeSpec) -> dict[str, Any]:
    data = asdict(spec)
    data["model"] = str(spec.model)
    data["tiers"] = [t.as_dict() for t in spec.tiers]
    return {k: (str(x) if isinstance(x, Decimal) else x) for k, x in data.items()}


def _spec_from_details(details: dict[str, Any]) -> ChargeSpec | None:
    data = (details or {}).get("charge")
    if not data:
        return None

    def dec(value: Any) -> Decimal | None:
        return None if value is None else Decimal(value)

    return ChargeSpec(
        ChargeModel(data["model"]),
        dec(data.get("unit_price")),
        tuple(
            Tier(dec(t["up_to"]), Decimal(t["unit_price"]), Decimal(t.get("flat") or "0"))
            for t in data.get("tiers") or []
        ),
        dec(data.get("package_size")),
        dec(data.get("package_price")),
        Decimal(data.get("included_units") or "0"),
        int(data.get("minimum_minor") or 0),
    )


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def record_ratings(
    session: Session, subscription: Subscription, invoice: Any, *, up_to: date | None = None
) -> int:
    """Store what the issued document rated for usage; returns rows written.

    Called from ``subscription_renewed`` with the issued renewal document, whose period
    start finds what :func:`usage_lines` rated for it, and from
    ``subscription_final_invoiced`` with the final document and ``up_to``, the end date
    its lines were rated to.
    """
    # Read, not removed: if the billing run rolls this write back and retries the
    # document alone, the retry must find it again. Cleared when the
    # outermost transaction ends.
    memo = session.info.get(_MARK) or {}
    pending = memo.get((subscription.id, up_to or invoice.period_start))
    if not pending:
        return 0
    for usage in pending:
        session.add(
            UsageRating(
                subscription_id=subscription.id,
                meter_charge_id=usage["meter_charge_id"],
                meter_id=usage["meter_id"],
                period_start=date.fromisoformat(usage["period_start"]),
                period_end=date.fromisoformat(usage["period_end"]),
                revision=usage["revision"],
                quantity=Decimal(usage["quantity"]),
                amount_minor=usage["amount_minor"],
                total_amount_minor=usage["total_amount_minor"],
                currency=invoice.currency,
                invoice_id=invoice.id,
                rated_at=datetime.fromisoformat(usage["rated_at"]),
                details={
                    "charge": usage["charge"],
                    "parts": usage["parts"],
                    "raw_quantity": usage["raw_quantity"],
                },
            )
        )
    session.flush()
    return len(pending)
