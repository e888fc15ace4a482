"""Money actions on an invoice: record a bank transfer, apply customer credit, retry a charge.

Each calls one payments service (core/services/payment_allocation.py, payment_attempts.py);
the ledger entries and audit events are written there.
"""

from __future__ import annotations

from praho.admin.views.base import (
    Action,
    ActionContext,
    FormField,
    amount_input,
    field_value,
    money_text,
)
from praho.core.clock import business_date
from praho.core.models import Customer, DocumentKind, DocumentStatus, Invoice
from praho.core.models.payments import AttemptReason
from praho.core.services.payments import (
    apply_customer_credit,
    charge_invoice,
    record_bank_transfer,
)


def _open_invoice(document: Invoice) -> bool:
    return (
        document.kind == DocumentKind.INVOICE
        and document.status == DocumentStatus.ISSUED
        and document.balance_due_minor > 0
    )


def _bank_transfer(ctx: ActionContext) -> str:
    invoice: Invoice = ctx.obj
    amount = amount_input(ctx, "amount", currency=invoice.currency)
    assert amount is not None  # required
    customer = ctx.session.get(Customer, invoice.customer_id)
    # This invoice first; whatever exceeds what is due stays as customer credit.
    allocations = [(invoice, min(amount, invoice.balance_due_minor))] if amount > 0 else None
    payment = record_bank_transfer(
        ctx.session,
        customer=customer,
        amount_minor=amount,
        currency=invoice.currency,
        bank_reference=field_value(ctx.form, "bank_reference"),
        received_on=field_value(ctx.form, "received_on") or business_date(ctx.now),
        allocations=allocations,
        note=field_value(ctx.form, "note") or None,
        actor=ctx.actor,
        now=ctx.now,
    )
    return f"{money_text(payment.amount_minor, payment.currency)} recorded"


def _apply_credit(ctx: ActionContext) -> str:
    applied = apply_customer_credit(ctx.session, ctx.obj, actor=ctx.actor, now=ctx.now)
    return f"{money_text(applied, ctx.obj.currency)} applied from credit"


def _retry_charge(ctx: ActionContext) -> str:
    attempt = charge_invoice(
        ctx.session, ctx.obj, reason=AttemptReason.MANUAL, actor=ctx.actor, now=ctx.now
    )
    return f"payment attempt {attempt.id}: {attempt.status}"


def _due(ctx: ActionContext) -> list[tuple[str, str]]:
    invoice: Invoice = ctx.obj
    return [
        ("Total", money_text(invoice.total_minor, invoice.currency)),
        ("Receivable", money_text(invoice.balance_due_minor, invoice.currency)),
    ]


BANK_TRANSFER = Action(
    "bank_payment",
    "Record bank payment",
    _bank_transfer,
    applies=_open_invoice,
    preview=_due,
    fields=(
        FormField("amount", "Amount", "amount", required=True),
        FormField("bank_reference", "Bank reference", required=True),
        FormField("received_on", "Received (YYYY-MM-DD)"),
        FormField("note", "Note"),
    ),
)
APPLY_CREDIT = Action(
    "apply_credit", "Apply credit", _apply_credit, applies=_open_invoice, preview=_due
)
RETRY_CHARGE = Action(
    "retry_charge",
    "Retry payment",
    _retry_charge,
    applies=_open_invoice,
    preview=_due,
    style="warning",
)
