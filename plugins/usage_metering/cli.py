"""``praho usage ...``: meters and charges, ingestion from a file, rating and previews."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from praho.core.cli import database, praho_command
from praho.core.clock import noon_of, parse_date, utcnow
from praho.core.errors import NotFound, ValidationFailed
from praho.core.jsoninput import parse_limited
from praho.core.models.catalog import Price
from praho.core.models.customers import Customer
from praho.core.models.subscriptions import Subscription
from praho.core.money import to_major
from praho.plugins.usage_metering.ingestion import record_usage_events
from praho.plugins.usage_metering.meters import (
    MeterInput,
    define_charge,
    define_meter,
    meter_by_code,
)
from praho.plugins.usage_metering.models import Meter, UsageStripeRefusal
from praho.plugins.usage_metering.period_report import rate_window
from praho.plugins.usage_metering.settings import current_settings
from sqlalchemy import select

MAX_FILE_BYTES = 500 * 1024 * 1024


def _date(value: str, hint: str) -> Any:
    try:
        return parse_date(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=hint) from None


@click.group("usage")
def usage_group() -> None:
    """Usage metering: meters, events, rating."""


@usage_group.command("define")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@praho_command
def usage_define(path: Path) -> None:
    """Define meters and charges from a JSON file: {"meters": [...], "charges": [...]}.

    A charge names its meter and catalog price by code: {"meter": "storage_gb",
    "price": "HOST-M", "model": "graduated", "tiers": [...], "included_units": "10"}.
    Everything is validated first; one bad entry changes nothing.
    """
    data = parse_limited(path.read_bytes(), max_bytes=5_000_000)
    if not isinstance(data, dict) or set(data) - {"meters", "charges"}:
        raise click.ClickException('expected {"meters": [...], "charges": [...]}')
    with database().transaction() as session:
        for index, item in enumerate(data.get("meters") or []):
            try:
                meter = define_meter(session, MeterInput.from_mapping(item), now=utcnow())
            except (ValidationFailed, TypeError) as error:
                raise click.ClickException(f"meters[{index}]: {error}") from None
            click.echo(
                f"meter {meter.code}: {meter.aggregation} of "
                f"{meter.property or 'events'} in {meter.unit}"
            )
        for index, item in enumerate(data.get("charges") or []):
            item = dict(item)
            meter = meter_by_code(session, str(item.pop("meter", "")))
            price_code = str(item.pop("price", ""))
            price = session.execute(
                select(Price).where(Price.code == price_code)
            ).scalar_one_or_none()
            if price is None:
                raise click.ClickException(f"charges[{index}].price: no price {price_code!r}")
            try:
                charge = define_charge(session, meter=meter, price=price, data=item, now=utcnow())
            except ValidationFailed as error:
                raise click.ClickException(f"charges[{index}]: {error}") from None
            click.echo(f"charge {meter.code} on {price.code}: {charge.model}")


@usage_group.command("meters")
@praho_command
def usage_meters() -> None:
    """List the meters."""
    with database().transaction() as session:
        for meter in session.execute(select(Meter).order_by(Meter.code)).scalars():
            click.echo(
                f"{meter.code:<24} {meter.category:<10} {meter.aggregation:<13} "
                f"{meter.property or '-':<16} {meter.unit} "
                f"(rounding {meter.rounding} {meter.rounding_increment.normalize()})"
            )


@usage_group.command("stripe-refusals")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@praho_command
def usage_stripe_refusals(limit: int) -> None:
    """List the events Stripe refused for good (newest first): billed here, not at Stripe."""
    with database().transaction() as session:
        rows = session.execute(
            select(UsageStripeRefusal, Meter.code)
            .join(Meter, Meter.id == UsageStripeRefusal.meter_id)
            .order_by(UsageStripeRefusal.id.desc())
            .limit(limit)
        ).all()
        for refusal, meter_code in rows:
            click.echo(
                f"{refusal.refused_at:%Y-%m-%d %H:%M} {meter_code} customer "
                f"{refusal.customer_id} event {refusal.event_id} HTTP {refusal.http_status} "
                f"{refusal.error_code or '-'}: {refusal.message}"
            )
        if not rows:
            click.echo("no refused events")


def _read_events(path: Path) -> list[Any]:
    raw = path.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        raise click.ClickException(f"{path} is over {MAX_FILE_BYTES} bytes; split it")
    text = raw.decode("utf-8-sig").strip()
    if text.startswith("["):
        events = parse_limited(text, max_bytes=MAX_FILE_BYTES)
        return events if isinstance(events, list) else []
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                events.append(parse_limited(line, max_bytes=10_000, max_depth=8))
            except ValueError as error:
                raise click.ClickException(f"line {number}: {error}") from None
    return events


@usage_group.command("ingest")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch", default=10_000, show_default=True, help="events per transaction")
@praho_command
def usage_ingest(path: Path, batch: int) -> None:
    """Ingest events from a JSON array or JSON Lines file (same rules as the HTTP API).

    Good events are stored, duplicates acknowledged, rejected ones listed; exits 1 when
    any event was rejected.
    """
    events = _read_events(path)
    accepted = duplicates = 0
    rejected: list[str] = []
    settings = current_settings()
    for start in range(0, len(events), max(1, batch)):
        chunk = events[start : start + batch]
        with database().transaction() as session:
            result = record_usage_events(session, chunk, now=utcnow(), settings=settings)
        accepted += result.accepted
        duplicates += len(result.duplicates)
        rejected += [
            f"#{start + r.index} {r.event_id or '?'}: {r.reason}: {r.message}"
            for r in result.rejected
        ]
    click.echo(
        f"{len(events)} events: {accepted} stored, {duplicates} duplicates, "
        f"{len(rejected)} rejected"
    )
    for line in rejected[:100]:
        click.echo(line, err=True)
    if rejected:
        raise SystemExit(1)


@usage_group.command("rate")
@click.option("--from", "start", required=True, help="first day (YYYY-MM-DD)")
@click.option("--to", "end", required=True, help="day after the last (YYYY-MM-DD)")
@click.option("--meter", "meter_code", help="only this meter")
@click.option("--json", "as_json", is_flag=True)
@praho_command
def usage_rate(start: str, end: str, meter_code: str | None, as_json: bool) -> None:
    """Rate a period for every subscription (read-only: invoices come from the billing run)."""
    first, after = _date(start, "--from"), _date(end, "--to")
    if after <= first:
        raise click.BadParameter("must be after --from", param_hint="--to")
    with database().transaction() as session:
        rows = rate_window(session, first, after, meter_code=meter_code)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    for r in rows:
        click.echo(
            f"subscription {r.subscription_id:<8} {r.meter:<20} {r.quantity:>16} "
            f"{to_major(r.amount_minor, r.currency)} {r.currency}"
        )
    click.echo(f"{len(rows)} subscription-meters rated for {first} .. {after - timedelta(days=1)}")


@usage_group.command("preview")
@click.argument("subscription_id", type=int)
@click.option("--date", "on", help="renewal date (default: the next billing date)")
@praho_command
def usage_preview(subscription_id: int, on: str | None) -> None:
    """Show the usage lines the subscription's next renewal will carry (nothing is written)."""
    from praho.plugins.usage_metering.rating import usage_lines

    with database().transaction() as session:
        subscription = session.get(Subscription, subscription_id)
        if subscription is None:
            raise NotFound(f"no subscription {subscription_id}")
        period_start = _date(on, "--date") if on else subscription.next_billing_date
        if period_start is None:
            raise click.ClickException(f"subscription {subscription_id} has nothing left to bill")
        customer = session.get(Customer, subscription.customer_id)
        language = customer.language if customer else "ro"
        savepoint = session.begin_nested()
        lines = usage_lines(
            session, subscription, period_start, language=language, now=noon_of(period_start)
        )
        savepoint.rollback()
    if not lines:
        click.echo("no usage to bill")
    for line in lines:
        amount = to_major(line.net_amount_minor or 0, subscription.currency)
        click.echo(
            f"{line.kind:<10} {line.item_name:<30} {line.quantity.normalize()} "
            f"{line.unit_code} = {amount} {subscription.currency}"
        )
        click.echo(f"           {line.description}")


