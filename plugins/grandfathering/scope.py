"""Which prices and customers price resolution must look at, known once per transaction.

The billing run resolves thousands of items per chunk; most have neither a lock nor an
announced price change. Two small queries per transaction tell which (customer, price)
pairs have locks and which prices have changes, so every other item costs nothing.
The lock and price-change services call :func:`forget_scope` when they add rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from praho.plugins.grandfathering.models import PriceChange, PriceLock
from sqlalchemy import select
from sqlalchemy.orm import Session

_KEY = "praho.grandfathering.scope"


@dataclass(frozen=True)
class Scope:
    """Prices with announced changes; (customer, price) pairs with unrevoked locks."""

    changed_prices: frozenset[int]
    locked: frozenset[tuple[int, int]]


def pricing_scope(session: Session) -> Scope:
    """The scope for the session's current transaction (loaded on first use)."""
    transaction = session.get_transaction()
    marker = id(transaction) if transaction is not None else None
    cached = session.info.get(_KEY)
    if cached is not None and cached[0] == marker:
        scope: Scope = cached[1]
        return scope
    scope = Scope(
        changed_prices=frozenset(
            session.execute(select(PriceChange.price_id).distinct()).scalars()
        ),
        locked=frozenset(
            (customer_id, price_id)
            for customer_id, price_id in session.execute(
                select(PriceLock.customer_id, PriceLock.price_id)
                .where(PriceLock.revoked_at.is_(None))
                .distinct()
            )
        ),
    )
    session.info[_KEY] = (marker, scope)
    return scope


def forget_scope(session: Session) -> None:
    """Drop the cached scope after adding a lock or a price change."""
    session.info.pop(_KEY, None)
