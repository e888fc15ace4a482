"""Price resolution for renewals: locks first, then the price-rise notice guard.

Answers ``resolve_subscription_price`` (see docs/pricing.md for the whole order):

1. A lock covering the period wins, unless the catalog is cheaper (a lock is a ceiling).
2. Otherwise the catalog version effective at the period start applies, but never more
   than the customer was told about: a rise announced through the catalog service
   (a :class:`PriceChange`) applies only from the ``applies_from`` day of a notice sent
   to that subscription, or when the item went onto the price on or after the rise's
   effective date (a new subscription, a plan change or an add-on: it chose the new
   price); an expired lock keeps its price until its expiry notice has run.

Returns None when the catalog price stands, so the core's own resolution applies.
"""

from __future__ import annotations

from datetime import date

from praho.core.errors import NotFound
from praho.core.models.catalog import Price
from praho.core.models.subscriptions import Subscription, SubscriptionItem
from praho.core.pricing import ResolvedPrice
from praho.core.services.catalog import price_version_on
from praho.plugins.grandfathering.locks import best_lock, locks_for
from praho.plugins.grandfathering.models import PriceChange, PriceLock, PriceNotice
from praho.plugins.grandfathering.price_history import on_price_since
from praho.plugins.grandfathering.scope import pricing_scope
from sqlalchemy import select
from sqlalchemy.orm import Session

SOURCE = "grandfathering"


def resolve_price(
    session: Session, subscription: Subscription, item: SubscriptionItem, period_start: date
) -> ResolvedPrice | None:
    """The locked or notice-protected unit price of ``item`` for a period, or None."""
    scope = pricing_scope(session)
    locked = (subscription.customer_id, item.price_id) in scope.locked
    if not locked and item.price_id not in scope.changed_prices:
        return None
    price = session.get(Price, item.price_id)
    if price is None:
        return None
    try:
        version = price_version_on(session, price, period_start)
    except NotFound:
        return None  # the core reports the missing version
    catalog = version.unit_amount_minor
    locks = locks_for(session, subscription, price.id) if locked else []
    lock = best_lock(locks, period_start)
    if lock is not None:
        if lock.unit_amount_minor >= catalog:
            return None
        until = f" until {lock.expires_on}" if lock.expires_on else ""
        return ResolvedPrice(
            lock.unit_amount_minor,
            price.currency,
            SOURCE,
            f"price lock {lock.id}{until}: {lock.reason}"[:200],
            {"price_lock_id": lock.id},
        )
    held, why, details = catalog, "", {}
    expired = _expired_lock_held(session, locks, period_start)
    if expired is not None and expired.unit_amount_minor < held:
        held, why = (
            expired.unit_amount_minor,
            f"price lock {expired.id} expired; expiry notice period not over",
        )
        details = {"price_lock_id": expired.id, "held": "lock_expiry_notice"}
    noticed = _noticed_amount(session, subscription, item, price, version.id, catalog, period_start)
    if noticed is not None and noticed[0] < held:
        held, why = noticed
        details = {"held": "price_change_notice"}
    if held >= catalog:
        return None
    return ResolvedPrice(
        held,
        price.currency,
        SOURCE,
        why[:200],
        {**details, "catalog_amount_minor": catalog, "price_version_id": version.id},
    )


def _expired_lock_held(session: Session, locks: list[PriceLock], day: date) -> PriceLock | None:
    """The latest expired lock while its expiry has not been announced, or its notice runs.

    A lock the batch has not looked at yet (no ``expiry_notice_sent_at``) keeps its price:
    billing more before telling the customer is the one thing that must not happen.
    """
    expired = [lock for lock in locks if lock.expires_on is not None and lock.expires_on <= day]
    if not expired:
        return None
    latest = max(expired, key=lambda lock: (lock.expires_on, lock.id))
    if latest.expiry_notice_sent_at is None:
        return latest
    running = session.execute(
        select(PriceNotice.id).where(
            PriceNotice.lock_id == latest.id, PriceNotice.applies_from > day
        )
    ).first()
    return latest if running else None


def _noticed_amount(
    session: Session,
    subscription: Subscription,
    item: SubscriptionItem,
    price: Price,
    version_id: int,
    catalog: int,
    day: date,
) -> tuple[int, str] | None:
    """Walk back through announced rises the subscription was not told about in time.

    Only for an item that was on the price before the rise took effect: the notice
    protects what the customer was paying, not a price chosen after the rise.
    """
    changes = {
        change.version_id: change
        for change in session.execute(
            select(PriceChange).where(
                PriceChange.price_id == price.id, PriceChange.effective_from <= day
            )
        ).scalars()
    }
    if not changes:
        return None
    amount, reason, current = catalog, "", version_id
    since: date | None = None
    while (change := changes.get(current)) is not None and change.is_increase:
        since = since or on_price_since(session, subscription, item, day)
        if since >= change.effective_from or _noticed(session, subscription, change, day):
            break
        amount = change.old_amount_minor
        reason = (
            f"price rise of {price.code} from {change.effective_from}: "
            f"notice period not over for this subscription"
        )
        current = change.previous_version_id
    return (amount, reason) if reason else None


def _noticed(session: Session, subscription: Subscription, change: PriceChange, day: date) -> bool:
    return (
        session.execute(
            select(PriceNotice.id).where(
                PriceNotice.subscription_id == subscription.id,
                PriceNotice.version_id == change.version_id,
                PriceNotice.applies_from <= day,
            )
        ).first()
        is not None
    )
