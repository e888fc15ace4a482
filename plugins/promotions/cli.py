"""``praho promotions ...``: campaigns, coupons, code batches and redemptions."""

from __future__ import annotations

import json
from decimal import Decimal

import click
from praho.core.cli import CLI_ACTOR, database, praho_command
from praho.core.clock import parse_date, utcnow
from praho.core.errors import NotFound
from praho.core.models.customers import Customer
from praho.core.models.subscriptions import Subscription
from praho.core.services.catalog import get_price
from praho.plugins.promotions.coupons import (
    CouponSpec,
    coupon_stats,
    create_campaign,
    create_coupon,
    find_code,
    generate_codes,
)
from praho.plugins.promotions.models import Campaign, Coupon, Redemption
from praho.plugins.promotions.redemption import redeem_coupon
from sqlalchemy import select


def _amounts(values: tuple[str, ...], option: str) -> dict[str, int]:
    """``RON=1000`` pairs into a mapping."""
    result = {}
    for value in values:
        currency, sep, amount = value.partition("=")
        if not sep or not amount.strip().lstrip("-").isdigit():
            raise click.BadParameter(f"{value!r}: expected CURRENCY=MINOR_UNITS", param_hint=option)
        result[currency.strip().upper()] = int(amount)
    return result


@click.group("promotions")
def promotions_group() -> None:
    """Campaigns, coupons and redemptions."""


@promotions_group.command("campaign")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--starts", required=True, help="YYYY-MM-DD")
@click.option("--ends", help="YYYY-MM-DD")
@click.option("--budget", type=int, help="budget in minor units")
@click.option("--currency")
@praho_command
def campaign_command(
    code: str, name: str, starts: str, ends: str | None, budget: int | None, currency: str | None
) -> None:
    """Create a campaign."""
    with database().transaction() as session:
        campaign = create_campaign(
            session,
            code=code,
            name=name,
            starts_on=starts,
            ends_on=ends,  # type: ignore[arg-type]
            budget_minor=budget,
            currency=currency,
            actor=CLI_ACTOR,
            now=utcnow(),
        )
        click.echo(f"campaign {campaign.code} created")


@promotions_group.command("create")
@click.argument("code")
@click.option("--name", required=True)
@click.option(
    "--type",
    "discount_type",
    required=True,
    type=click.Choice(["percentage", "fixed", "free_months", "bogo"]),
)
@click.option("--percent")
@click.option("--amount", "amounts", multiple=True, help="CURRENCY=MINOR, repeatable")
@click.option("--free-months", type=int)
@click.option("--duration", default="once", type=click.Choice(["once", "repeating", "forever"]))
@click.option("--cycles", type=int, help="for --duration repeating")
@click.option("--max-redemptions", type=int)
@click.option("--per-customer", type=int)
@click.option("--valid-from")
@click.option("--valid-until")
@click.option("--min-order", multiple=True, help="CURRENCY=MINOR, repeatable")
@click.option("--price", "price_codes", multiple=True, help="only these price codes (plans)")
@click.option("--new-customers", is_flag=True)
@click.option("--country", "countries", multiple=True)
@click.option("--customer-type", type=click.Choice(["b2b", "b2c"]))
@click.option("--tag")
@click.option("--campaign", "campaign_code")
@praho_command
def create_command(
    code: str,
    name: str,
    discount_type: str,
    percent: str | None,
    amounts: tuple[str, ...],
    free_months: int | None,
    duration: str,
    cycles: int | None,
    max_redemptions: int | None,
    per_customer: int | None,
    valid_from: str | None,
    valid_until: str | None,
    min_order: tuple[str, ...],
    price_codes: tuple[str, ...],
    new_customers: bool,
    countries: tuple[str, ...],
    customer_type: str | None,
    tag: str | None,
    campaign_code: str | None,
) -> None:
    """Create a coupon (its code is CODE)."""
    with database().transaction() as session:
        campaign = None
        if campaign_code:
            campaign = session.execute(
                select(Campaign).where(Campaign.code == campaign_code)
            ).scalar_one_or_none()
            if campaign is None:
                raise NotFound(f"no campaign {campaign_code}")
        spec = CouponSpec(
            code=code,
            name=name,
            discount_type=discount_type,
            percent=Decimal(percent) if percent else None,
            amounts=_amounts(amounts, "--amount"),
            free_months=free_months,
            duration=duration,
            duration_cycles=cycles,
            max_redemptions=max_redemptions,
            max_per_customer=per_customer,
            valid_from=parse_date(valid_from) if valid_from else None,
            valid_until=parse_date(valid_until) if valid_until else None,
            min_order=_amounts(min_order, "--min-order"),
            prices=[get_price(session, c) for c in price_codes],
            new_customers_only=new_customers,
            countries=list(countries),
            customer_type=customer_type,
            customer_tag=tag,
            campaign=campaign,
        )
        coupon = create_coupon(session, spec, actor=CLI_ACTOR, now=utcnow())
        click.echo(f"coupon {coupon.code} created")


