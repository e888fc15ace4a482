"""Since when a subscription item has been on its price, read from the subscription's history.

A price rise is held back by notice only for what a customer was already paying. An
item that went onto the price after the rise took effect (a plan change, an add-on)
chose the current price, like a new subscriber. A plan change moves the existing item
to the new price in place, so the item's ``created_at`` does not say when; the
``SubscriptionEvent`` rows do: ``created`` lists the first items' price codes in item
order, and every item change records each touched item's price after the change.
"""

from __future__ import annotations

from datetime import date

from praho.core.clock import business_date
from praho.core.models.subscriptions import Subscription, SubscriptionEvent, SubscriptionItem
from praho.core.services.subscription_history import initial_item_prices
from sqlalchemy import select
from sqlalchemy.orm import Session

# The events that create items or change their price (quantity changes and removals keep it).
ITEM_EVENTS = ("created", "plan_changed", "addon_added")


def on_price_since(
    session: Session, subscription: Subscription, item: SubscriptionItem, day: date
) -> date:
    """The business day from which ``item`` has been on its current price.

    ``day`` is the answer for a proposed item that is not stored yet (proration prices the
    change on the day it is made), unless the subscription already has an item on that
    price (a quantity change). Without history, the subscription's start date, as before.
    """
    if item.id is None:
        current = next(
            (i for i in subscription.active_items if i.price_id == item.price_id and i.id),
            None,
        )
        return day if current is None else on_price_since(session, subscription, current, day)
    events = session.execute(
        select(SubscriptionEvent)
        .where(
            SubscriptionEvent.subscription_id == subscription.id,
            SubscriptionEvent.event.in_(ITEM_EVENTS),
        )
        .order_by(SubscriptionEvent.occurred_at, SubscriptionEvent.id)
    ).scalars()
    since, on_price = subscription.start_date, True
    for event in events:
        if event.event == "created":
            on_price = _created_on(session, subscription, item)
            continue
        for change in event.data.get("changes", []):
            if change.get("item_id") != item.id:
                continue
            now_on = change.get("price_id") == item.price_id
            if now_on and not on_price:
                since = business_date(event.occurred_at)
            on_price = now_on
    return since


def _created_on(session: Session, subscription: Subscription, item: SubscriptionItem) -> bool:
    """Whether ``item`` was created with the subscription, on the price it has now."""
    return initial_item_prices(session, [subscription.id]).get(item.id) == item.price_id
