"""``praho virtualmin failed|retry|run-due|reconcile``: provisioning from the command line."""

from __future__ import annotations

import json

import click
from praho.core.cli import CLI_ACTOR, database, praho_command
from praho.plugins.virtualmin import reconcile, runner
from praho.plugins.virtualmin.actions import (
    QUEUED_KEY,
    get_action,
    list_failed_actions,
    retry_action,
)
from praho.plugins.virtualmin.settings import current_settings


@click.group("virtualmin")
def virtualmin_group() -> None:
    """Virtualmin hosting accounts: failed actions, retries, reconciliation."""


@virtualmin_group.command("failed")
@praho_command
def failed_command() -> None:
    """List actions that failed and wait for a person."""
    with database().transaction() as session:
        rows = [(a.id, a.kind, a.domain, a.server, a.subscription_id, a.last_error)
                for a in list_failed_actions(session)]
    if not rows:
        click.echo("no failed Virtualmin actions")
    for action_id, kind, domain, server, subscription_id, error in rows:
        click.echo(f"{action_id:>6}  {kind:<7} {domain} on {server} "
                   f"(subscription {subscription_id}): {error}")


@virtualmin_group.command("retry")
@click.argument("action_id", type=int)
@praho_command
def retry_command(action_id: int) -> None:
    """Queue a failed action again and run it now; exits 1 if it fails again."""
    settings = current_settings()
    with database().transaction() as session:
        retry_action(session, action_id, actor=CLI_ACTOR)
        # The command runs the attempt itself below; no need for the after-commit task.
        session.info.pop(QUEUED_KEY, None)
    runner.run_actions(database(), [action_id], settings=settings)
    with database().transaction() as session:
        action = get_action(session, action_id)
        status, error = str(action.status), action.last_error
    click.echo(f"action {action_id}: {status}" + (f" ({error})" if error else ""))
    if status != "succeeded":
        raise SystemExit(1)


@virtualmin_group.command("run-due")
@praho_command
def run_due_command() -> None:
    """Run every action whose time has come (what the periodic task does)."""
    count = runner.run_due(database(), settings=current_settings())
    click.echo(f"{count} Virtualmin action(s) attempted")


@virtualmin_group.command("reconcile")
@click.option("--server", help="only this server (default: every configured server)")
@click.option("--json", "as_json", is_flag=True)
@praho_command
def reconcile_command(server: str | None, as_json: bool) -> None:
    """List each server's domains, record differences with billing, print the report."""
    reconcile.reconcile_servers(database(), settings=current_settings(), server=server)
    with database().transaction() as session:
        report = reconcile.reconcile_report(session)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for name, run in report["servers"].items():
        state = "ok" if run["ok"] else f"FAILED ({run['error']})"
        click.echo(f"{name}: {state}, {run['domains_on_server']} domain(s), "
                   f"{run['open_findings']} open finding(s)")
    for finding in report["findings"]:
        click.echo(f"  {finding['kind']:<18} {finding['domain']} on {finding['server']}: "
                   f"expected {finding['expected']}, found {finding['actual']}")
