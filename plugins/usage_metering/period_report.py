"""Rating one window for every subscription at once (``praho usage rate``, the benchmark).

One GROUP BY per meter gives every subscription's quantity; each is rounded and rated
with the charge of the subscription's plan. Read-only: invoices are made by the
billing run, which rates each subscription's own closed period.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from praho.core.models.subscriptions import Subscription, SubscriptionItem
from praho.plugins.usage_metering.aggregation import aggregate_all, window_of
from praho.plugins.usage_metering.charges import rate, spec_of
from praho.plugins.usage_metering.meters import round_quantity
from praho.plugins.usage_metering.models import Meter, MeterCharge
from sqlalchemy import select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class WindowRating:
    """One subscription's rated quantity of one meter over the window."""

    subscription_id: int
    meter: str
    raw_quantity: Decimal
    quantity: Decimal
    amount_minor: int
    currency: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "subscription_id": self.subscription_id,
            "meter": self.meter,
            "raw_quantity": str(self.raw_quantity),
            "quantity": str(self.quantity),
            "amount_minor": self.amount_minor,
            "currency": self.currency,
        }


def rate_window(
    session: Session, start: date, end: date, *, meter_code: str | None = None
) -> list[WindowRating]:
    """Quantity and amount per (subscription, meter) for the business days ``[start, end)``."""
    begin, finish = window_of(start, end)
    meters = select(Meter).where(Meter.active.is_(True))
    if meter_code:
        meters = meters.where(Meter.code == meter_code)
    # Which charge applies to which subscription: through the plan's price.
    charge_rows = session.execute(
        select(SubscriptionItem.subscription_id, Subscription.currency, MeterCharge)
        .join(Subscription, Subscription.id == SubscriptionItem.subscription_id)
        .join(MeterCharge, MeterCharge.price_id == SubscriptionItem.price_id)
        .where(SubscriptionItem.removed_at.is_(None))
    ).all()
    charges: dict[tuple[int, int], tuple[str, MeterCharge]] = {}
    for subscription_id, currency, charge in charge_rows:
        charges[(subscription_id, charge.meter_id)] = (currency, charge)
    specs: dict[int, Any] = defaultdict(lambda: None)
    results = []
    for meter in session.execute(meters.order_by(Meter.code)).scalars():
        for subscription_id, raw in sorted(aggregate_all(session, meter, begin, finish).items()):
            found = charges.get((subscription_id, meter.id))
            if found is None:
                continue
            currency, charge = found
            if specs[charge.id] is None:
                specs[charge.id] = spec_of(charge)
            quantity = round_quantity(raw, meter.rounding, meter.rounding_increment)
            rated = rate(specs[charge.id], quantity, currency)
            results.append(
                WindowRating(
                    subscription_id, meter.code, raw, quantity, rated.amount_minor, currency
                )
            )
    return results
