"""``praho efactura ...``: validate XML, authorize with ANAF, submit, follow and retry documents."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any

import click
from flask import current_app
from praho.core.cli import CLI_ACTOR, database, praho_command
from praho.core.clock import business_date, resolve_now
from praho.plugins.ro_efactura.anaf_client import AnafClient
from praho.plugins.ro_efactura.runs import poll_due, submit_pending
from praho.plugins.ro_efactura.settings import current_settings
from praho.plugins.ro_efactura.submissions import deadline_alerts, get_submission, retry_submission
from praho.plugins.ro_efactura.tokens import store_tokens, token_status
from praho.plugins.ro_efactura.transmission import upload_submission
from praho.plugins.ro_efactura.validation import LAYERS, validate_all


@click.group("efactura")
def efactura_group() -> None:
    """Romanian e-Factura (ANAF SPV): validation, OAuth, submission."""


@efactura_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--layer",
    "layers",
    multiple=True,
    type=click.Choice(LAYERS),
    help="only these layers (default: xsd, cen and anaf)",
)
@click.option("--warnings/--no-warnings", default=False, help="also print warnings")
def validate_command(files: tuple[str, ...], layers: tuple[str, ...], warnings: bool) -> None:
    """Validate e-Factura XML files: UBL 2.1 XSD, CEN EN 16931 1.3.16 and ANAF CIUS-RO 1.0.9.

    Prints every failed rule id and message; exits 1 when any file has an error.
    """
    failed = 0
    for name in files:
        problems = validate_all(Path(name).read_bytes(), layers or LAYERS)
        errors = [p for p in problems if p.is_error]
        shown = problems if warnings else errors
        click.echo(
            f"{name}: {'INVALID' if errors else 'valid'} ({len(errors)} error(s), "
            f"{len(problems) - len(errors)} warning(s))"
        )
        for problem in shown:
            tag = "" if problem.is_error else " (warning)"
            click.echo(f"  {problem.layer} {problem.rule_id}{tag}: {problem.message}")
        failed += bool(errors)
    if failed:
        click.echo(f"{failed} of {len(files)} file(s) invalid", err=True)
        sys.exit(1)


@efactura_group.command("remote-validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--standard", type=click.Choice(["FACT1", "FCN"]), default="FACT1", show_default=True)
@praho_command
def remote_validate(file: str, standard: str) -> None:
    """Ask ANAF's own validator (validare/FACT1 or FCN) about a file."""
    result = AnafClient(current_settings()).validate(Path(file).read_bytes(), standard=standard)
    click.echo(f"ANAF: {'ok' if result.ok else 'nok'} (trace {result.trace_id})")
    for message in result.messages:
        click.echo(f"  {message}")
    if not result.ok:
        sys.exit(1)


@efactura_group.command("authorize")
@praho_command
def authorize() -> None:
    """Print the logincert.anaf.ro URL to open with the company's qualified certificate."""
    click.echo(AnafClient(current_settings()).authorize_url(state=secrets.token_urlsafe(16)))
    click.echo(
        "After logging in, ANAF redirects to the registered callback with ?code=...; run\n"
        "  praho efactura token --cui <CUI> <code>"
    )


@efactura_group.command("token")
@click.argument("code")
@click.option("--cui", required=True, help="the company's CUI (digits)")
@praho_command
def token(code: str, cui: str) -> None:
    """Exchange an authorization code for tokens and store them encrypted for CUI."""
    settings = current_settings()
    now = resolve_now(None)
    tokens = AnafClient(settings).exchange_code(code, now=now)
    with database().transaction() as session:
        store_tokens(session, cui.upper().removeprefix("RO"), tokens, settings=settings, now=now)
    click.echo(
        f"stored ANAF tokens for CUI {cui} ({settings.environment}); access token valid "
        f"until {tokens.access_expires_at:%Y-%m-%d}"
    )