@promotions_group.command("codes")
@click.argument("coupon_code")
@click.option("--count", type=int, required=True)
@click.option("--prefix", default="")
@click.option("--uses", type=int, default=1, show_default=True)
@click.option(
    "--output", type=click.File("w"), default="-", help="file for the codes (default stdout)"
)
@praho_command
def codes_command(
    coupon_code: str, count: int, prefix: str, uses: int, output: click.utils.LazyFile
) -> None:
    """Generate a batch of unique codes for a coupon."""
    with database().transaction() as session:
        coupon = session.execute(
            select(Coupon).where(Coupon.code == coupon_code.upper())
        ).scalar_one_or_none()
        if coupon is None:
            raise NotFound(f"no coupon {coupon_code}")
        rows = generate_codes(
            session,
            coupon,
            count=count,
            prefix=prefix,
            uses_per_code=uses,
            actor=CLI_ACTOR,
            now=utcnow(),
        )
        codes = [row.code for row in rows]
    output.write("\n".join(codes) + "\n")


@promotions_group.command("redeem")
@click.argument("code")
@click.option("--subscription", "subscription_id", type=int, required=True)
@praho_command
def redeem_command(code: str, subscription_id: int) -> None:
    """Redeem a code for a subscription (discounts its next renewals)."""
    with database().transaction() as session:
        subscription = session.get(Subscription, subscription_id)
        if subscription is None:
            raise NotFound(f"no subscription {subscription_id}")
        customer = session.get(Customer, subscription.customer_id)
        assert customer is not None
        redemption = redeem_coupon(
            session,
            code,
            customer=customer,
            subscription=subscription,
            actor=CLI_ACTOR,
            now=utcnow(),
        )
        click.echo(f"redemption {redemption.id}: {code.upper()} for subscription {subscription_id}")


@promotions_group.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
@praho_command
def show_command(code: str, as_json: bool) -> None:
    """A coupon's rules, uses and redemptions."""
    with database().transaction() as session:
        coupon = session.get(Coupon, find_code(session, code).coupon_id)
        assert coupon is not None
        redemptions = (
            session.execute(
                select(Redemption).where(Redemption.coupon_id == coupon.id).order_by(Redemption.id)
            )
            .scalars()
            .all()
        )
        data = {
            "code": coupon.code,
            "name": coupon.name,
            "type": coupon.discount_type,
            "percent": str(coupon.percent) if coupon.percent is not None else None,
            "amounts": coupon.amounts,
            "duration": coupon.duration,
            "cycles": coupon.duration_cycles,
            "valid_from": str(coupon.valid_from) if coupon.valid_from else None,
            "valid_until": str(coupon.valid_until) if coupon.valid_until else None,
            **coupon_stats(session, coupon),
            "redemptions": [
                {
                    "id": r.id,
                    "customer_id": r.customer_id,
                    "subscription_id": r.subscription_id,
                    "invoice_id": r.invoice_id,
                    "status": r.status,
                    "cycles_used": r.cycles_used,
                    "discount_total_minor": r.discount_total_minor,
                }
                for r in redemptions
            ],
        }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        if key != "redemptions":
            click.echo(f"{key}: {value}")
    for row in data["redemptions"]:  # type: ignore[attr-defined]
        click.echo(
            f"  redemption {row['id']}: customer {row['customer_id']}, {row['status']}, "
            f"{row['cycles_used']} cycles, {row['discount_total_minor']} discounted"
        )
