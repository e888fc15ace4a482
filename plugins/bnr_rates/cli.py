"""``praho rates fetch|show``: BNR exchange rates from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click
from praho.core.cli import database, praho_command
from praho.core.clock import business_date, parse_date, utcnow
from praho.core.errors import ExchangeRateUnavailable
from praho.plugins.bnr_rates.service import (
    fetch_rates,
    import_feed_file,
    last_fetch,
    rates_for_tax_point,
)
from praho.plugins.bnr_rates.settings import current_settings


@click.group("rates")
def rates_group() -> None:
    """BNR exchange rates (RON per unit of foreign currency)."""


@rates_group.command("fetch")
@click.option("--url", help="feed URL (default: the configured BNR feed)")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="import a saved feed file instead (e.g. the yearly nbrfxrates2025.xml)",
)
@praho_command
def rates_fetch(url: str | None, path: Path | None) -> None:
    """Fetch the BNR feed and store new rates; a bad feed changes nothing and exits 1."""
    if url and path:
        raise click.UsageError("give --url or --file, not both")
    if url and not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--url")
    settings = current_settings()
    with database().transaction() as session:
        if path is not None:
            fetch = import_feed_file(session, path, settings=settings, now=utcnow())
        else:
            fetch = fetch_rates(session, settings=settings, url=url, now=utcnow())
        ok, error, added, seen = fetch.ok, fetch.error, fetch.rates_added, fetch.rates_seen
        first, last = fetch.first_rate_date, fetch.last_rate_date
    if not ok:
        raise click.ClickException(error or "BNR feed could not be used")
    days = f"{first}" if first == last else f"{first} .. {last}"
    click.echo(f"BNR rates for {days}: {seen} read, {added} new")
    if error:
        click.echo(f"warning: {error}", err=True)


@rates_group.command("show")
@click.option(
    "--date", "on", help="tax point (YYYY-MM-DD): show the rates an invoice of that day uses"
)
@click.option("--currency", help="only this currency, e.g. EUR")
@click.option("--json", "as_json", is_flag=True)
@praho_command
def rates_show(on: str | None, currency: str | None, as_json: bool) -> None:
    """Show stored rates: the banking day an invoice on --date uses, and the last fetch."""
    settings = current_settings()
    try:
        tax_point = parse_date(on) if on else business_date(utcnow())
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--date") from None
    with database().transaction() as session:
        try:
            # The same day an invoice would use: a missing banking day is an error here too.
            day, rows = rates_for_tax_point(session, tax_point, settings)
        except ExchangeRateUnavailable as error:
            raise click.ClickException(error.message) from None
        if currency:
            rows = [r for r in rows if r.currency == currency.upper()]
        data = [
            {
                "currency": r.currency,
                "rate_date": r.rate_date.isoformat(),
                "rate": f"{r.rate.normalize():f}",
                "published": str(r.published_value),
                "multiplier": r.multiplier,
            }
            for r in rows
        ]
        fetch = last_fetch(session)
        fetch_line = (
            (
                f"last fetch {fetch.started_at:%Y-%m-%d %H:%M} UTC: "
                + ("ok" if fetch.ok else f"FAILED ({fetch.error})")
            )
            if fetch
            else "never fetched"
        )
    if not data:
        raise click.ClickException(
            f"no BNR rate {settings.rate_day_rule.replace('_', ' ')} {tax_point}"
            + (f" for {currency.upper()}" if currency else "")
            + f"; run `praho rates fetch` ({fetch_line})"
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "tax_point": tax_point.isoformat(),
                    "rule": str(settings.rate_day_rule),
                    "rates": data,
                },
                indent=2,
            )
        )
        return
    click.echo(
        f"tax point {tax_point} uses BNR rates of {day} (rule: {settings.rate_day_rule}); "
        f"{fetch_line}"
    )
    for row in data:
        published = (
            f"{row['published']} per {row['multiplier']}"
            if row["multiplier"] != 1
            else row["published"]
        )
        click.echo(f"  {row['currency']}  {row['rate']:>14} RON  (published {published})")
