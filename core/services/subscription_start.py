"""Starting a subscription: items validated, trial or first period, first document issued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now
from praho.core.errors import FieldError, PrahoError, ValidationFailed
from praho.core.models.billing_runs import OutcomeKind
from praho.core.models.catalog import Price
from praho.core.models.customers import Customer, CustomerStatus
from praho.core.models.seller import Seller
from praho.core.models.subscriptions import (
    ItemRole,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
)
from praho.core.services.audit import Actor, record_audit
from praho.core.services.billing import bill_subscriptions
from praho.core.services.billing_cycles import cycle_months, first_period
from praho.core.services.invoicing import default_seller
from praho.core.services.renewal import CatalogCache, PriceUnavailable
from praho.core.services.subscription_state import (
    hooks,
    record_event,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

S = SubscriptionStatus
MAX_TRIAL_DAYS = 730


class BillingFailed(PrahoError):
    """A document that had to be issued right away (first period, final invoice) was not."""

    code = "billing_failed"


@dataclass(frozen=True)
class ItemSpec:
    """One price to subscribe to: the plan (first item) or an add-on."""

    price: Price | str
    quantity: Decimal | int | str = 1
    role: ItemRole | None = None


def _resolve_price(
    session: Session, spec: ItemSpec, field: str, errors: v.Collector
) -> Price | None:
    if isinstance(spec.price, Price):
        price: Price | None = spec.price
    else:
        price = session.execute(
            select(Price).where(Price.code == str(spec.price))
        ).scalar_one_or_none()
        if price is None:
            errors.errors.append(FieldError(field, f"no price {spec.price!r}"))
            return None
    assert price is not None
    if not price.active:
        errors.errors.append(FieldError(field, f"price {price.code} is not active"))
    if price.interval_months is None:
        errors.errors.append(FieldError(field, f"price {price.code} is one-time, not recurring"))
    return price


def validate_items(
    session: Session, items: list[ItemSpec], *, currency: str | None, cycle: int | None
) -> tuple[list[tuple[Price, Decimal, ItemRole]], str, int]:
    """Check items for one subscription: prices recurring, one currency, one billing cycle."""
    errors = v.Collector()
    if not items:
        raise ValidationFailed([FieldError("items", "a subscription needs at least one price")])
    checked: list[tuple[Price, Decimal, ItemRole]] = []
    for index, spec in enumerate(items):
        price = _resolve_price(session, spec, f"items[{index}].price", errors)
        quantity = errors.check(v.quantity, f"items[{index}].quantity", spec.quantity)
        role = spec.role or (ItemRole.PLAN if index == 0 else ItemRole.ADDON)
        if price is not None and quantity is not None:
            checked.append((price, quantity, ItemRole(role)))
    errors.raise_if_any()
    currency = currency or checked[0][0].currency
    cycle = cycle or checked[0][0].interval_months
    assert cycle is not None
    for index, (price, _quantity, _role) in enumerate(checked):
        if price.currency != currency:
            errors.errors.append(
                FieldError(
                    f"items[{index}].price",
                    f"{price.code} is in {price.currency}, the subscription in {currency}",
                )
            )
        if price.interval_months != cycle:
            errors.errors.append(
                FieldError(
                    f"items[{index}].price",
                    f"{price.code} bills every {price.interval_months} month(s); "
                    f"the subscription every {cycle}",
                )
            )
    errors.raise_if_any()
    return checked, currency, cycle


def create_subscription(
    session: Session,
    *,
    customer: Customer,
    items: list[ItemSpec],
    billing_cycle: int | str | None = None,
    start_date: date | None = None,
    trial_days: int | None = None,
    trial_end: date | None = None,
    anchor_day: int | None = None,
    seller: Seller | None = None,
    attributes: dict[str, Any] | None = None,
    bill_now: bool = True,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Subscription:
    """Start a subscription; with ``bill_now`` its first period is invoiced immediately.

    Without a trial the subscription is active at once (``subscription_activated``
    fires) and its first period starts on ``start_date``; with an anchor day other than
    the start day, the first period runs to the next anchor date and is charged by the
    second. With a trial it is ``trialing`` until ``trial_end`` and the first paid period
    starts then. Creation and the first document are one unit: if the document cannot
    be issued, :class:`BillingFailed` says why and nothing is written.
    """
    moment = resolve_now(now)
    today = business_date(moment)
    errors = v.Collector()
    cycle = errors.check(cycle_months, billing_cycle) if billing_cycle is not None else None
    start = errors.check(v.iso_date, "start_date", start_date or today)
    if customer.status != CustomerStatus.ACTIVE:
        errors.errors.append(
            FieldError("customer", f"customer {customer.code} is {customer.status}")
        )
    if anchor_day is not None and (
        not isinstance(anchor_day, int) or isinstance(anchor_day, bool) or not 1 <= anchor_day <= 31
    ):
        errors.errors.append(FieldError("anchor_day", "must be a day of the month, 1 to 31"))
    trial = None
    if trial_days is not None and trial_end is not None:
        errors.errors.append(FieldError("trial_days", "give trial_days or trial_end, not both"))
    elif trial_days is not None:
        if (
            isinstance(trial_days, bool)
            or not isinstance(trial_days, int)
            or not 1 <= trial_days <= MAX_TRIAL_DAYS
        ):
            errors.errors.append(FieldError("trial_days", f"must be 1 to {MAX_TRIAL_DAYS} days"))
        elif start is not None:
            trial = start + timedelta(days=trial_days)
    elif trial_end is not None:
        trial = errors.check(v.iso_date, "trial_end", trial_end)
        if trial is not None and start is not None and trial <= start:
            errors.errors.append(FieldError("trial_end", "must be after the start date"))
    if attributes is not None and not isinstance(attributes, dict):
        errors.errors.append(FieldError("attributes", "must be a mapping"))
    try:
        checked, currency, cycle = validate_items(session, items, currency=None, cycle=cycle)
    except ValidationFailed as failed:
        errors.errors.extend(failed.errors)
        checked = []
    errors.raise_if_any()
    assert start is not None and cycle is not None
    seller = seller or default_seller(session)
    anchor = anchor_day or (trial or start).day
    first_billed = trial or start
    _check_prices_exist(session, checked, first_billed, currency, moment)

    with session.begin_nested():
        if trial is not None:
            period_start, period_end = start, trial
        else:
            period, _full = first_period(start, cycle, anchor)
            period_start, period_end = period.start, period.end
        subscription = Subscription(
            customer_id=customer.id,
            seller_id=seller.id,
            currency=currency,
            status=S.TRIALING if trial else S.ACTIVE,
            billing_cycle_months=cycle,
            anchor_day=anchor,
            start_date=start,
            current_period_start=period_start,
            current_period_end=period_end,
            next_billing_date=first_billed,
            trial_end=trial,
            cancel_at_period_end=False,
            created_at=moment,
            updated_at=moment,
            attributes=dict(attributes or {}),
            activated_at=None if trial else moment,
        )
        subscription.items = [
            SubscriptionItem(
                price_id=price.id, role=role, quantity=quantity, created_at=moment, attributes={}
            )
            for price, quantity, role in checked
        ]
        session.add(subscription)
        session.flush()
        record_event(
            session,
            subscription,
            "created",
            now=moment,
            actor=actor,
            to_status=str(subscription.status),
            data={
                "items": [[p.code, str(q)] for p, q, _r in checked],
                "cycle": cycle,
                "anchor_day": anchor,
                "trial_end": trial.isoformat() if trial else None,
            },
        )
        record_audit(
            session,
            actor=actor,
            action="subscription.created",
            object_type="subscription",
            object_id=subscription.id,
            currency=currency,
            now=moment,
            data={"customer": customer.code, "status": str(subscription.status)},
        )
        if subscription.status == S.ACTIVE:
            hooks().subscription_activated(session=session, subscription=subscription)
        if bill_now and first_billed <= today:
            bill_now_or_fail(session, subscription, now=moment, actor=actor)
    return subscription


def _check_prices_exist(
    session: Session,
    checked: list[tuple[Price, Decimal, ItemRole]],
    on_date: date,
    currency: str,
    moment: datetime,
) -> None:
    """Refuse a subscription whose prices have no version on its first billed day."""
    catalog = CatalogCache(session)
    errors = []
    for index, (price, _q, _r) in enumerate(checked):
        try:
            catalog.version_on(price, on_date)
        except PriceUnavailable as exc:
            errors.append(FieldError(f"items[{index}].price", exc.message))
    if errors:
        raise ValidationFailed(errors)


def bill_now_or_fail(
    session: Session, subscription: Subscription, *, now: datetime, actor: Actor | None = None
) -> list[Any]:
    """Bill whatever of this subscription is due now; raise :class:`BillingFailed` if it fails.

    ``already_billed`` is a failure here too: the subscription was due for a period whose
    claim exists, so no document was issued and it would stay due on that day, refused
    by every later run. Succeeding would leave it active and never billed again.
    """
    report = bill_subscriptions(session, [subscription.id], now=now, actor=actor)
    for outcome in report.outcomes:
        if outcome.outcome == OutcomeKind.FAILED:
            raise BillingFailed(
                f"subscription {subscription.id}: the document for the period from "
                f"{outcome.period_start} could not be issued: {outcome.reason}"
            )
        if outcome.outcome == OutcomeKind.ALREADY_BILLED:
            raise BillingFailed(
                f"subscription {subscription.id}: the period from {outcome.period_start} "
                "already has a billed claim, yet the subscription is due for it again; "
                "nothing was issued"
            )
    return report.issued