@usage_group.command("api-key")
@click.option("--name", required=True)
@click.option("--customer", "customer_code", help="restrict the key to this customer")
@praho_command
def usage_api_key(name: str, customer_code: str | None) -> None:
    """Create an ingestion API key; it is printed once and stored only hashed."""
    from praho.plugins.usage_metering.api_keys import create_api_key

    with database().transaction() as session:
        customer = None
        if customer_code:
            customer = session.execute(
                select(Customer).where(Customer.code == customer_code)
            ).scalar_one_or_none()
            if customer is None:
                raise NotFound(f"no customer {customer_code!r}")
        row, key = create_api_key(session, name=name, customer=customer, now=utcnow())
        prefix = row.prefix
    click.echo(f"key {prefix} created; store it now, it is not shown again:")
    click.echo(key)


@usage_group.command("alert")
@click.argument("subscription_id", type=int)
@click.argument("meter_code")
@click.option("--percent", help="percent of the included units, e.g. 80")
@click.option("--quantity", help="absolute quantity")
@click.option("--email", help="recipient (default: the customer's e-mail)")
@praho_command
def usage_alert(
    subscription_id: int,
    meter_code: str,
    percent: str | None,
    quantity: str | None,
    email: str | None,
) -> None:
    """Add a usage alert for a subscription's meter (fires once per period)."""
    from praho.plugins.usage_metering.alerts import add_usage_alert

    with database().transaction() as session:
        subscription = session.get(Subscription, subscription_id)
        if subscription is None:
            raise NotFound(f"no subscription {subscription_id}")
        alert = add_usage_alert(
            session,
            subscription=subscription,
            meter=meter_by_code(session, meter_code),
            quantity=quantity,
            percent=percent,
            email=email,
            now=utcnow(),
        )
        alert_id = alert.id
    click.echo(f"alert {alert_id} added")
