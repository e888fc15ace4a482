"""Fixtures for the usage_metering tests: a metered plan, a subscription, helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from praho.core.testing import at
from praho.plugins.usage_metering.meters import MeterInput, define_charge, define_meter

# Inside the first period (2026-01-31 .. 2026-02-27) of the default test subscription.
DURING = at("2026-02-10", 12)
RENEWAL = at("2026-02-28", 3)


@dataclass
class Metered:
    """A subscription whose plan charges storage (sum of gb) and mailboxes (max)."""

    session: Any
    factory: Any
    price: Any
    customer: Any
    subscription: Any
    storage: Any
    mailboxes: Any
    storage_charge: Any

    def event(
        self,
        event_id: str,
        gb: str | int = "1",
        *,
        when: datetime = DURING,
        meter: str = "storage_gb",
        **extra: Any,
    ) -> dict[str, Any]:
        """An event of this subscription (as a customer would send it)."""
        prop = "gb" if meter == "storage_gb" else "count"
        return {
            "id": event_id,
            "meter": meter,
            "subscription": self.subscription.id,
            "timestamp": when.isoformat(),
            "properties": {prop: gb},
            **extra,
        }


def build_metered(
    session: Any,
    factory: Any,
    *,
    storage_charge: dict[str, Any] | None = None,
    now: datetime = DURING,
) -> Metered:
    """Meters, charges and one subscription starting 2026-01-31 (first period billed)."""
    price = factory.price()
    storage = define_meter(
        session,
        MeterInput(
            code="storage_gb",
            name="Spațiu de stocare",
            name_en="Storage",
            unit="GB",
            aggregation="sum",
            property="gb",
            category="storage",
            rounding="up",
            rounding_increment="1",
        ),
        now=now,
    )
    mailboxes = define_meter(
        session,
        MeterInput(
            code="mailboxes",
            name="Căsuțe e-mail",
            unit="buc",
            aggregation="max",
            property="count",
            category="email",
        ),
        now=now,
    )
    charge = define_charge(
        session,
        meter=storage,
        price=price,
        now=now,
        data=storage_charge
        or {
            "model": "graduated",
            "included_units": "10",
            "tiers": [
                {"up_to": "100", "unit_price": "0.50"},
                {"up_to": None, "unit_price": "0.25"},
            ],
        },
    )
    define_charge(
        session,
        meter=mailboxes,
        price=price,
        now=now,
        data={"model": "per_unit", "unit_price": "2.00", "included_units": "5"},
    )
    customer = factory.customer()
    subscription = factory.subscription(price, customer)
    return Metered(session, factory, price, customer, subscription, storage, mailboxes, charge)


@pytest.fixture
def metered(praho_session, praho_factory) -> Metered:
    """A metered subscription on the rolled-back test session."""
    return build_metered(praho_session, praho_factory)


@pytest.fixture
def stripe_standin():
    """The local Stripe meter-events stand-in, running for one test."""
    from praho.plugins.usage_metering.testing import StripeMeterStandIn

    server = StripeMeterStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def client(stripe_standin):
    """A Stripe meter-events client talking to :func:`stripe_standin`."""
    from praho.plugins.usage_metering.stripe_meters import StripeMeterEventClient

    return StripeMeterEventClient(stripe_standin.api_key, base_url=stripe_standin.url, timeout=5)
