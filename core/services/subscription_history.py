"""What a subscription's history says about its items (read from ``SubscriptionEvent``).

A plan change moves an existing item to its new price in place, so an item row does not
say which price it started on. The ``created`` event lists the first items' price codes
in item order (item ids ascending), and every item change records each touched item's
price after the change. Plugins that need an item's past prices (grandfathering, usage
rating) read them here, so that convention is read in one place.
"""

from __future__ import annotations

from praho.core.models.catalog import Price
from praho.core.models.subscriptions import SubscriptionEvent, SubscriptionItem
from praho.core.services.bulk_sql import ids_in
from sqlalchemy import select
from sqlalchemy.orm import Session


def initial_item_prices(session: Session, subscription_ids: list[int]) -> dict[int, int]:
    """Item id -> the price it was created with, for the subscriptions' first items."""
    created = {
        subscription_id: (data or {}).get("items") or []
        for subscription_id, data in session.execute(
            select(SubscriptionEvent.subscription_id, SubscriptionEvent.data).where(
                SubscriptionEvent.event == "created",
                ids_in(session, SubscriptionEvent.subscription_id, subscription_ids),
            )
        )
    }
    codes = {entry[0] for entries in created.values() for entry in entries if entry}
    if not codes:
        return {}
    price_ids: dict[str, int] = {
        code: price_id
        for code, price_id in session.execute(
            select(Price.code, Price.id).where(Price.code.in_(sorted(codes)))
        )
    }
    items: dict[int, list[int]] = {}
    for item_id, subscription_id in session.execute(
        select(SubscriptionItem.id, SubscriptionItem.subscription_id)
        .where(ids_in(session, SubscriptionItem.subscription_id, subscription_ids))
        .order_by(SubscriptionItem.id)
    ):
        items.setdefault(subscription_id, []).append(item_id)
    initial: dict[int, int] = {}
    for subscription_id, entries in created.items():
        for item_id, entry in zip(items.get(subscription_id, []), entries, strict=False):
            if entry and entry[0] in price_ids:
                initial[item_id] = price_ids[entry[0]]
    return initial