@efactura_group.command("tokens")
@praho_command
def tokens_command() -> None:
    """Show which CUIs have tokens and when they expire (never the tokens)."""
    settings = current_settings()
    with database().transaction() as session:
        rows = [
            (t.cui, t.access_expires_at, t.refresh_expires_at)
            for t in token_status(session, settings)
        ]
    if not rows:
        click.echo(
            f"no ANAF tokens stored ({settings.environment}); run `praho efactura authorize`"
        )
    for cui, access, refresh in rows:
        click.echo(f"{cui}: access until {access:%Y-%m-%d %H:%M}, refresh until {refresh:%Y-%m-%d}")


@efactura_group.command("submit")
@click.argument("number", required=False)
@praho_command
def submit(number: str | None) -> None:
    """Upload one document now (NUMBER), or every pending one."""
    settings = current_settings()
    client = AnafClient(settings)
    transaction = database().transaction
    if number:
        with transaction() as session:
            submission_id = get_submission(session, number).id
        state = upload_submission(transaction, submission_id, client=client, settings=settings)
        click.echo(f"{number}: {state}")
        return
    click.echo(json.dumps(submit_pending(transaction, client=client, settings=settings).states))


@efactura_group.command("poll")
@praho_command
def poll() -> None:
    """Check the status of uploaded documents now."""
    settings = current_settings()
    report = poll_due(database().transaction, client=AnafClient(settings), settings=settings)
    click.echo(json.dumps(report.states))


@efactura_group.command("status")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True)
@praho_command
def status(number: str, as_json: bool) -> None:
    """Show a document's submission: state, upload index, ANAF's errors and the history."""
    with database().transaction() as session:
        s = get_submission(session, number)
        data: dict[str, Any] = {
            "document": s.document_number,
            "state": str(s.state),
            "deadline": s.deadline.isoformat(),
            "standard": s.standard,
            "b2c": s.b2c,
            "extern": s.extern,
            "attempts": s.attempts,
            "upload_index": s.upload_index,
            "download_id": s.download_id,
            "response_sha256": s.response_sha256,
            "errors": s.anaf_errors,
            "last_error": s.last_error,
            "history": [
                {"at": e.at.isoformat(), "from": e.from_state, "to": e.to_state, "detail": e.detail}
                for e in s.events
            ],
        }
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(
        f"{data['document']}: {data['state']} (deadline {data['deadline']}, "
        f"{data['attempts']} attempt(s), index {data['upload_index'] or '-'})"
    )
    for error in data["errors"]:
        click.echo(f"  ANAF: {error}")
    if data["last_error"]:
        click.echo(f"  last error: {data['last_error']}")
    for event in data["history"]:
        click.echo(f"  {event['at']} {event['from'] or '-'} -> {event['to']}")


@efactura_group.command("retry")
@click.argument("number")
@praho_command
def retry(number: str) -> None:
    """Queue a document again: rejected or invalid (after fixing what was outside it), or
    unknown once the grace period has passed and SPV was checked by hand."""
    with database().transaction() as session:
        submission = retry_submission(
            session, get_submission(session, number), actor=CLI_ACTOR, now=resolve_now(None)
        )
        click.echo(f"{submission.document_number}: {submission.state}")


@efactura_group.command("download")
@click.argument("number")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True)
@praho_command
def download(number: str, output: str) -> None:
    """Write the stored ANAF response zip (signed invoice or error list) to a file."""
    with database().transaction() as session:
        submission = get_submission(session, number)
        if not submission.response_zip:
            raise click.ClickException(f"{number} has no ANAF response yet ({submission.state})")
        Path(output).write_bytes(submission.response_zip)
        click.echo(f"wrote {output} (sha256 {submission.response_sha256})")


@efactura_group.command("alerts")
@praho_command
def alerts() -> None:
    """List documents close to (or past) their SPV deadline; exit 1 if there are any."""
    settings = current_settings()
    with database().transaction() as session:
        found = deadline_alerts(session, today=business_date(resolve_now(None)), settings=settings)
    for alert in found:
        click.echo(str(alert))
    if found:
        sys.exit(1)
    click.echo(
        f"no documents within {settings.alert_working_days} working day(s) of the deadline "
        f"({current_app.name})"
    )
