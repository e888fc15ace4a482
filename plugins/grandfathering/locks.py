"""Price locks: grant, change, revoke, bulk-grant; every assignment and change audited.

A lock keeps a customer's unit price for one catalog price (optionally one subscription)
until ``expires_on``. It wins in price resolution while it covers the period being
billed, but never makes the customer pay more than the catalog (see docs/pricing.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now
from praho.core.errors import FieldError, NotFound
from praho.core.models.catalog import Price
from praho.core.models.customers import Customer
from praho.core.models.subscriptions import FINAL_STATUSES, Subscription, SubscriptionItem
from praho.core.services.audit import SYSTEM, Actor, record_audit
from praho.core.services.billing_cycles import add_months
from praho.core.services.catalog import price_version_on
from praho.plugins.grandfathering.errors import LockConflict, LockNotActive
from praho.plugins.grandfathering.models import PriceLock
from praho.plugins.grandfathering.scope import forget_scope
from sqlalchemy import select
from sqlalchemy.orm import Session


def _audit(
    session: Session,
    lock: PriceLock,
    action: str,
    actor: Actor | None,
    now: datetime,
    data: dict[str, object],
) -> None:
    record_audit(
        session,
        actor=actor,
        action=action,
        object_type="price_lock",
        object_id=lock.id,
        amount_minor=lock.unit_amount_minor,
        currency=lock.currency,
        now=now,
        data={
            "customer_id": lock.customer_id,
            "price_id": lock.price_id,
            "subscription_id": lock.subscription_id,
            **data,
        },
    )


def _check_expiry(c: v.Collector, expires_on: object, today: date) -> date | None:
    if expires_on is None:
        return None
    day = c.check(v.iso_date, "expires_on", expires_on)
    if day is not None and day <= today:
        c.errors.append(FieldError("expires_on", f"{day} is not after today ({today})"))
    return day


def _scope_clash(
    session: Session, customer_id: int, price_id: int, subscription_id: int | None, today: date
) -> PriceLock | None:
    rows = session.execute(
        select(PriceLock).where(
            PriceLock.customer_id == customer_id,
            PriceLock.price_id == price_id,
            PriceLock.revoked_at.is_(None),
        )
    ).scalars()
    for lock in rows:
        if lock.subscription_id == subscription_id and lock.covers(today):
            return lock
    return None


def grant_lock(
    session: Session,
    *,
    customer: Customer,
    price: Price,
    unit_amount_minor: int,
    reason: str,
    actor: Actor | None = None,
    subscription: Subscription | None = None,
    expires_on: date | None = None,
    now: datetime | None = None,
) -> PriceLock:
    """Lock ``customer``'s unit price for ``price`` (optionally one subscription only).

    Raises :class:`ValidationFailed` for bad input and :class:`LockConflict` when a lock of
    the same scope is already in force (change that one instead); writes nothing then.
    """
    moment = resolve_now(now)
    today = business_date(moment)
    c = v.Collector()
    c.check(v.amount_minor, "unit_amount_minor", unit_amount_minor)
    reason = c.check(v.text, "reason", reason, max_length=300)
    expires = _check_expiry(c, expires_on, today)
    if not isinstance(customer, Customer):
        c.errors.append(FieldError("customer", "must be a customer"))
    if not isinstance(price, Price):
        c.errors.append(FieldError("price", "must be a catalog price"))
    c.raise_if_any()
    if subscription is not None:
        if subscription.customer_id != customer.id:
            c.errors.append(
                FieldError(
                    "subscription", f"subscription {subscription.id} belongs to another customer"
                )
            )
        elif not any(item.price_id == price.id for item in subscription.active_items):
            c.errors.append(
                FieldError(
                    "subscription", f"subscription {subscription.id} has no item on {price.code}"
                )
            )
        elif subscription.currency != price.currency:
            c.errors.append(
                FieldError(
                    "price",
                    f"{price.code} is in {price.currency}; "
                    f"the subscription bills in {subscription.currency}",
                )
            )
    c.raise_if_any()
    clash = _scope_clash(
        session, customer.id, price.id, subscription.id if subscription else None, today
    )
    if clash is not None:
        raise LockConflict(
            f"lock {clash.id} already keeps {customer.code} on {price.code}; change or revoke it"
        )
    lock = PriceLock(
        customer_id=customer.id,
        price_id=price.id,
        subscription_id=subscription.id if subscription else None,
        unit_amount_minor=unit_amount_minor,
        currency=price.currency,
        reason=reason,
        granted_by=str(actor or SYSTEM),
        locked_at=moment,
        expires_on=expires,
        created_at=moment,
    )
    session.add(lock)
    session.flush()
    forget_scope(session)
    _audit(
        session,
        lock,
        "price_lock.granted",
        actor,
        moment,
        {"reason": reason, "expires_on": expires.isoformat() if expires else None},
    )
    return lock


def change_lock(
    session: Session,
    lock: PriceLock,
    *,
    reason: str,
    actor: Actor | None = None,
    unit_amount_minor: int | None = None,
    expires_on: date | None = None,
    clear_expiry: bool = False,
    now: datetime | None = None,
) -> PriceLock:
    """Change a lock's amount or expiry (``clear_expiry``: never expires); audited."""
    moment = resolve_now(now)
    today = business_date(moment)
    if not lock.covers(today):
        raise LockNotActive(f"lock {lock.id} is revoked or expired; grant a new one")
    c = v.Collector()
    reason = c.check(v.text, "reason", reason, max_length=300)
    if unit_amount_minor is not None:
        c.check(v.amount_minor, "unit_amount_minor", unit_amount_minor)
    expires = _check_expiry(c, expires_on, today)
    if clear_expiry and expires_on is not None:
        c.errors.append(FieldError("expires_on", "give an expiry or clear it, not both"))
    if unit_amount_minor is None and expires_on is None and not clear_expiry:
        c.errors.append(FieldError("lock", "nothing to change"))
    c.raise_if_any()
    before = {
        "unit_amount_minor": lock.unit_amount_minor,
        "expires_on": lock.expires_on.isoformat() if lock.expires_on else None,
    }
    if unit_amount_minor is not None:
        lock.unit_amount_minor = unit_amount_minor
    if expires is not None or clear_expiry:
        lock.expires_on = expires
        lock.expiry_notice_sent_at = None
    session.flush()
    _audit(
        session,
        lock,
        "price_lock.changed",
        actor,
        moment,
        {
            "reason": reason,
            "before": before,
            "after": {
                "unit_amount_minor": lock.unit_amount_minor,
                "expires_on": lock.expires_on.isoformat() if lock.expires_on else None,
            },
        },
    )
    return lock


