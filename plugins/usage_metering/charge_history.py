"""Meters a subscription no longer charges: the last charge and when it stopped.

Usage is billable while a price that charges its meter is on the subscription. When
that price goes (an add-on is removed, or the plan moves to a price without the
meter), the usage up to then is still owed, on that price's terms, and late events
dated before then are still billable. No table of ours records this; the core already
keeps what is needed:

- a removed add-on keeps its price and its ``removed_at``;
- a plan change moves the plan item to the new price in place and records a
  ``plan_changed`` event naming the item and its new price. The price the item had
  until then is the one the previous change gave it or, before the first change, the
  one it was created with: the ``created`` event lists the prices of the
  subscription's first items in the order the items were created (so, by id).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from praho.core.models.customers import Customer
from praho.core.models.subscriptions import Subscription, SubscriptionEvent, SubscriptionItem
from praho.core.services.subscription_history import initial_item_prices
from praho.plugins.usage_metering.meters import charged_price_ids, charges_for_prices
from praho.plugins.usage_metering.models import MeterCharge
from sqlalchemy import select
from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class EndedCharge:
    """A meter's last charge on a subscription, and the instant it stopped charging it."""

    subscription_id: int
    meter_id: int
    charge_id: int
    until: datetime


def ended_charges(
    session: Session, where: Any, *, items_removed: bool = True
) -> dict[int, dict[int, EndedCharge]]:
    """Per subscription and meter, the latest charge that stopped, for subscriptions ``where``.

    :param where: a condition on ``Subscription`` (``Customer`` is joined, for codes).
    :param items_removed: False when the caller knows no item of those subscriptions
        was removed (it has them loaded), which saves a query per renewal.

    A meter charged again now still appears here: the caller knows what is charged now,
    and that takes precedence.
    """
    if not charged_price_ids(session):
        return {}
    spans = _removed_items(session, where) if items_removed else []
    spans += _replaced_prices(session, where)
    if not spans:
        return {}
    by_price: dict[int, list[Any]] = {}
    for charge in charges_for_prices(session, sorted({price for _s, price, _u in spans})):
        by_price.setdefault(charge.price_id, []).append(charge)
    ended: dict[int, dict[int, EndedCharge]] = {}
    for subscription_id, price_id, until in spans:
        for charge in by_price.get(price_id, ()):
            per_meter = ended.setdefault(subscription_id, {})
            known = per_meter.get(charge.meter_id)
            # The last price that charged the meter bills what is left of it; of two
            # that stopped together, the older charge, as when both are active.
            if known is None or (until, -charge.id) > (known.until, -known.charge_id):
                per_meter[charge.meter_id] = EndedCharge(
                    subscription_id, charge.meter_id, charge.id, until
                )
    return ended


def _scoped(query: Any, subscription_id: Any, where: Any) -> Any:
    """``query`` limited to the subscriptions ``where`` (joined through ``subscription_id``)."""
    return (
        query.join(Subscription, Subscription.id == subscription_id)
        .join(Customer, Customer.id == Subscription.customer_id)
        .where(where)
    )


def _removed_items(session: Session, where: Any) -> list[tuple[int, int, datetime]]:
    """(subscription, price, removed_at) of removed items whose price charges a meter."""
    query = select(
        SubscriptionItem.subscription_id, SubscriptionItem.price_id, SubscriptionItem.removed_at
    ).where(
        SubscriptionItem.removed_at.is_not(None),
        SubscriptionItem.price_id.in_(select(MeterCharge.price_id)),
    )
    scoped = _scoped(query, SubscriptionItem.subscription_id, where)
    return [(sub, price, removed_at) for sub, price, removed_at in session.execute(scoped)]


def _replaced_prices(session: Session, where: Any) -> Iterable[tuple[int, int, datetime]]:
    """(subscription, price, changed_at) of every price a plan change moved an item off."""
    changes = session.execute(
        _scoped(
            select(
                SubscriptionEvent.subscription_id,
                SubscriptionEvent.occurred_at,
                SubscriptionEvent.data,
            ).where(SubscriptionEvent.event == "plan_changed"),
            SubscriptionEvent.subscription_id,
            where,
        ).order_by(
            SubscriptionEvent.subscription_id, SubscriptionEvent.occurred_at, SubscriptionEvent.id
        )
    ).all()
    if not changes:
        return
    price_of = initial_item_prices(session, sorted({row[0] for row in changes}))
    for subscription_id, occurred_at, data in changes:
        for change in (data or {}).get("changes") or []:
            item_id, price_id = change.get("item_id"), change.get("price_id")
            if item_id is None or price_id is None:
                continue
            before = price_of.get(item_id)
            if before is not None and before != price_id:
                yield subscription_id, before, occurred_at
            price_of[item_id] = price_id
