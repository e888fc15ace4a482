"""Recording usage events: validate a batch, store the good events once, explain the rest.

A batch is checked event by event (nothing about one event stops another): a known
meter, a customer or subscription this key may report for and whose plan is charged
for that meter, a timestamp inside the acceptance window, a usable value. The good
events are written in one statement set; an event whose (meter, customer, event id) is
already stored, in the database or earlier in the batch, is acknowledged as a duplicate
and not counted again (the primary key decides, so concurrent senders cannot double it).
Event ids belong to the sender, so they are scoped by the event's customer: the customer
of a customer's API key, or, for integration keys and trusted callers reporting for many
customers, the customer of the event's subscription. Another customer's equal id is a
different event (and its existence is not revealed).
Writing is in :mod:`praho.plugins.usage_metering.event_store`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, DecimalException
from typing import Any

from praho.core.clock import resolve_now
from praho.core.models.customers import Customer
from praho.core.models.subscriptions import FINAL_STATUSES, Subscription, SubscriptionItem
from praho.core.services.bulk_sql import ids_in
from praho.plugins.usage_metering.alerts import check_alerts
from praho.plugins.usage_metering.charge_history import ended_charges
from praho.plugins.usage_metering.event_store import EventKey, event_key, store_events
from praho.plugins.usage_metering.meters import Aggregation
from praho.plugins.usage_metering.models import Meter, MeterCharge
from praho.plugins.usage_metering.settings import UsageSettings, current_settings
from sqlalchemy import and_, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import String

_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}")
_EVENT_KEYS = frozenset({"id", "meter", "customer", "subscription", "timestamp", "properties"})
MAX_PROPERTIES = 30
MAX_PROPERTIES_BYTES = 2000
# 10^9 units per event with six decimals still sums exactly in BIGINT over 10^9 events.
MAX_MICRO = 1_000_000_000 * 1_000_000


@dataclass(frozen=True)
class Rejection:
    """Why one event of a batch was not stored."""

    index: int
    event_id: str | None
    reason: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON form the HTTP endpoint answers."""
        return {
            "index": self.index,
            "id": self.event_id,
            "reason": self.reason,
            "message": self.message,
        }