def revoke_lock(
    session: Session,
    lock: PriceLock,
    *,
    reason: str,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> PriceLock:
    """End a lock now; renewals from today on are priced without it. Audited."""
    moment = resolve_now(now)
    if lock.revoked_at is not None:
        raise LockNotActive(f"lock {lock.id} was already revoked")
    reason = v.text("reason", reason, max_length=300)
    lock.revoked_at = moment
    lock.revoked_by = str(actor or SYSTEM)
    session.flush()
    _audit(session, lock, "price_lock.revoked", actor, moment, {"reason": reason})
    return lock


@dataclass
class BulkLockResult:
    """What a bulk lock did: locks created, subscriptions that already had one."""

    key: str
    created: list[PriceLock] = field(default_factory=list)
    already_locked: list[int] = field(default_factory=list)


def bulk_lock_price(
    session: Session,
    price: Price,
    *,
    reason: str,
    actor: Actor | None = None,
    months: int | None = 12,
    expires_on: date | None = None,
    unit_amount_minor: int | None = None,
    key: str | None = None,
    now: datetime | None = None,
) -> BulkLockResult:
    """Lock every subscription on ``price`` today at today's price ("keep them 12 months").

    One lock per subscription, at ``unit_amount_minor`` or the catalog price in effect
    today. Idempotent by ``key`` (default: price and day): running it again creates none.
    """
    moment = resolve_now(now)
    today = business_date(moment)
    c = v.Collector()
    reason = c.check(v.text, "reason", reason, max_length=300)
    if expires_on is None and months is not None:
        c.check(v.integer, "months", months, minimum=1, maximum=120)
    expires = _check_expiry(c, expires_on, today)
    if unit_amount_minor is not None:
        c.check(v.amount_minor, "unit_amount_minor", unit_amount_minor)
    bulk_key = c.check(v.text, "key", key or f"bulk:{price.id}:{today.isoformat()}", max_length=100)
    c.raise_if_any()
    if expires is None and months is not None:
        expires = add_months(today, months, today.day)
    amount = (
        unit_amount_minor
        if unit_amount_minor is not None
        else price_version_on(session, price, today).unit_amount_minor
    )
    subscriptions = (
        session.execute(
            select(Subscription)
            .join(SubscriptionItem, SubscriptionItem.subscription_id == Subscription.id)
            .where(
                SubscriptionItem.price_id == price.id,
                SubscriptionItem.removed_at.is_(None),
                Subscription.status.not_in([str(s) for s in FINAL_STATUSES]),
                Subscription.currency == price.currency,
            )
            .order_by(Subscription.id)
            .distinct()
        )
        .scalars()
        .all()
    )
    done = set(
        session.execute(
            select(PriceLock.subscription_id).where(PriceLock.bulk_key == bulk_key)
        ).scalars()
    )
    result = BulkLockResult(key=str(bulk_key))
    for subscription in subscriptions:
        if subscription.id in done:
            result.already_locked.append(subscription.id)
            continue
        lock = PriceLock(
            customer_id=subscription.customer_id,
            price_id=price.id,
            subscription_id=subscription.id,
            unit_amount_minor=amount,
            currency=price.currency,
            reason=reason,
            granted_by=str(actor or SYSTEM),
            locked_at=moment,
            expires_on=expires,
            bulk_key=bulk_key,
            created_at=moment,
        )
        session.add(lock)
        result.created.append(lock)
    session.flush()
    forget_scope(session)
    for lock in result.created:
        _audit(
            session,
            lock,
            "price_lock.granted",
            actor,
            moment,
            {
                "reason": reason,
                "bulk_key": bulk_key,
                "expires_on": expires.isoformat() if expires else None,
            },
        )
    return result


def locks_for(session: Session, subscription: Subscription, price_id: int) -> list[PriceLock]:
    """Every unrevoked lock that may apply to ``subscription``'s item on ``price_id``."""
    rows = session.execute(
        select(PriceLock).where(
            PriceLock.customer_id == subscription.customer_id,
            PriceLock.price_id == price_id,
            PriceLock.revoked_at.is_(None),
            PriceLock.currency == subscription.currency,
        )
    ).scalars()
    return [lock for lock in rows if lock.subscription_id in (None, subscription.id)]


def best_lock(locks: list[PriceLock], day: date) -> PriceLock | None:
    """The lock that applies on ``day``: one for the subscription before a customer-wide
    one, then the lowest amount."""
    covering = [lock for lock in locks if lock.covers(day)]
    if not covering:
        return None
    return min(
        covering, key=lambda lock: (lock.subscription_id is None, lock.unit_amount_minor, lock.id)
    )


def list_locks(
    session: Session, *, customer: Customer | None = None, active_on: date | None = None
) -> list[PriceLock]:
    """Locks, newest first, optionally of one customer and in force on a day."""
    query = select(PriceLock).order_by(PriceLock.id.desc())
    if customer is not None:
        query = query.where(PriceLock.customer_id == customer.id)
    locks = list(session.execute(query).scalars())
    if active_on is not None:
        locks = [lock for lock in locks if lock.covers(active_on)]
    return locks


def get_lock(session: Session, lock_id: int) -> PriceLock:
    """A lock by id."""
    lock = session.get(PriceLock, lock_id)
    if lock is None:
        raise NotFound(f"no price lock {lock_id}")
    return lock
