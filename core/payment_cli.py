"""``praho payments``: record a bank transfer, settle unknown outcomes, list attempts.

Commands parse input, open one transaction, call one service and print; errors are the
services' typed errors, shown with the field and reason, and nothing is written.
"""

from __future__ import annotations

import click
from praho.core import validation as v
from praho.core.cli import database, praho_command
from praho.core.clock import utcnow
from praho.core.errors import FieldError
from praho.core.models.audit import ActorType
from praho.core.models.payments import PaymentAttempt
from praho.core.money import currency_exponent, format_amount, to_minor
from praho.core.payment_runner import settle_in_transactions
from praho.core.services.audit import Actor
from praho.core.services.customers import get_customer
from praho.core.services.invoicing import get_document
from praho.core.services.payments import record_bank_transfer
from sqlalchemy import select

CLI_ACTOR = Actor(ActorType.CLI, "praho-payments")


@click.group("payments")
def payments_group() -> None:
    """Payments: bank transfers, unknown outcomes, attempts."""


@payments_group.command("transfer")
@click.argument("customer")
@click.argument("amount")
@click.argument("bank_reference")
@click.option("--currency", default="RON", show_default=True)
@click.option("--date", "received_on", required=True, help="day on the bank statement (YYYY-MM-DD)")
@click.option("--invoice", "invoices", multiple=True, metavar="NUMBER=AMOUNT",
              help="allocate to this invoice (repeatable); default: oldest open invoices first")
@praho_command
def transfer_command(customer: str, amount: str, bank_reference: str, currency: str,
                     received_on: str, invoices: tuple[str, ...]) -> None:
    """Record a bank transfer of AMOUNT (major units, e.g. 121.00) from CUSTOMER (code)."""
    with database().transaction() as session:
        payer = get_customer(session, customer)
        allocations = None
        if invoices:
            allocations = []
            for index, item in enumerate(invoices):
                number, _, part = item.partition("=")
                if not part:
                    raise FieldError(f"invoice[{index}]", "write NUMBER=AMOUNT")
                allocations.append((get_document(session, number), _minor(part, currency, index)))
        payment = record_bank_transfer(
            session, customer=payer, amount_minor=_minor(amount, currency), currency=currency,
            bank_reference=bank_reference, received_on=received_on, allocations=allocations,
            actor=CLI_ACTOR, now=utcnow())
        click.echo(f"payment {payment.id}: {format_amount(payment.amount_minor, currency)} "
                   f"{currency}, allocated {format_amount(payment.allocated_minor, currency)}, "
                   f"credit {format_amount(payment.unallocated_minor, currency)}")


def _minor(text: str, currency: str, index: int | None = None) -> int:
    field = "amount" if index is None else f"invoice[{index}].amount"
    v.currency("currency", currency)
    return to_minor(v.decimal(field, text, places=currency_exponent(currency)), currency)


@payments_group.command("settle")
@praho_command
def settle_command() -> None:
    """Ask the gateways about attempts whose outcome is unknown or pending (never re-sends)."""
    report = settle_in_transactions(database(), now=utcnow(), actor=CLI_ACTOR)
    click.echo(f"checked {report.checked}: settled {report.settled}, still open "
               f"{report.still_open}, given up {report.given_up}, failed {report.failed}")


@payments_group.command("attempts")
@click.option("--status", help="only attempts in this status (unknown, pending, error, ...)")
@click.option("--limit", default=50, show_default=True)
@praho_command
def attempts_command(status: str | None, limit: int) -> None:
    """The latest payment attempts."""
    with database().transaction() as session:
        query = select(PaymentAttempt).order_by(PaymentAttempt.id.desc()).limit(limit)
        if status:
            query = query.where(PaymentAttempt.status == status)
        for attempt in session.execute(query).scalars():
            click.echo(f"{attempt.created_at:%Y-%m-%d %H:%M} {attempt.key} {attempt.gateway_id:<8} "
                       f"{attempt.status:<9} "
                       f"{format_amount(attempt.amount_minor, attempt.currency)} "
                       f"{attempt.currency} invoice={attempt.invoice_id} "
                       f"{attempt.error_code or ''}")
