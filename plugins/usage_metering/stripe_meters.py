"""Reporting usage events to Stripe billing meters (optional), idempotent by identifier.

The one place that talks to Stripe's ``POST /v1/billing/meter_events``, through the
official ``stripe`` library with a configurable base URL and timeout. Each of our
events becomes one meter event whose ``identifier`` is derived from (meter, customer,
event id), our event's own key, and the same value is the request's ``Idempotency-Key``:
a rerun over the same window (after a crash or a timeout) cannot count an event twice
at Stripe.

Failures are of two kinds. Stripe refusing the event itself (a 4xx about it, say a
timestamp past its 35 days) is final: sending it again is refused again, so it is kept
in ``usage_stripe_refusals`` for staff and never sent again. Anything else (no answer,
5xx, 429, and the 4xx that are about our key or address rather than the event) may
pass next time, so the event is sent again by the next run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import stripe
from praho.core.clock import resolve_now
from praho.core.errors import PrahoError
from praho.core.models.customers import Customer
from praho.plugins.usage_metering.meters import Aggregation
from praho.plugins.usage_metering.models import (
    Meter,
    UsageEvent,
    UsageStripeCursor,
    UsageStripeRefusal,
)
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

# 4xx answers that are not about the event: our key (401, 403), our address (404), the
# moment (408, 429) or a concurrent request with the same idempotency key (409). The
# same event may well be taken later, so these are retried like a 5xx.
_RETRYABLE_4XX = frozenset({401, 403, 404, 408, 409, 429})


class MeterReportFailed(PrahoError):
    """Stripe refused or did not answer a meter event.

    ``stripe_status`` is Stripe's HTTP status (None when there was no answer) and
    ``stripe_code`` its error code or type; :attr:`permanent` tells a refusal of the
    event itself from a failure worth retrying.
    """

    http_status = 502
    code = "stripe_meter_failed"

    def __init__(
        self, message: str, *, stripe_status: int | None = None, stripe_code: str | None = None
    ) -> None:
        super().__init__(message)
        self.stripe_status = stripe_status
        self.stripe_code = stripe_code

    @property
    def permanent(self) -> bool:
        """True when Stripe refused this event for good (a 4xx about the event)."""
        status = self.stripe_status
        return status is not None and 400 <= status < 500 and status not in _RETRYABLE_4XX


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
                f"{type(error).__name__}: {error.user_message or error}",
                stripe_status=error.http_status,
                stripe_code=error.code or (error.error.type if error.error else None),
            ) from None
        return event.to_dict()


@dataclass
class StripeReportSummary:
    """What a report run did."""

    sent: int = 0
    skipped_no_customer: int = 0
    # Failures worth retrying (no answer, 5xx, 429...): the cursor waits for them.
    failed: list[str] = field(default_factory=list)
    # Events Stripe refused for good in this run, recorded in usage_stripe_refusals.
    refused: list[str] = field(default_factory=list)


def meter_event_identifier(meter_code: str, customer_id: int, event_id: str) -> str:
    """Stripe's ``identifier`` (and idempotency key) for one of our events.

    Our event's key is (meter, customer, event id): two customers may send the same id,
    so the customer is part of it. Stripe takes at most 100 characters; a longer one
    (a long meter code and id) is replaced by a digest of the whole, never cut (two ids
    sharing their first 100 characters would collide).
    """
    identifier = f"{meter_code}:{customer_id}:{event_id}"
    if len(identifier) <= 100:
        return identifier
    # 28 + 8 + 64 = 100 characters.
    return f"{meter_code[:28]}:sha256:{hashlib.sha256(identifier.encode()).hexdigest()}"


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
    now: datetime | None = None,
) -> StripeReportSummary:
    """Send the meter's events ingested in ``[ingested_from, ingested_to)`` to Stripe.

    Safe to rerun over overlapping windows: identifiers make Stripe count each event once.
    A failed event is listed with its reason and the others go on. An event Stripe
    refuses for good is recorded in ``usage_stripe_refusals`` (``summary.refused``) and
    left out of later runs; other failures are in ``summary.failed``.
    """
    summary = StripeReportSummary()
    if not meter.stripe_event_name:
        return summary
    moment = resolve_now(now)
    customers: dict[int, str | None] = {}
    rows = session.execute(
        select(UsageEvent)
        .outerjoin(
            UsageStripeRefusal,
            and_(
                UsageStripeRefusal.meter_id == UsageEvent.meter_id,
                UsageStripeRefusal.customer_id == UsageEvent.customer_id,
                UsageStripeRefusal.event_id == UsageEvent.event_id,
            ),
        )
        .where(
            UsageEvent.meter_id == meter.id,
            UsageEvent.ingested_at >= ingested_from,
            UsageEvent.ingested_at < ingested_to,
            UsageStripeRefusal.id.is_(None),
        )
        .order_by(UsageEvent.ingested_at, UsageEvent.customer_id, UsageEvent.event_id)
    ).scalars().all()
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
            identifier=meter_event_identifier(meter.code, event.customer_id, event.event_id),
            timestamp=int(event.occurred_at.timestamp()),
            stripe_customer_id=stripe_customer,
            value=_value_text(meter, event),
        )
        try:
            client.send(report)
            summary.sent += 1
        except MeterReportFailed as error:
            if error.permanent:
                _record_refusal(session, event, report.identifier, error, now=moment)
                summary.refused.append(error.message)
            else:
                summary.failed.append(error.message)
    session.flush()
    return summary


def _record_refusal(
    session: Session,
    event: UsageEvent,
    identifier: str,
    error: MeterReportFailed,
    *,
    now: datetime,
) -> None:
    session.add(
        UsageStripeRefusal(
            meter_id=event.meter_id,
            customer_id=event.customer_id,
            event_id=event.event_id,
            identifier=identifier,
            http_status=error.stripe_status,
            error_code=(error.stripe_code or "")[:100] or None,
            message=error.message,
            refused_at=now,
        )
    )


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

    A cursor moves only when its window had no failure worth retrying (no answer, 5xx,
    429...), so such an event is sent again next time (with the same identifier). An
    event Stripe refused for good does not hold the cursor: it is recorded (see
    :func:`report_meter_events`) and would only be refused again, while everything after
    it would be sent again on every run, beyond Stripe's 24-hour identifier memory.
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
            now=now,
        )
        if not summary.failed and until > cursor.reported_through:
            cursor.reported_through = until
            cursor.updated_at = now
        results[meter.code] = summary
    session.flush()
    return results