@dataclass
class IngestResult:
    """What happened to a batch: counts, duplicate positions and rejections."""

    received: int
    accepted: int = 0
    duplicates: list[int] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON form: ``accepted``, ``duplicates`` (count and positions), ``rejected``."""
        return {
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": len(self.duplicates),
            "duplicate_indexes": self.duplicates,
            "rejected": [r.as_dict() for r in self.rejected],
        }


class _Reject(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class _MeterInfo:
    """The fields of a meter that validation reads, as plain attributes (read per event)."""

    id: int
    code: str
    aggregation: str
    property: str | None


# One encoder for every event: json.dumps with options builds a new one per call.
_encode = json.JSONEncoder(default=str, separators=(",", ":")).encode


@dataclass
class _Targets:
    """Subscriptions a batch may report for, with the meters their plans charge."""

    # Per subscription, meter id -> None while a price on it charges the meter, or the
    # instant the last one stopped: usage dated before then is still billable.
    meters_of: dict[int, dict[int, datetime | None]] = field(default_factory=dict)
    customer_of: dict[int, int] = field(default_factory=dict)
    by_customer_code: dict[str, list[int]] = field(default_factory=dict)


def record_usage_events(
    session: Session,
    events: Sequence[Any],
    *,
    customer_id: int | None = None,
    now: datetime | None = None,
    settings: UsageSettings | None = None,
) -> IngestResult:
    """Validate and store a batch of usage events; returns per-event outcomes.

    :param events: mappings with ``id``, ``meter`` (code), ``customer`` (code) or
        ``subscription`` (id), ``timestamp`` (ISO 8601 with offset, or Unix seconds) and
        ``properties`` (the meter's property holds the value).
    :param customer_id: when the caller is one customer's API key, only that customer's
        subscriptions are accepted; None for integration keys and trusted callers.
    """
    moment = resolve_now(now)
    settings = settings or current_settings()
    result = IngestResult(received=len(events))
    if not events:
        return result
    meters = {
        m.code: _MeterInfo(m.id, m.code, m.aggregation, m.property)
        for m in session.execute(select(Meter).where(Meter.active.is_(True))).scalars()
    }
    targets = _load_targets(session, events, customer_id, meters)
    oldest = moment - timedelta(days=settings.max_event_age_days)
    latest = moment + timedelta(seconds=settings.max_future_seconds)
    rows: list[tuple[Any, ...]] = []
    positions: list[int] = []
    seen: set[EventKey] = set()
    for index, raw in enumerate(events):
        try:
            row = _validate(raw, meters, targets, customer_id, oldest, latest, moment)
        except _Reject as reject:
            event_id = raw.get("id") if isinstance(raw, Mapping) else None
            shown = event_id if isinstance(event_id, str) and len(event_id) <= 100 else None
            result.rejected.append(Rejection(index, shown, reject.reason, reject.message))
            continue
        key = event_key(row)
        if key in seen:
            result.duplicates.append(index)
            continue
        seen.add(key)
        rows.append(row)
        positions.append(index)
    if rows:
        stored = store_events(session, rows)
        for row, index in zip(rows, positions, strict=True):
            if event_key(row) in stored:
                result.accepted += 1
            else:
                result.duplicates.append(index)
        result.duplicates.sort()
        touched = {(row[2], row[0]) for row in rows if event_key(row) in stored}
        check_alerts(session, touched, now=moment)
    return result


def _load_targets(
    session: Session,
    events: Sequence[Any],
    customer_id: int | None,
    meters: Mapping[str, _MeterInfo],
) -> _Targets:
    subscription_ids: set[int] = set()
    codes: set[str] = set()
    # (subscription id or customer code, meter id) pairs the batch reports for.
    asked: set[tuple[int | str, int]] = set()
    for raw in events:
        if not isinstance(raw, Mapping):
            continue
        meter_code = raw.get("meter")
        meter = meters.get(meter_code) if type(meter_code) is str else None
        sub = raw.get("subscription")
        # Only ids a BIGINT can hold: 10**99 reached the query and raised OverflowError (500).
        if isinstance(sub, int) and not isinstance(sub, bool) and 0 < sub < 2**63:
            subscription_ids.add(sub)
        elif isinstance(sub, str) and sub.isdigit() and len(sub) < 19:
            sub = int(sub)
            subscription_ids.add(sub)
        else:
            sub = None
        code = raw.get("customer")
        if isinstance(code, str) and len(code) <= 40:
            codes.add(code)
        else:
            code = None
        target = sub if sub is not None else code
        if meter is not None and target is not None:
            asked.add((target, meter.id))
    scope = [Subscription.status.notin_([str(s) for s in FINAL_STATUSES])]
    if customer_id is not None:
        scope.append(Subscription.customer_id == customer_id)
    query = (
        select(Subscription.id, Subscription.customer_id, Customer.code, MeterCharge.meter_id)
        .join(Customer, Customer.id == Subscription.customer_id)
        .join(SubscriptionItem, SubscriptionItem.subscription_id == Subscription.id)
        .join(MeterCharge, MeterCharge.price_id == SubscriptionItem.price_id)
        .where(SubscriptionItem.removed_at.is_(None), *scope)
    )
    targets = _Targets()
    wanted = []
    if subscription_ids:
        wanted.append(ids_in(session, Subscription.id, sorted(subscription_ids)))
    if codes:
        if session.get_bind().dialect.name == "postgresql":
            wanted.append(
                Customer.code == any_(bindparam(None, sorted(codes), type_=ARRAY(String)))
            )
        else:
            wanted.append(Customer.code.in_(sorted(codes)))
    if not wanted:
        return targets
    for sub_id, cust_id, code, meter_id in session.execute(query.where(or_(*wanted))):
        targets.meters_of.setdefault(sub_id, {})[meter_id] = None
        _add_target(targets, sub_id, cust_id, code)
    if not all(_charged_now(targets, target, meter_id) for target, meter_id in asked):
        _load_ended_charges(session, targets, and_(or_(*wanted), *scope))
    return targets


def _add_target(targets: _Targets, sub_id: int, cust_id: int, code: str) -> None:
    targets.customer_of[sub_id] = cust_id
    subs = targets.by_customer_code.setdefault(code, [])
    if sub_id not in subs:
        subs.append(sub_id)


def _charged_now(targets: _Targets, target: int | str, meter_id: int) -> bool:
    subs = [target] if isinstance(target, int) else targets.by_customer_code.get(target, [])
    return any(targets.meters_of.get(sub, {}).get(meter_id, False) is None for sub in subs)


def _load_ended_charges(session: Session, targets: _Targets, where: Any) -> None:
    """Add the meters the subscriptions ``where`` stopped being charged for, with when.

    Only looked up when the batch names a meter that a subscription's items do not
    charge now (rare: late usage after a plan change or a removed add-on), so the
    common batch stays one query.
    """
    ended = ended_charges(session, where)
    for sub_id, per_meter in ended.items():
        meters_of = targets.meters_of.setdefault(sub_id, {})
        for meter_id, stopped in per_meter.items():
            meters_of.setdefault(meter_id, stopped.until)
    missing = sorted(set(ended) - set(targets.customer_of))
    if missing:
        for sub_id, cust_id, code in session.execute(
            select(Subscription.id, Subscription.customer_id, Customer.code)
            .join(Customer, Customer.id == Subscription.customer_id)
            .where(ids_in(session, Subscription.id, missing))
        ):
            _add_target(targets, sub_id, cust_id, code)


def _validate(
    raw: Any,
    meters: dict[str, _MeterInfo],
    targets: _Targets,
    customer_id: int | None,
    oldest: datetime,
    latest: datetime,
    moment: datetime,
) -> tuple[Any, ...]:
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise _Reject("invalid", "an event must be an object")
    if not _EVENT_KEYS.issuperset(raw):
        extra = sorted(map(str, raw.keys() - _EVENT_KEYS))[:5]
        raise _Reject("invalid", f"unknown fields {extra}")
    event_id = raw.get("id")
    if type(event_id) is not str or not _EVENT_ID.fullmatch(event_id):
        raise _Reject("invalid_id", "id: 1-100 characters, letters, digits and . _ : -")
    code = raw.get("meter")
    # A list or an object is unhashable: looked up as is, it raised TypeError (a 500).
    meter = meters.get(code) if type(code) is str else None
    if meter is None:
        raise _Reject("unknown_meter", f"meter: no active meter {str(raw.get('meter'))[:60]!r}")
    subscription_id = _subscription_for(raw, meter, targets, customer_id)
    occurred = _timestamp(raw.get("timestamp"))
    if occurred < oldest:
        raise _Reject("too_old", f"timestamp: older than the {(moment - oldest).days}-day window")
    if occurred > latest:
        raise _Reject(
            "in_future",
            f"timestamp: more than {int((latest - moment).total_seconds())} seconds in the future",
        )
    stopped = targets.meters_of[subscription_id][meter.id]
    if stopped is not None and occurred >= stopped:
        # Usage while the meter was charged is billed (rating keeps its last charge);
        # after that nothing on the subscription prices it.
        raise _Reject(
            "meter_not_in_plan",
            f"timestamp: subscription {subscription_id} stopped being charged for "
            f"{meter.code} at {stopped.isoformat()}; later usage is not billable",
        )
    properties = raw.get("properties")
    if properties is None:
        properties = {}
    elif type(properties) is not dict and not isinstance(properties, Mapping):
        raise _Reject("invalid_properties", "properties: must be an object")
    if len(properties) > MAX_PROPERTIES:
        raise _Reject(
            "invalid_properties", f"properties: an object with at most {MAX_PROPERTIES} keys"
        )
    try:
        encoded = _encode(properties)
    except (TypeError, ValueError):
        raise _Reject("invalid_properties", "properties: not JSON-serialisable") from None
    if len(encoded) > MAX_PROPERTIES_BYTES:
        raise _Reject("invalid_properties", f"properties: over {MAX_PROPERTIES_BYTES} bytes")
    micro, unique_key = _value(meter, properties)
    return (
        meter.id,
        event_id,
        subscription_id,
        targets.customer_of[subscription_id],
        occurred,
        micro,
        unique_key,
        encoded,
        moment,
    )


def _subscription_for(
    raw: Mapping[str, Any], meter: _MeterInfo, targets: _Targets, customer_id: int | None
) -> int:
    sub = raw.get("subscription")
    if sub is not None:
        if isinstance(sub, str) and sub.isdigit() and len(sub) < 19:
            sub = int(sub)
        if isinstance(sub, bool) or not isinstance(sub, int) or not 0 < sub < 2**63:
            raise _Reject("invalid_subscription", "subscription: must be a subscription id")
        meters = targets.meters_of.get(sub)
        if meters is None:
            raise _Reject(
                "unknown_subscription",
                f"subscription: {sub} is not an open "
                "subscription with metered usage" + (" of this customer" if customer_id else ""),
            )
        if meter.id not in meters:
            raise _Reject(
                "meter_not_in_plan",
                f"meter: subscription {sub}'s plan does not charge {meter.code}",
            )
        code = raw.get("customer")
        if code is not None and (
            type(code) is not str or sub not in targets.by_customer_code.get(code, ())
        ):
            raise _Reject(
                "customer_mismatch", f"customer: subscription {sub} is not {str(code)[:40]!r}'s"
            )
        return sub
    code = raw.get("customer")
    if not isinstance(code, str):
        raise _Reject("missing_target", "give customer (code) or subscription (id)")
    subs = targets.by_customer_code.get(code, ())
    # A subscription charged for the meter now wins over one that was charged until
    # recently (whose late usage is still accepted when it names no other).
    candidates = [s for s in subs if targets.meters_of[s].get(meter.id, False) is None] or [
        s for s in subs if meter.id in targets.meters_of[s]
    ]
    if not candidates:
        raise _Reject(
            "unknown_customer",
            f"customer: {code[:40]!r} has no open subscription charged for {meter.code}",
        )
    if len(candidates) > 1:
        raise _Reject(
            "ambiguous_subscription",
            f"customer: {code[:40]!r} has {len(candidates)} "
            f"subscriptions charged for {meter.code}; give subscription",
        )
    return candidates[0]


def _timestamp(value: Any) -> datetime:
    if type(value) is str and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _Reject("invalid_timestamp", "timestamp: not ISO 8601") from None
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value < 32503680000:
            raise _Reject("invalid_timestamp", "timestamp: Unix seconds out of range")
        return datetime.fromtimestamp(value, UTC)
    else:
        raise _Reject("invalid_timestamp", "timestamp: ISO 8601 text or Unix seconds required")
    if moment.tzinfo is None:
        raise _Reject("invalid_timestamp", "timestamp: needs a UTC offset (e.g. Z)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00:00+01:00 has no UTC equivalent (this was a 500 before).
        raise _Reject("invalid_timestamp", "timestamp: out of range") from None


def _value(meter: _MeterInfo, properties: Mapping[str, Any]) -> tuple[int, str | None]:
    aggregation = meter.aggregation
    if aggregation == Aggregation.COUNT:
        return 1_000_000, None
    name = meter.property
    value = properties.get(name) if name else None
    if value is None:
        raise _Reject("missing_value", f"properties.{name}: required by meter {meter.code}")
    if aggregation == Aggregation.UNIQUE_COUNT:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise _Reject("invalid_value", f"properties.{name}: text or integer required")
        key = str(value)
        if not key or len(key) > 200:
            raise _Reject("invalid_value", f"properties.{name}: 1-200 characters")
        return 1_000_000, key
    if type(value) is str:
        return _micro_of_text(name, value), None
    if isinstance(value, bool) or isinstance(value, float):
        raise _Reject(
            "invalid_value", f"properties.{name}: give a decimal string or integer, not a float"
        )
    if isinstance(value, int):
        micro = value * 1_000_000
    else:
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value)[:40])
            micro = int(number.scaleb(6))
        except (DecimalException, ValueError, OverflowError):
            raise _Reject("invalid_value", f"properties.{name}: not a number") from None
        if not number.is_finite() or micro != number.scaleb(6):
            raise _Reject("invalid_value", f"properties.{name}: at most 6 decimals")
    if micro < 0:
        raise _Reject("invalid_value", f"properties.{name}: must not be negative")
    if micro > MAX_MICRO:
        raise _Reject("invalid_value", f"properties.{name}: above 1,000,000,000")
    return micro, None


def _micro_of_text(name: str | None, value: str) -> int:
    """Millionths of a decimal string (the usual JSON form of a quantity)."""
    if len(value) > 40:
        raise _Reject("invalid_value", f"properties.{name}: longer than 40 characters")
    try:
        number = Decimal(value)
        if not number.is_finite():
            raise _Reject("invalid_value", f"properties.{name}: not a number")
        # 1E999999 overflows the context here (decimal.Overflow: a 500 before).
        scaled = number.scaleb(6)
        micro = int(scaled)  # 1E99999: ValueError (more than 4300 digits), a 500 before
    except (DecimalException, ValueError):
        raise _Reject("invalid_value", f"properties.{name}: not a number") from None
    if micro != scaled:
        raise _Reject("invalid_value", f"properties.{name}: at most 6 decimals")
    if micro < 0:
        raise _Reject("invalid_value", f"properties.{name}: must not be negative")
    if micro > MAX_MICRO:
        raise _Reject("invalid_value", f"properties.{name}: above 1,000,000,000")
    return micro
