"""``praho vat ...``: VAT number checks and the dated rates table, for the finance team."""

from __future__ import annotations

import json
from datetime import date

import click
from praho.core.cli import CLI_ACTOR, database, praho_command
from praho.core.clock import business_date, parse_date, utcnow
from praho.core.models.seller import Seller
from praho.core.services.audit import record_audit
from praho.plugins.eu_vat.rates import RATE_CLASSES, add_vat_rule, rules_on, sync_vat_rules
from praho.plugins.eu_vat.settings import current_settings
from praho.plugins.eu_vat.verification import verify_vat_number
from praho.plugins.eu_vat.vies import client_for
from sqlalchemy import select


def _date_option(value: str | None) -> date:
    if value is None:
        return business_date(utcnow())
    try:
        return parse_date(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.group("vat")
def vat_group() -> None:
    """EU VAT: VIES checks and VAT rates by country and date."""


@vat_group.command("check")
@click.argument("vat_id")
@click.option("--no-cache", is_flag=True, help="ask VIES even if a fresh answer is cached")
@click.option("--json", "as_json", is_flag=True)
@praho_command
def vat_check(vat_id: str, no_cache: bool, as_json: bool) -> None:
    """Verify VAT_ID (e.g. DE136695976) with VIES and log the consultation."""
    settings = current_settings()
    with database().transaction() as session:
        requester = (
            settings.vies_requester_vat_id
            or session.scalars(select(Seller.vat_id).where(Seller.is_default.is_(True))).first()
        )
        result = verify_vat_number(
            session,
            vat_id,
            client=client_for(settings.vies_url, settings.vies_timeout_seconds),
            settings=settings,
            requester_vat_id=requester,
            use_cache=not no_cache,
        )
        evidence = result.evidence()
    if as_json:
        click.echo(json.dumps(evidence, indent=2, ensure_ascii=False))
    else:
        line = f"{evidence['vat_id']}: {evidence['status']} ({evidence['source']})"
        if evidence.get("request_date"):
            line += f", VIES request date {evidence['request_date']}"
        if evidence.get("request_identifier"):
            line += f", consultation {evidence['request_identifier']}"
        if evidence.get("name"):
            line += f", {evidence['name']}"
        click.echo(line)
    if result.status == "unverified":
        raise click.ClickException(
            f"VIES could not verify {result.vat_id}: {result.fault_code} "
            f"({result.fault_detail}); nothing was marked invalid"
        )


@vat_group.group("rates")
def rates_group() -> None:
    """The dated VAT rates table."""


@rates_group.command("show")
@click.option("--date", "on", help="tax point (YYYY-MM-DD); default today")
@click.option("--country", help="ISO country code, e.g. RO")
@click.option("--json", "as_json", is_flag=True)
@praho_command
def rates_show(on: str | None, country: str | None, as_json: bool) -> None:
    """Show the rates in force on a date."""
    day = _date_option(on)
    with database().transaction() as session:
        rows = [
            {
                "country": r.country,
                "tax_class": r.tax_class,
                "rate": f"{r.rate.normalize():f}",
                "valid_from": r.valid_from.isoformat(),
                "valid_to": r.valid_to.isoformat() if r.valid_to else None,
                "reference": r.reference,
            }
            for r in rules_on(session, day, country)
        ]
    if not rows:
        raise click.ClickException(
            f"no VAT rates in force on {day}" + (f" for {country}" if country else "")
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"VAT rates in force on {day}:")
    for row in rows:
        until = row["valid_to"] or "open"
        click.echo(
            f"  {row['country']}  {row['tax_class']:<10} {row['rate']:>6}%  "
            f"{row['valid_from']} .. {until:<10}  {row['reference']}"
        )


@rates_group.command("sync")
@praho_command
def rates_sync() -> None:
    """Load new rows of the shipped data file into the rates table (history is kept)."""
    now = utcnow()
    with database().transaction() as session:
        report = sync_vat_rules(session, now=now)
        if report.added or report.closed:
            record_audit(
                session,
                actor=CLI_ACTOR,
                action="vat_rates.synced",
                object_type="vat_rules",
                object_id="data-file",
                now=now,
                data={
                    "added": [
                        f"{r.country} {r.tax_class} {r.rate} from {r.valid_from}"
                        for r in report.added
                    ],
                    "closed": [f"{r.country} {r.tax_class} to {r.valid_to}" for r in report.closed],
                },
            )
    click.echo(
        f"rates synced: {len(report.added)} added, {len(report.closed)} closed, "
        f"{report.unchanged} unchanged"
    )


@rates_group.command("add")
@click.argument("country")
@click.argument("tax_class", type=click.Choice(RATE_CLASSES))
@click.argument("rate")
@click.option("--from", "valid_from", required=True, help="first tax point (YYYY-MM-DD)")
@click.option("--reference", required=True, help="the law or notice behind the change")
@praho_command
def rates_add(country: str, tax_class: str, rate: str, valid_from: str, reference: str) -> None:
    """Record a rate change announced before the data file knows it."""
    now = utcnow()
    with database().transaction() as session:
        rule = add_vat_rule(
            session,
            country=country,
            tax_class=tax_class,
            rate=rate,
            valid_from=valid_from,
            reference=reference,
            now=now,
        )
        record_audit(
            session,
            actor=CLI_ACTOR,
            action="vat_rate.added",
            object_type="vat_rule",
            object_id=f"{rule.country}/{rule.tax_class}/{rule.valid_from}",
            now=now,
            data={"rate": str(rule.rate), "reference": rule.reference},
        )
        click.echo(
            f"{rule.country} {rule.tax_class} {rule.rate.normalize():f}% from {rule.valid_from} "
            f"({rule.reference})"
        )
