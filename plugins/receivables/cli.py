"""``praho collections``: run the collection run by hand, for any day."""

from __future__ import annotations

import json

import click
from praho.core.cli import CLI_ACTOR, database, praho_command
from praho.core.clock import noon_of, parse_date, utcnow
from praho.plugins.receivables.runner import run_in_process


@click.group("collections")
def collections_group() -> None:
    """Dunning: retries, reminders, suspension and termination of unpaid invoices."""


@collections_group.command("run")
@click.option("--date", "run_date", help="run as of noon of this day (YYYY-MM-DD); default: now")
@click.option("--json", "as_json", is_flag=True, help="print the run summary as JSON")
@praho_command
def collections_run(run_date: str | None, as_json: bool) -> None:
    """Chase every unpaid invoice: open cases, retry, remind, suspend, terminate."""
    try:
        now = noon_of(parse_date(run_date)) if run_date else utcnow()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--date") from None
    # One transaction to start, one per chunk of cases (PRAHO_COLLECTION_CHUNK_SIZE).
    run = run_in_process(database(), now=now, actor=CLI_ACTOR)
    run_id, summary = run.id, dict(run.summary)
    if as_json:
        click.echo(json.dumps({"run_id": run_id, **summary}, indent=2, ensure_ascii=False))
        return
    click.echo(f"collection run {run_id} as of {now.date().isoformat()}")
    for name, count in summary["counts"].items():
        click.echo(f"  {name:<28} {count:>6}")
    click.echo(f"  retries tried {summary['tried']}, succeeded {summary['succeeded']}")
    for failure in summary["failed"]:
        click.echo(f"  failed: {failure}", err=True)
