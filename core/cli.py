"""The ``praho`` command: a Flask CLI group, so ``praho run``/``shell``/``routes`` work too.

Commands parse options, open one transaction, call a service and print. Expected
errors (:class:`PrahoError`) become a message and a non-zero exit code.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from praho.core import migrations
from praho.core.errors import PrahoError
from praho.core.models.audit import ActorType
from praho.core.models.customers import Customer
from praho.core.models.invoices import Invoice
from praho.core.money import format_amount
from praho.core.services.audit import Actor, verify_audit_chain
from praho.core.services.invoicing import get_document
from praho.core.services.setup import ensure_reference_data
from sqlalchemy import select

CLI_ACTOR = Actor(ActorType.CLI, "praho-cli")


def _create_app() -> Any:
    from praho.core.app import create_app

    return create_app()


def praho_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run inside the app context and turn PrahoError into a clean CLI error."""

    @functools.wraps(func)
    @with_appcontext
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PrahoError as error:
            raise click.ClickException(error.message) from None

    return wrapper


def database() -> Any:
    """The current app's :class:`praho.core.db.Database`."""
    return current_app.extensions["praho.db"]


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False,
             load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """PRAHO Billing: billing and payments for hosting providers."""


def register_core_commands(app: Any) -> None:
    """Attach the core commands to ``app.cli`` (the ``praho`` group finds them there)."""
    # Imported here: billing_cli uses praho_command and database from this module.
    from praho.core.billing_cli import billing_group
    from praho.core.payment_cli import payments_group

    app.cli.add_command(billing_group)
    app.cli.add_command(payments_group)
    for command in (db_group, invoice_group, audit_group, import_command, demo_command, mail_group,
                    worker, beat):
        app.cli.add_command(command)


# --- database ---------------------------------------------------------------


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic) commands."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@praho_command
def db_upgrade(revision: str) -> None:
    """Upgrade the schema and create missing reference data (accounts, series)."""
    migrations.upgrade(database().engine, revision)
    with database().transaction() as session:
        ensure_reference_data(session)
    click.echo(f"database at {revision}: {database().engine.url.render_as_string(hide_password=True)}")


