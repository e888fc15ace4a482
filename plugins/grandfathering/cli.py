"""``praho pricelocks ...``: price locks and the price migration batch from the command line."""

from __future__ import annotations

import json
from datetime import date

import click
from praho.core.cli import CLI_ACTOR, database, praho_command
from praho.core.clock import noon_of, parse_date, utcnow
from praho.core.errors import NotFound
from praho.core.models.customers import Customer
from praho.core.services.catalog import get_price
from praho.plugins.grandfathering.changes import plan_batch, run_batch
from praho.plugins.grandfathering.locks import (
    bulk_lock_price,
    get_lock,
    grant_lock,
    list_locks,
    revoke_lock,
)
from praho.plugins.grandfathering.models import PriceLock
from praho.plugins.grandfathering.settings import current_settings
from sqlalchemy import select


def _day(value: str | None, hint: str) -> date | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=hint) from None


def _describe(lock: PriceLock) -> str:
    state = (
        "revoked"
        if lock.revoked_at
        else f"until {lock.expires_on}"
        if lock.expires_on
        else "no expiry"
    )
    scope = f"subscription {lock.subscription_id}" if lock.subscription_id else "all subscriptions"
    return (
        f"lock {lock.id}: customer {lock.customer_id}, price {lock.price_id} ({scope}) at "
        f"{lock.unit_amount_minor} {lock.currency}, {state}; {lock.reason} [by {lock.granted_by}]"
    )


@click.group("pricelocks")
def pricelocks_group() -> None:
    """Price locks (grandfathering) and price change migrations."""


@pricelocks_group.command("grant")
@click.option("--customer", "customer_code", required=True, help="customer code")
@click.option("--price", "price_code", required=True, help="price code")
@click.option("--amount", type=int, required=True, help="locked unit amount in minor units")
@click.option("--reason", required=True)
@click.option("--subscription", "subscription_id", type=int, help="only this subscription")
@click.option("--expires", help="YYYY-MM-DD: the lock covers periods starting before this day")
@praho_command
def grant(
    customer_code: str,
    price_code: str,
    amount: int,
    reason: str,
    subscription_id: int | None,
    expires: str | None,
) -> None:
    """Lock a customer's price."""
    from praho.core.models.subscriptions import Subscription

    with database().transaction() as session:
        customer = session.execute(
            select(Customer).where(Customer.code == customer_code)
        ).scalar_one_or_none()
        if customer is None:
            raise NotFound(f"no customer {customer_code}")
        subscription = session.get(Subscription, subscription_id) if subscription_id else None
        if subscription_id and subscription is None:
            raise NotFound(f"no subscription {subscription_id}")
        lock = grant_lock(
            session,
            customer=customer,
            price=get_price(session, price_code),
            unit_amount_minor=amount,
            reason=reason,
            actor=CLI_ACTOR,
            subscription=subscription,
            expires_on=_day(expires, "--expires"),
            now=utcnow(),
        )
        click.echo(_describe(lock))


@pricelocks_group.command("bulk")
@click.option("--price", "price_code", required=True)
@click.option("--months", type=int, default=12, show_default=True)
@click.option("--reason", required=True)
@click.option("--amount", type=int, help="locked amount (default: today's catalog price)")
@praho_command
def bulk(price_code: str, months: int, reason: str, amount: int | None) -> None:
    """Keep everyone subscribed to a price today at this price for --months."""
    with database().transaction() as session:
        result = bulk_lock_price(
            session,
            get_price(session, price_code),
            reason=reason,
            months=months,
            unit_amount_minor=amount,
            actor=CLI_ACTOR,
            now=utcnow(),
        )
        click.echo(
            f"{len(result.created)} locks created, {len(result.already_locked)} already locked "
            f"(key {result.key})"
        )


@pricelocks_group.command("revoke")
@click.argument("lock_id", type=int)
@click.option("--reason", required=True)
@praho_command
def revoke(lock_id: int, reason: str) -> None:
    """End a lock now."""
    with database().transaction() as session:
        click.echo(
            _describe(
                revoke_lock(
                    session,
                    get_lock(session, lock_id),
                    reason=reason,
                    actor=CLI_ACTOR,
                    now=utcnow(),
                )
            )
        )


@pricelocks_group.command("list")
@click.option("--active", is_flag=True, help="only locks in force today")
@praho_command
def list_command(active: bool) -> None:
    """List price locks, newest first."""
    with database().transaction() as session:
        locks = list_locks(session, active_on=utcnow().date() if active else None)
        for lock in locks:
            click.echo(_describe(lock))
        if not locks:
            click.echo("no price locks")


@pricelocks_group.command("migrate")
@click.option("--date", "on", help="run as of this day (YYYY-MM-DD, noon Bucharest); default now")
@click.option("--dry-run", is_flag=True, help="list what would change, change nothing")
@click.option("--json", "as_json", is_flag=True)
@praho_command
def migrate(on: str | None, dry_run: bool, as_json: bool) -> None:
    """Run the price migration batch: plans, notices, migrations, lock expiries."""
    day = _day(on, "--date")
    now = noon_of(day) if day else utcnow()
    settings = current_settings()
    with database().transaction() as session:
        if dry_run:
            actions = plan_batch(session, now=now, settings=settings, actor=CLI_ACTOR)
        else:
            actions = run_batch(session, now=now, settings=settings, actor=CLI_ACTOR)
        rows = [action.as_dict() for action in actions]
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "actions": rows}, indent=2))
        return
    prefix = "would " if dry_run else ""
    for row in rows:
        click.echo(
            f"{prefix}{row['kind']}: subscription {row['subscription_id']}, price "
            f"{row['price_id']}: {row['detail']}"
        )
    click.echo(f"{len(rows)} actions{' (dry run, nothing changed)' if dry_run else ''}")
