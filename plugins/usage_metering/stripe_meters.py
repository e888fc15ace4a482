"""Reporting usage events to Stripe billing meters (optional), idempotent by identifier.

The one place that talks to Stripe's ``POST /v1/billing/meter_events``, through the
official ``stripe`` library with a configurable base URL and timeout. Each of our
events becomes one meter event whose ``identifier`` is derived from (meter, event id),
and the same value is the request's ``Idempotency-Key``: a rerun over the same window
(after a crash or a timeout) cannot count an event twice at Stripe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import stripe
from praho.core.errors import PrahoError
from praho.core.models.customers import Customer
from praho.plugins.usage_metering.meters import Aggregation
from praho.plugins.usage_metering.models import Meter, UsageEvent, UsageStripeCursor
from sqlalchemy import select
from sqlalchemy.orm import Session


class MeterReportFailed(PrahoError):
    """Stripe refused or did not answer a meter event."""

    http_status = 502
    code = "stripe_meter_failed"


@dataclass(frozen=True)
class MeterEventReport:
    """One meter event as Stripe takes it (values are strings in Stripe's form encoding)."""

    event_name: str
    identifier: str
    timestamp: int
    stripe_customer_id: str
    value: str


class MeterEventClient(Protocol):
    """What the reporter needs from a Stripe client."""

    def send(self, report: MeterEventReport) -> dict[str, Any]:
        """Create the meter event; return Stripe's object as a dict, or raise MeterReportFailed."""
        ...


class StripeMeterEventClient:
    """:class:`MeterEventClient` over ``stripe.StripeClient`` (base URL and timeout set)."""

    def __init__(
        self, api_key: str, *, base_url: str = "https://api.stripe.com", timeout: float = 10.0
    ) -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": base_url},
            http_client=stripe.RequestsClient(timeout=timeout),
            max_network_retries=0,
        )

    def send(self, report: MeterEventReport) -> dict[str, Any]:
        """POST /v1/billing/meter_events with the identifier as idempotency key."""
        try:
            event = self._client.v1.billing.meter_events.create(
                params={
                    "event_name": report.event_name,
                    "identifier": report.identifier,
                    "timestamp": report.timestamp,
                    "payload": {
                        "stripe_customer_id": report.stripe_customer_id,
                        "value": report.value,
                    },
                },
                options={"idempotency_key": report.identifier},
            )
        except stripe.StripeError as error:
            # The library's message never contains the API key.
            raise MeterReportFailed(
                f"Stripe meter event {report.identifier}: "
                f"{type(error).__name__}: {error.user_message or error}"
            ) from None
        return event.to_dict()


@dataclass
class StripeReportSummary:
    """What a report run did."""

    sent: int = 0
    skipped_no_customer: int = 0
    failed: list[str] = field(default_factory=list)


def stripe_customer_from_attributes(customer: Customer) -> str | None:
    """Default mapping: ``customer.attributes["stripe_customer_id"]`` (set by the Stripe plugin)."""
    value = (customer.attributes or {}).get("stripe_customer_id")
    return value if isinstance(value, str) and value.startswith("cus_") else None


def report_meter_events(
    session: Session,
    client: MeterEventClient,
    *,
    meter: Meter,
    ingested_from: datetime,
    ingested_to: datetime,
    stripe_customer_for: Callable[[Customer], str | None] = stripe_customer_from_attributes,
) -> StripeReportSummary:
    """Send the meter's events ingested in ``[ingested_from, ingested_to)`` to Stripe.

    Safe to rerun over overlapping windows: identifiers make Stripe count each event once.
    A failed event is listed with its reason and the others go on.
    """
    summary = StripeReportSummary()
    if not meter.stripe_event_name:
        return summary
    customers: dict[int, str | None] = {}
    rows = session.execute(
        select(UsageEvent)
        .where(
            UsageEvent.meter_id == meter.id,
            UsageEvent.ingested_at >= ingested_from,
            UsageEvent.ingested_at < ingested_to,
        )
        .order_by(UsageEvent.ingested_at, UsageEvent.event_id)
    ).scalars()
    for event in rows:
        if event.customer_id not in customers:
            customer = session.get(Customer, event.customer_id)
            customers[event.customer_id] = stripe_customer_for(customer) if customer else None
        stripe_customer = customers[event.customer_id]
        if stripe_customer is None:
            summary.skipped_no_customer += 1
            continue
        report = MeterEventReport(
            event_name=meter.stripe_event_name,
            identifier=f"{meter.code}:{event.event_id}"[:100],
            timestamp=int(event.occurred_at.timestamp()),
            stripe_customer_id=stripe_customer,
            value=_value_text(meter, event),
        )
        try:
            client.send(report)
            summary.sent += 1
        except MeterReportFailed as error:
            summary.failed.append(error.message)
    return summary


def _value_text(meter: Meter, event: UsageEvent) -> str:
    if meter.aggregation in (Aggregation.COUNT, Aggregation.UNIQUE_COUNT):
        return "1"
    return format(Decimal(event.quantity_micro).scaleb(-6).normalize(), "f")


# Events ingested this long before the cursor are sent again: a batch whose transaction
# committed late (its ingestion time is earlier than its commit) is not skipped, and the
# identifiers make the repeats free of double counting.
OVERLAP = timedelta(minutes=10)
# Events of the last minute wait for the next run (their transactions may not be
# committed yet).
SETTLE = timedelta(minutes=1)


def report_due(
    session: Session,
    client: MeterEventClient,
    *,
    now: datetime,
    stripe_customer_for: Callable[[Customer], str | None] = stripe_customer_from_attributes,
) -> dict[str, StripeReportSummary]:
    """Report every Stripe-linked meter's new events since its cursor; move the cursors.

    A cursor moves only when its window went through without failures, so a failed
    event is sent again next time (with the same identifier).
    """
    results: dict[str, StripeReportSummary] = {}
    meters = (
        session.execute(
            select(Meter)
            .where(Meter.active.is_(True), Meter.stripe_event_name.is_not(None))
            .order_by(Meter.id)
        )
        .scalars()
        .all()
    )
    until = now - SETTLE
    for meter in meters:
        cursor = session.execute(
            select(UsageStripeCursor)
            .where(UsageStripeCursor.meter_id == meter.id)
            .with_for_update()
        ).scalar_one_or_none()
        if cursor is None:
            cursor = UsageStripeCursor(
                meter_id=meter.id, reported_through=meter.created_at, updated_at=now
            )
            session.add(cursor)
            session.flush()
        summary = report_meter_events(
            session,
            client,
            meter=meter,
            ingested_from=cursor.reported_through - OVERLAP,
            ingested_to=until,
            stripe_customer_for=stripe_customer_for,
        )
        if not summary.failed and until > cursor.reported_through:
            cursor.reported_through = until
            cursor.updated_at = now
        results[meter.code] = summary
    session.flush()
    return results