@db_group.command("downgrade")
@click.argument("revision")
@praho_command
def db_downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION (``base`` removes every table)."""
    migrations.downgrade(database().engine, revision)
    click.echo(f"database at {revision}")


# --- documents --------------------------------------------------------------


@click.group("invoice")
def invoice_group() -> None:
    """Invoices, proformas and credit notes."""


def document_summary(invoice: Invoice, customer: Customer | None) -> dict[str, Any]:
    """A JSON-friendly summary of a document (used by list and show)."""
    return {
        "number": invoice.full_number,
        "id": invoice.id,
        "kind": str(invoice.kind),
        "status": str(invoice.status),
        "customer": customer.code if customer else None,
        "customer_name": customer.legal_name if customer else None,
        "issue_date": invoice.issue_date.isoformat() if invoice.issue_date else None,
        "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
        "currency": invoice.currency,
        "taxable_minor": invoice.taxable_minor,
        "vat_minor": invoice.vat_minor,
        "total_minor": invoice.total_minor,
        "payment_status": str(invoice.payment_status),
    }


@invoice_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@click.option("--kind", type=click.Choice(["invoice", "proforma", "credit_note"]))
@click.option("--status", type=click.Choice(["draft", "issued", "void"]))
@click.option("--customer", help="customer code")
@click.option("--limit", default=100, show_default=True)
@praho_command
def invoice_list(as_json: bool, kind: str | None, status: str | None, customer: str | None,
                 limit: int) -> None:
    """List documents, newest first."""
    with database().transaction() as session:
        query = select(Invoice, Customer).join(Customer, Customer.id == Invoice.customer_id)
        if kind:
            query = query.where(Invoice.kind == kind)
        if status:
            query = query.where(Invoice.status == status)
        if customer:
            query = query.where(Customer.code == customer)
        rows = session.execute(query.order_by(Invoice.id.desc()).limit(limit)).all()
        summaries = [document_summary(inv, cust) for inv, cust in rows]
    if as_json:
        click.echo(json.dumps(summaries, indent=2, ensure_ascii=False))
        return
    for s in summaries:
        amount = format_amount(s["total_minor"], s["currency"], "en")
        click.echo(f"{s['number'] or 'draft#' + str(s['id']):<22} {s['kind']:<12} {s['status']:<7} "
                   f"{s['issue_date'] or '':<10} {s['customer']:<10} {amount:>14} {s['currency']} "
                   f"{s['payment_status']}")


@invoice_group.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True)
@praho_command
def invoice_show(number: str, as_json: bool) -> None:
    """Show one document with its lines and VAT breakdown."""
    with database().transaction() as session:
        invoice = get_document(session, number)
        customer = session.get(Customer, invoice.customer_id)
        data = document_summary(invoice, customer)
        data["lines"] = [
            {"position": l.position, "item": l.item_name, "quantity": str(l.quantity),
             "unit_price": str(l.unit_price), "net_minor": l.net_amount_minor,
             "vat_category": l.tax_category, "vat_rate": str(l.tax_rate), "tax_note": l.tax_note,
             "period": [d.isoformat() if d else None for d in (l.period_start, l.period_end)]}
            for l in invoice.lines
        ]
        data["vat_breakdown"] = [
            {"category": s.tax_category, "rate": str(s.tax_rate), "taxable_minor": s.taxable_minor,
             "vat_minor": s.tax_minor, "exemption_reason": s.exemption_reason}
            for s in invoice.tax_subtotals
        ]
        data["exchange_rate"] = str(invoice.exchange_rate) if invoice.exchange_rate else None
        data["vat_ron_minor"] = invoice.vat_ron_minor
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"{data['kind']} {data['number']} ({data['status']}) for {data['customer_name']}")
    click.echo(f"issued {data['issue_date']}, due {data['due_date']}, {data['payment_status']}")
    for line in data["lines"]:
        click.echo(f"  {line['position']:>2}. {line['item']:<40} {line['quantity']:>10} x "
                   f"{line['unit_price']:>12} = {format_amount(line['net_minor'], data['currency'], 'en'):>12}"
                   f"  VAT {line['vat_category']} {line['vat_rate']}%")
    for group in data["vat_breakdown"]:
        click.echo(f"  VAT {group['category']} {group['rate']}%: base "
                   f"{format_amount(group['taxable_minor'], data['currency'], 'en')}, "
                   f"VAT {format_amount(group['vat_minor'], data['currency'], 'en')}")
    click.echo(f"  total {format_amount(data['total_minor'], data['currency'], 'en')} {data['currency']}")


@invoice_group.command("convert")
@click.argument("number")
@click.option("--bank-reference", help="the transfer that paid it (records the payment too)")
@click.option("--received-on", help="date of the transfer, YYYY-MM-DD (default: today)")
@click.option("--amount", help="amount received, e.g. 1437,48 or 1437.48; never rounded "
                               "(default: the proforma's total)")
@praho_command
def invoice_convert(number: str, bank_reference: str | None, received_on: str | None,
                    amount: str | None) -> None:
    """Issue the fiscal invoice for a paid proforma (and record its bank transfer)."""
    from praho.core.clock import business_date, utcnow
    from praho.core.money import AmountInputError, parse_amount_input
    from praho.core.services.credit_notes import convert_proforma
    from praho.core.services.proforma_payments import pay_proforma

    actor = Actor(ActorType.CLI, "praho invoice convert")
    with database().transaction() as session:
        proforma = get_document(session, number)
        if bank_reference:
            amount_minor = None
            if amount is not None:
                # Read as staff type it, never rounded: '1.437' (1437 or 1.437?) and
                # '99.999' (too many decimals) are refused, as in the admin forms.
                try:
                    amount_minor = parse_amount_input(amount, proforma.currency)
                except AmountInputError as error:
                    raise click.BadParameter(str(error), param_hint="--amount") from None
            invoice, payment = pay_proforma(
                session, proforma, bank_reference=bank_reference,
                received_on=received_on or business_date(utcnow()).isoformat(),
                amount_minor=amount_minor, actor=actor)
            paid = f", transfer {payment.bank_reference} recorded ({invoice.payment_status})"
        elif amount or received_on:
            raise click.UsageError("--amount and --received-on need --bank-reference")
        else:
            invoice, paid = convert_proforma(session, proforma, actor=actor), ""
        click.echo(f"{proforma.full_number} -> invoice {invoice.full_number}, "
                   f"total {format_amount(invoice.total_minor, invoice.currency, 'en')} "
                   f"{invoice.currency}{paid}")


@invoice_group.command("xml")
@click.argument("number")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="file to write (default: stdout)")
@click.option("--format", "format_id", help="e-invoice format id (default: the only one registered)")
@praho_command
def invoice_xml(number: str, output: str | None, format_id: str | None) -> None:
    """Write a document as an electronic invoice (e.g. UBL CIUS-RO), validated first."""
    from praho.core.plugins import get_registry

    formats = get_registry().objects("register_einvoice_formats")
    if not formats:
        raise click.ClickException("no e-invoice format is registered (enable a plugin such as ro_efactura)")
    if format_id is None and len(formats) > 1:
        raise click.ClickException(f"several formats are registered; choose --format {sorted(formats)}")
    chosen = formats.get(format_id) if format_id else next(iter(formats.values()))
    if chosen is None:
        raise click.ClickException(f"unknown format {format_id!r}; registered: {sorted(formats)}")
    with database().transaction() as session:
        xml = chosen.render(get_document(session, number))
    problems = chosen.validate(xml)
    if output:
        with open(output, "wb") as handle:
            handle.write(xml)
        click.echo(f"wrote {output} ({chosen.id}, {len(xml)} bytes)", err=True)
    else:
        click.echo(xml.decode("utf-8"), nl=False)
    if problems:
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        raise click.ClickException(f"{number}: the {chosen.id} XML fails validation "
                                   f"({len(problems)} problem(s))")

@invoice_group.command("pdf")
@click.argument("number")
@click.option("-o", "--output", metavar="FILE",
              help="where to write the PDF ('-' for standard output) [default: NUMBER.pdf]")
@click.option("--language", type=click.Choice(["ro", "en"]),
              help="language of the printout [default: the document's language]")
@praho_command
def invoice_pdf(number: str, output: str | None, language: str | None) -> None:
    """Render invoice, proforma or credit note NUMBER (or id) as a PDF."""
    # Imported here so the command group stays the only change to this module's imports.
    import re
    from pathlib import Path

    from praho.core.services.pdf import render_document_pdf

    with database().transaction() as session:
        invoice = get_document(session, number)
        pdf = render_document_pdf(session, invoice, language=language)
        name = invoice.full_number or f"draft-{invoice.id}"
    if output == "-":
        click.echo(pdf, nl=False)
        return
    target = Path(output or re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".pdf")
    try:
        target.write_bytes(pdf)
    except OSError as error:
        raise click.ClickException(f"cannot write {target}: {error.strerror}") from None
    click.echo(f"wrote {target} ({len(pdf)} bytes, {name})")


# --- audit ------------------------------------------------------------------


@click.group("audit")
def audit_group() -> None:
    """Audit trail commands."""


@audit_group.command("verify")
@praho_command
def audit_verify() -> None:
    """Recompute the audit hash chain; exit 1 if any event was altered or removed."""
    with database().transaction() as session:
        report = verify_audit_chain(session)
    if report.ok:
        click.echo(f"audit chain intact: {report.checked} events verified")
        return
    for problem in report.problems:
        click.echo(problem, err=True)
    raise click.ClickException(f"audit chain broken: {len(report.problems)} problem(s)")


# --- demo -------------------------------------------------------------------


@click.command("demo")
@click.option("--date", "on_date", help="the demo's 'today' (YYYY-MM-DD), default: today")
@praho_command
def demo_command(on_date: str | None) -> None:
    """Create a demo hosting company (customers, plans, documents) and bill it.

    Upgrades the database first, so ``praho demo`` works on a brand-new machine.
    """
    from praho.core import demo
    from praho.core.billing_runner import run_in_process
    from praho.core.clock import business_date, noon_of, parse_date, utcnow
    from praho.core.models import BillingRun

    migrations.upgrade(database().engine)
    now = noon_of(parse_date(on_date)) if on_date else utcnow()
    with database().transaction() as session:
        ensure_reference_data(session)
        if demo.demo_exists(session):
            click.echo("demo data already present; nothing to do (use a fresh PRAHO_INSTANCE_PATH)")
            return
        report = demo.create_demo_company(session, today=business_date(now))
    # Each step in its own transaction: charging commits the attempt before the gateway call.
    with database().transaction() as session:
        demo.start_demo_subscriptions(session, report, today=business_date(now))
    with database().transaction() as session:
        demo.issue_demo_documents(session, report, now=now)
    with database().transaction() as session:
        demo.collect_demo_payments(session, report, now=now)
    # Today's billing run renews what is due (and charges cards), then the collection run
    # opens dunning cases for what could not be collected.
    run_id = run_in_process(database(), now=now, actor=demo.DEMO_ACTOR)
    with database().transaction() as session:
        run = session.get(BillingRun, run_id)
        counts = (run.summary or {}).get("counts", {}) if run else {}
        collection = _collection_summary(session, now)
    click.echo(f"demo company created: {report.customers} customers, {report.products} products, "
               f"{report.prices} prices, {report.subscriptions} subscriptions")
    click.echo(f"documents issued: {', '.join(report.documents)}")
    click.echo(f"billing run #{run_id}: {counts or 'nothing due'}")
    click.echo(f"collection run: {collection}")
    for note in report.notes:
        click.echo(note)
    click.echo("next: praho invoice list, praho invoice pdf NUMBER, praho run (back office at /admin)")


def _collection_summary(session: Any, now: Any) -> str:
    """Run the collection run as of ``now``; a one-line summary of what it did."""
    from praho.core import demo
    from praho.core.services.collections import run_collections

    run = run_collections(session, now=now, actor=demo.DEMO_ACTOR)
    counts = (run.summary or {}).get("counts", {})
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items())) or "nothing to chase"


# --- mail -------------------------------------------------------------------


@click.group("mail")
def mail_group() -> None:
    """The e-mail outbox."""


@mail_group.command("test")
@click.argument("address")
@click.option("--language", type=click.Choice(["ro", "en"]), default="ro", show_default=True)
@praho_command
def mail_test(address: str, language: str) -> None:
    """Send a test message to ADDRESS through the configured SMTP server."""
    from praho.core.clock import utcnow
    from praho.core.services import mail

    moment = utcnow()
    with database().transaction() as session:
        message = mail.queue_email(session, to=address, template="test_message", language=language,
                                   context={"name": address}, key=f"test:{address}:{moment.isoformat()}",
                                   now=moment)
        sent = mail.deliver(session, message, now=moment)
    if not sent:
        raise click.ClickException(f"not sent: {message.last_error}")
    click.echo(f"sent to {address} via {current_app.config['SMTP_HOST']}:{current_app.config['SMTP_PORT']}")


@mail_group.command("deliver")
@praho_command
def mail_deliver() -> None:
    """Deliver queued messages that are due now (what the periodic task does)."""
    from praho.core.services import mail

    with database().transaction() as session:
        sent = mail.deliver_due(session)
    click.echo(f"{sent} message(s) sent")


# --- import -----------------------------------------------------------------


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="validate and report, then roll everything back")
@praho_command
def import_command(file: str, dry_run: bool) -> None:
    """Import customers, catalog and draft documents from FILE (docs/import.md).

    All or nothing: any problem is reported with its line and nothing is written.
    """
    from pathlib import Path

    from praho.core.jsoninput import MAX_FILE_BYTES, JSONInputError, parse_with_positions
    from praho.core.services.importer import ImportFailed, import_data

    try:
        with Path(file).open("rb") as handle:
            # One byte past the limit is enough for the parser to refuse an oversized file.
            parsed = parse_with_positions(handle.read(MAX_FILE_BYTES + 1))
    except JSONInputError as error:
        raise click.ClickException(f"{file}: {error}") from None
    session = database().session_factory()
    try:
        report = import_data(session, parsed.value, actor=CLI_ACTOR)
    except ImportFailed as failed:
        session.rollback()
        for problem in failed.problems:
            line = parsed.line_of(problem.path)
            click.echo(f"{file}:{line or '?'}: {problem.dotted}: {problem.reason}", err=True)
        raise click.ClickException(f"{failed.message}; nothing was imported") from None
    except BaseException:
        session.rollback()
        raise
    else:
        if dry_run:
            session.rollback()
        else:
            session.commit()
    finally:
        session.close()
    summary = ", ".join(f"{count} {section}" for section, count in report.created.items())
    click.echo(f"{'would import' if dry_run else 'imported'}: {summary or 'nothing'}")


# --- celery -----------------------------------------------------------------


@click.command("worker", context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@with_appcontext
def worker(celery_args: tuple[str, ...]) -> None:
    """Start a Celery worker (extra arguments go to ``celery worker``)."""
    celery_app = current_app.extensions["celery"]
    if not current_app.config.get("BROKER_URL"):
        raise click.ClickException("PRAHO_BROKER_URL is not set; tasks run eagerly without a worker")
    celery_app.worker_main(["worker", "--loglevel=INFO", *celery_args])


@click.command("beat", context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@with_appcontext
def beat(celery_args: tuple[str, ...]) -> None:
    """Start Celery beat with the core and plugin schedules (run exactly one)."""
    from praho.core.tasks import build_beat_schedule

    celery_app = current_app.extensions["celery"]
    if not current_app.config.get("BROKER_URL"):
        raise click.ClickException("PRAHO_BROKER_URL is not set; beat needs a broker")
    celery_app.conf.beat_schedule = build_beat_schedule(current_app)
    celery_app.start(["beat", "--loglevel=INFO", *celery_args])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
