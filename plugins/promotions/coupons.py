"""Creating campaigns, coupons and batches of unique codes (validated; nothing half-written)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError, ValidationFailed
from praho.core.models.catalog import Price, Product
from praho.core.services.audit import SYSTEM, Actor, record_audit
from praho.plugins.promotions.errors import CouponNotFound
from praho.plugins.promotions.models import (
    Campaign,
    Coupon,
    CouponCode,
    CustomerType,
    DiscountType,
    Duration,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

# Unambiguous characters for generated codes (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
MAX_BATCH = 100_000


def normalise_code(value: str) -> str:
    """Codes are case-insensitive: stored and looked up in upper case."""
    return value.strip().upper()


def create_campaign(
    session: Session,
    *,
    code: str,
    name: str,
    starts_on: date,
    ends_on: date | None = None,
    budget_minor: int | None = None,
    currency: str | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Campaign:
    """A campaign with dates and an optional budget in one currency."""
    moment = resolve_now(now)
    c = v.Collector()
    code = c.check(v.code, "code", code, max_length=60)
    name = c.check(v.text, "name", name, max_length=200)
    starts_on = c.check(v.iso_date, "starts_on", starts_on)
    if ends_on is not None:
        ends_on = c.check(v.iso_date, "ends_on", ends_on)
        if starts_on and ends_on and ends_on < starts_on:
            c.errors.append(FieldError("ends_on", "is before starts_on"))
    if budget_minor is not None:
        c.check(v.amount_minor, "budget_minor", budget_minor)
        if currency is None:
            c.errors.append(FieldError("currency", "a budget needs its currency"))
    if currency is not None:
        c.check(v.currency, "currency", currency)
    c.raise_if_any()
    if session.execute(select(Campaign.id).where(Campaign.code == code)).first():
        raise ValidationFailed([FieldError("code", f"campaign {code!r} already exists")])
    campaign = Campaign(
        code=code,
        name=name,
        starts_on=starts_on,
        ends_on=ends_on,
        budget_minor=budget_minor,
        currency=currency,
        spent_minor=0,
        created_at=moment,
    )
    session.add(campaign)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="campaign.created",
        object_type="campaign",
        object_id=code,
        amount_minor=budget_minor,
        currency=currency,
        now=moment,
        data={
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat() if ends_on else None,
        },
    )
    return campaign


@dataclass
class CouponSpec:
    """Everything a coupon can say; validated by :func:`create_coupon`."""

    code: str
    name: str
    discount_type: str
    percent: Decimal | str | None = None
    amounts: dict[str, int] = field(default_factory=dict)
    free_months: int | None = None
    bogo_product: Product | None = None
    duration: str = Duration.ONCE
    duration_cycles: int | None = None
    max_redemptions: int | None = None
    max_per_customer: int | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    min_order: dict[str, int] = field(default_factory=dict)
    products: list[Product] = field(default_factory=list)
    prices: list[Price] = field(default_factory=list)
    new_customers_only: bool = False
    countries: list[str] = field(default_factory=list)
    customer_type: str | None = None
    customer_tag: str | None = None
    campaign: Campaign | None = None


def _limit(c: v.Collector, name: str, value: Any) -> None:
    if value is not None:
        c.check(v.integer, name, value, minimum=1, maximum=10_000_000)


def _amounts(c: v.Collector, name: str, amounts: Any) -> dict[str, int]:
    if not isinstance(amounts, dict):
        c.errors.append(FieldError(name, "must map currency codes to minor units"))
        return {}
    clean: dict[str, int] = {}
    for currency, amount in amounts.items():
        if (
            c.check(v.currency, f"{name}.{currency}", currency)
            and c.check(v.amount_minor, f"{name}.{currency}", amount) is not None
        ):
            clean[currency] = amount
    return clean


def _validate(spec: CouponSpec) -> dict[str, Any]:
    c = v.Collector()
    values: dict[str, Any] = {
        "code": c.check(v.code, "code", spec.code, max_length=40),
        "name": c.check(v.text, "name", spec.name, max_length=200),
        "discount_type": c.check(v.choice, "discount_type", spec.discount_type, DiscountType),
        "duration": c.check(v.choice, "duration", spec.duration, Duration),
    }
    kind = values["discount_type"]
    if kind == DiscountType.PERCENTAGE:
        pct = c.check(v.rate_percent, "percent", spec.percent) if spec.percent is not None else None
        if pct is None or pct <= 0:
            c.errors.append(FieldError("percent", "a percentage coupon needs a percent above 0"))
        values["percent"] = pct
    elif spec.percent is not None:
        c.errors.append(
            FieldError("percent", f"only percentage coupons have a percent, not {kind}")
        )
    values["amounts"] = _amounts(c, "amounts", spec.amounts)
    if kind == DiscountType.FIXED and not values["amounts"]:
        c.errors.append(
            FieldError("amounts", "a fixed coupon needs an amount in at least one currency")
        )
    if kind == DiscountType.FREE_MONTHS:
        c.check(v.integer, "free_months", spec.free_months, minimum=1, maximum=120)
    if kind == DiscountType.BOGO and not isinstance(spec.bogo_product, Product):
        c.errors.append(FieldError("bogo_product", "a buy-one-get-one coupon names its product"))
    if values["duration"] == Duration.REPEATING:
        c.check(v.integer, "duration_cycles", spec.duration_cycles, minimum=1, maximum=1200)
    elif spec.duration_cycles is not None:
        c.errors.append(
            FieldError("duration_cycles", "only repeating coupons have a number of cycles")
        )
    _limit(c, "max_redemptions", spec.max_redemptions)
    _limit(c, "max_per_customer", spec.max_per_customer)
    for name in ("valid_from", "valid_until"):
        if getattr(spec, name) is not None:
            values[name] = c.check(v.iso_date, name, getattr(spec, name))
    if (
        values.get("valid_from")
        and values.get("valid_until")
        and values["valid_until"] < values["valid_from"]
    ):
        c.errors.append(FieldError("valid_until", "is before valid_from"))
    values["min_order"] = _amounts(c, "min_order", spec.min_order)
    for index, country in enumerate(spec.countries):
        c.check(v.country, f"countries[{index}]", country)
    if spec.customer_type is not None:
        c.check(v.choice, "customer_type", spec.customer_type, CustomerType)
    values["customer_tag"] = c.check(
        v.text, "customer_tag", spec.customer_tag, max_length=60, required=False
    )
    c.check(v.boolean, "new_customers_only", spec.new_customers_only)
    if any(not isinstance(p, Product) for p in spec.products):
        c.errors.append(FieldError("products", "must be catalog products"))
    if any(not isinstance(p, Price) for p in spec.prices):
        c.errors.append(FieldError("prices", "must be catalog prices"))
    campaign = spec.campaign
    if (
        campaign is not None
        and campaign.budget_minor is not None
        and kind == DiscountType.FIXED
        and set(values["amounts"]) - {campaign.currency}
    ):
        c.errors.append(
            FieldError("amounts", f"the campaign's budget is in {campaign.currency} only")
        )
    c.raise_if_any()
    return values


def create_coupon(
    session: Session, spec: CouponSpec, *, actor: Actor | None = None, now: datetime | None = None
) -> Coupon:
    """Create a coupon and its own code (``spec.code``); audited."""
    moment = resolve_now(now)
    values = _validate(spec)
    code = normalise_code(values["code"])
    if (
        session.execute(select(Coupon.id).where(Coupon.code == code)).first()
        or session.execute(select(CouponCode.id).where(CouponCode.code == code)).first()
    ):
        raise ValidationFailed([FieldError("code", f"coupon code {code!r} already exists")])
    coupon = Coupon(
        code=code,
        name=values["name"],
        campaign_id=spec.campaign.id if spec.campaign else None,
        discount_type=values["discount_type"],
        percent=values.get("percent"),
        amounts=values["amounts"],
        free_months=spec.free_months,
        bogo_product_id=spec.bogo_product.id if spec.bogo_product else None,
        duration=values["duration"],
        duration_cycles=spec.duration_cycles,
        max_redemptions=spec.max_redemptions,
        times_redeemed=0,
        max_per_customer=spec.max_per_customer,
        valid_from=values.get("valid_from"),
        valid_until=values.get("valid_until"),
        min_order=values["min_order"],
        product_ids=sorted(p.id for p in spec.products),
        price_ids=sorted(p.id for p in spec.prices),
        new_customers_only=spec.new_customers_only,
        countries=[c.upper() for c in spec.countries],
        customer_type=spec.customer_type,
        customer_tag=values["customer_tag"],
        active=True,
        created_by=str(actor or SYSTEM),
        created_at=moment,
    )
    session.add(coupon)
    session.flush()
    session.add(CouponCode(code=code, coupon_id=coupon.id, uses=0, created_at=moment))
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="coupon.created",
        object_type="coupon",
        object_id=code,
        now=moment,
        data={
            "discount_type": coupon.discount_type,
            "duration": coupon.duration,
            "percent": str(coupon.percent) if coupon.percent else None,
            "amounts": coupon.amounts,
            "campaign_id": coupon.campaign_id,
        },
    )
    return coupon


def generate_codes(
    session: Session,
    coupon: Coupon,
    *,
    count: int,
    prefix: str = "",
    batch: str | None = None,
    uses_per_code: int = 1,
    length: int = 10,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> list[CouponCode]:
    """A batch of unique random codes for ``coupon`` (single-use by default); audited once."""
    moment = resolve_now(now)
    c = v.Collector()
    c.check(v.integer, "count", count, minimum=1, maximum=MAX_BATCH)
    c.check(v.integer, "uses_per_code", uses_per_code, minimum=1, maximum=10_000)
    c.check(v.integer, "length", length, minimum=6, maximum=24)
    if prefix:
        c.check(v.code, "prefix", prefix, max_length=12)
    label = c.check(v.text, "batch", batch or f"{coupon.code}-{moment:%Y%m%d%H%M%S}", max_length=60)
    c.raise_if_any()
    prefix = normalise_code(prefix)
    codes: set[str] = set()
    while len(codes) < count:
        fresh = {
            prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
            for _ in range(count - len(codes))
        } - codes
        codes |= fresh - _taken(session, fresh)
    rows = [
        CouponCode(
            code=code,
            coupon_id=coupon.id,
            max_uses=uses_per_code,
            uses=0,
            batch=label,
            created_at=moment,
        )
        for code in sorted(codes)
    ]
    session.add_all(rows)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="coupon.codes_generated",
        object_type="coupon",
        object_id=coupon.code,
        now=moment,
        data={"batch": label, "count": count},
    )
    return rows


def _taken(session: Session, codes: set[str]) -> set[str]:
    """Which of ``codes`` exist already (asked in chunks to keep statements small)."""
    ordered, taken = sorted(codes), set()
    for start in range(0, len(ordered), 1000):
        chunk = ordered[start : start + 1000]
        taken |= set(
            session.execute(select(CouponCode.code).where(CouponCode.code.in_(chunk))).scalars()
        )
    return taken


def find_code(session: Session, code: str) -> CouponCode:
    """The code row for what a customer typed (case-insensitive)."""
    if not isinstance(code, str) or not code.strip():
        raise CouponNotFound("code", "is required")
    row = session.execute(
        select(CouponCode).where(CouponCode.code == normalise_code(code))
    ).scalar_one_or_none()
    if row is None:
        raise CouponNotFound("code", f"no coupon {code.strip()!r}")
    return row


def coupon_stats(session: Session, coupon: Coupon) -> dict[str, int]:
    """Codes and uses of a coupon, for reports."""
    codes, uses = session.execute(
        select(func.count(CouponCode.id), func.coalesce(func.sum(CouponCode.uses), 0)).where(
            CouponCode.coupon_id == coupon.id
        )
    ).one()
    return {"codes": int(codes), "code_uses": int(uses), "times_redeemed": coupon.times_redeemed}
