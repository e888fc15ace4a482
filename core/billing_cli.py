"""``praho billing``: run the billing run, watch it, preview documents, simulate days.

Commands parse options, call the billing services or runner and print. Bad input
(an invalid date, an unknown subscription) prints the reason and exits non-zero.
"""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Any

import click
from flask import current_app
from praho.core.billing_runner import progress_of, run_in_process, start_run
from praho.core.billing_simulation import (
    SimulatedDay,
    check_range,
    copy_database,
    drop_copy,
    shown_url,
    simulate,
)
from praho.core.cli import CLI_ACTOR, database, praho_command
from praho.core.clock import noon_of, parse_date, utcnow
from praho.core.db import Database
from praho.core.errors import FieldError
from praho.core.models.billing_runs import BillingRun
from praho.core.models.catalog import Price
from praho.core.money import format_amount
from praho.core.services.billing_preview import (
    PreviewDocument,
    preview_change,
    preview_next_invoice,
)
from praho.core.services.subscription_state import get_subscription
from sqlalchemy import select


def _date_option(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group("billing")
def billing_group() -> None:
    """The recurring billing run, previews and time simulation."""


@billing_group.command("run")
@click.option("--date", "run_date", help="bill as of this day (YYYY-MM-DD); default: now")
@click.option("--chunk-size", type=int, help="subscriptions per chunk (PRAHO_BILLING_CHUNK_SIZE)")
@click.option("--inline", is_flag=True, help="bill here even when Celery workers are configured")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.option("--strict", is_flag=True, help="exit with status 1 when any subscription failed")
@praho_command
def billing_run(
    run_date: str | None, chunk_size: int | None, inline: bool, as_json: bool, strict: bool
) -> None:
    """Bill every subscription due, with a progress bar and a summary."""
    day = _date_option(run_date)
    db: Database = database()
    now = noon_of(day) if day else utcnow()
    if current_app.config.get("BROKER_URL") and not inline:
        run_id = _on_workers(db, now=now, chunk_size=chunk_size, show=not as_json)
    elif as_json:
        run_id = run_in_process(db, now=now, actor=CLI_ACTOR, chunk_size=chunk_size)
    else:
        with click.progressbar(length=1, label="billing chunks", show_pos=True) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            run_id = run_in_process(
                db, now=now, actor=CLI_ACTOR, chunk_size=chunk_size, progress=progress
            )
    summary = _run_summary(db, run_id)
    _print_summary(summary, as_json)
    if strict and summary["counts"].get("failed"):
        raise SystemExit(1)


def _run_summary(db: Database, run_id: int) -> dict[str, Any]:
    with db.transaction() as session:
        run = session.get(BillingRun, run_id)
        assert run is not None
        return {
            "run_id": run.id,
            "run_date": run.run_date.isoformat(),
            "status": str(run.status),
            "due": run.subscriptions_due,
            **run.summary,
        }


def _on_workers(db: Database, *, now: Any, chunk_size: int | None, show: bool) -> int:
    """Dispatch the chunks to the Celery workers and follow their progress."""
    from praho.core.billing_tasks import bill_chunk_task

    run_id, chunk_ids = start_run(db, now=now, actor=CLI_ACTOR, chunk_size=chunk_size)
    for chunk_id in chunk_ids:
        bill_chunk_task.delay(chunk_id)
    done, total, finished = progress_of(db, run_id)
    with click.progressbar(
        length=max(total, 1), label=f"run {run_id} on the workers", show_pos=True, hidden=not show
    ) as bar:
        while not finished:
            time.sleep(0.5)
            done, total, finished = progress_of(db, run_id)
            bar.update(done - bar.pos)
    return run_id


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    counts = summary["counts"]
    click.echo(f"billing run {summary['run_id']} for {summary['run_date']}: {summary['status']}")
    click.echo(f"  subscriptions due: {summary['due']}")
    click.echo(f"  documents issued:  {counts.get('issued', 0)}")
    for currency, amount in sorted(summary["amounts"].items()):
        click.echo(f"    {format_amount(amount, currency, 'en'):>16} {currency}")
    for label in ("ended", "skipped", "already_billed", "failed"):
        if counts.get(label):
            click.echo(f"  {label.replace('_', ' ')}: {counts[label]}")
    for failure in summary["failures"]:
        click.echo(
            f"  FAILED subscription {failure['subscription_id']} "
            f"(period {failure['period_start']}): "
            f"{failure['error']}: {failure['reason']}"
        )


@billing_group.command("status")
@click.argument("run_id", type=int, required=False)
@click.option("--json", "as_json", is_flag=True)
@praho_command
def billing_status(run_id: int | None, as_json: bool) -> None:
    """Progress and summary of a run (the latest when no id is given)."""
    db: Database = database()
    with db.transaction() as session:
        latest = select(BillingRun.id).order_by(BillingRun.id.desc()).limit(1)
        found = run_id if run_id else session.execute(latest).scalar_one_or_none()
    if found is None:
        raise click.ClickException("no billing run found")
    done, total, finished = progress_of(db, found)
    if not finished:
        click.echo(f"billing run {found}: {done}/{total} chunks done")
        return
    _print_summary(_run_summary(db, found), as_json)


@billing_group.command("preview")
@click.argument("subscription_id", type=int)
@click.option("--new-price", help="preview a plan change to this price code")
@click.option("--quantity", help="new quantity for the plan change")
@click.option(
    "--proration",
    type=click.Choice(["invoice_now", "next_invoice", "none"]),
    default="invoice_now",
    show_default=True,
)
@click.option("--date", "at_date", help="as of this day (YYYY-MM-DD); default: now")
@click.option("--json", "as_json", is_flag=True)
@praho_command
def billing_preview(
    subscription_id: int,
    new_price: str | None,
    quantity: str | None,
    proration: str,
    at_date: str | None,
    as_json: bool,
) -> None:
    """Show the next document of a subscription, or what a plan change would cost now."""
    day = _date_option(at_date)
    now = noon_of(day) if day else utcnow()
    with database().transaction() as session:
        subscription = get_subscription(session, subscription_id)
        if new_price:
            price = session.execute(
                select(Price).where(Price.code == new_price)
            ).scalar_one_or_none()
            if price is None:
                raise FieldError("new_price", f"no price {new_price!r}")
            change = preview_change(
                session,
                subscription,
                new_price=price,
                quantity=quantity,
                proration=proration,
                now=now,
            )
            data = {
                "subscription_id": subscription.id,
                "settlement": change.settlement,
                "credit_minor": change.plan.credit_minor,
                "charge_minor": change.plan.charge_minor,
                "net_minor": change.plan.net_minor,
                "notes": change.notes,
                "next_period_net_minor": change.next_period_net_minor,
                "document": _document_data(change.document),
            }
        else:
            preview = preview_next_invoice(session, subscription, now=now)
            data = {
                "subscription_id": subscription.id,
                "reason": preview.reason,
                "document": _document_data(preview.document),
            }
        session.rollback()
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return
    _print_preview(data, subscription_id)


def _document_data(document: PreviewDocument | None) -> dict[str, Any] | None:
    if document is None:
        return None
    return {
        "kind": document.kind,
        "currency": document.currency,
        "issue_date": document.issue_date.isoformat(),
        "lines": [
            {
                "item": ln.item_name,
                "description": ln.description,
                "quantity": str(ln.quantity),
                "unit_price": str(ln.unit_price),
                "net_minor": ln.net_amount_minor,
                "vat": f"{ln.tax_category} {ln.tax_rate.normalize()}%",
            }
            for ln in document.lines
        ],
        "allowances": [{"reason": r, "amount_minor": a} for r, a in document.allowances],
        "taxable_minor": document.taxable_minor,
        "vat_minor": document.vat_minor,
        "total_minor": document.total_minor,
    }


def _print_preview(data: dict[str, Any], subscription_id: int) -> None:
    document = data.get("document")
    if "settlement" in data:
        click.echo(
            f"subscription {subscription_id}: change settles as {data['settlement']} "
            f"(credit {data['credit_minor']}, charge {data['charge_minor']}, "
            f"net {data['net_minor']})"
        )
        for note in data["notes"]:
            click.echo(f"  {note}")
    if document is None:
        if data.get("reason"):
            click.echo(f"subscription {subscription_id}: no next document: {data['reason']}")
        return
    currency = document["currency"]
    click.echo(f"{document['kind']} on {document['issue_date']}:")
    for line in document["lines"]:
        click.echo(
            f"  {line['item']:<40} {line['quantity']:>8} x {line['unit_price']:>12} = "
            f"{format_amount(line['net_minor'], currency, 'en'):>12}  VAT {line['vat']}"
        )
    for allowance in document["allowances"]:
        click.echo(
            f"  discount {allowance['reason']}: "
            f"-{format_amount(allowance['amount_minor'], currency, 'en')}"
        )
    click.echo(
        f"  total {format_amount(document['total_minor'], currency, 'en')} {currency} "
        f"(VAT {format_amount(document['vat_minor'], currency, 'en')})"
    )


@billing_group.command("simulate")
@click.option("--from", "from_date", required=True, help="first day (YYYY-MM-DD)")
@click.option("--to", "to_date", required=True, help="last day (YYYY-MM-DD)")
@click.option("--keep-copy", is_flag=True, help="keep the simulated database and print its URL")
@click.option("--no-collect", is_flag=True,
              help="billing only: no charges, no collection runs (dunning) after each day")
@click.option("--json", "as_json", is_flag=True)
@praho_command
def billing_simulate(from_date: str, to_date: str, keep_copy: bool, no_collect: bool,
                     as_json: bool) -> None:
    """Replay the nightly work day by day on a copy of the data (a test clock).

    Each day: the billing run, then charging its invoices and the collection run
    (retries, reminders, suspension), unless ``--no-collect``.
    """
    start, end = _date_option(from_date), _date_option(to_date)
    assert start is not None and end is not None
    check_range(start, end)
    live: Database = database()
    copy_url = copy_database(live.url)
    copy = Database(copy_url)

    def show(day: SimulatedDay) -> None:
        if not as_json and (day.issued or day.ended or day.failed or day.collection_counts):
            amounts = ", ".join(
                f"{format_amount(a, c, 'en')} {c}" for c, a in sorted(day.amounts.items())
            )
            chased = ", ".join(f"{k} {v}" for k, v in sorted(day.collection_counts.items()))
            click.echo(
                f"{day.day}: issued {day.issued} ({amounts or '0'}), ended {day.ended}, "
                f"failed {day.failed}, charged {day.charged}, declined {day.declined}"
                + (f"; collections: {chased}" if chased else "")
            )
            for failure in day.failures:
                click.echo(f"    subscription {failure['subscription_id']}: {failure['reason']}")

    try:
        report = simulate(copy, start, end, on_day=show, collect=not no_collect)
    finally:
        copy.dispose()
        if not keep_copy:
            drop_copy(copy_url)
    totals = report.amounts_by_currency()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                    "documents_issued": report.documents_issued,
                    "amounts": totals,
                    "days": [
                        {
                            "day": d.day.isoformat(),
                            "issued": d.issued,
                            "ended": d.ended,
                            "failed": d.failed,
                            "charged": d.charged,
                            "declined": d.declined,
                            "collections": d.collection_counts,
                            "amounts": d.amounts,
                        }
                        for d in report.days
                        if d.issued or d.ended or d.failed
                    ],
                    "copy": shown_url(copy_url) if keep_copy else None,
                },
                indent=2,
            )
        )
        return
    click.echo(f"simulated {start} to {end}: {report.documents_issued} document(s)")
    for currency, amount in sorted(totals.items()):
        click.echo(f"  {format_amount(amount, currency, 'en'):>16} {currency}")
    if keep_copy:
        click.echo(f"copy kept at {shown_url(copy_url)} (same credentials as the live database)")
