"""Customer credit: the balance we hold for a customer, how it grows and how it is used.

The balance is never stored: it is the credit balance of account 419 (customer credit)
for the customer and currency, a sum over journal lines. Credit is added by
overpayments and refunds to credit (payments, refunds), downgrade proration (the
paid part of a proration credit note, posted by
:mod:`praho.core.services.proration_credits`) and goodwill granted by a person with a
reason (:func:`grant_goodwill_credit`). It is used by paying invoices
(:func:`apply_credit`): automatically on the next invoice issued (the ``receivables``
plugin calls :func:`apply_credit_automatically` from ``invoice_issued``), or by hand.

Every movement takes the customer's row lock first (``SELECT ... FOR UPDATE`` on
PostgreSQL), reads the balance and posts one balanced entry, so two movements for one
customer never interleave and the balance can never go below zero. Every movement is
audited with its actor and reason.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError, InvalidTransition, NotFound, ValidationFailed
from praho.core.models.customers import Customer
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice, PaymentStatus
from praho.core.models.ledger import AccountCode, JournalEntry, JournalLine
from praho.core.plugins import get_registry
from praho.core.services import ledger
from praho.core.services.audit import Actor, record_audit
from sqlalchemy import select
from sqlalchemy.orm import Session


class InsufficientCredit(InvalidTransition):
    """The customer's credit balance does not cover the amount asked for."""

    code = "insufficient_credit"


@dataclass(frozen=True)
class CreditMovement:
    """One line of a customer's credit statement (positive: credit added)."""

    entry_id: int
    entry_date: date
    kind: str
    memo: str
    amount_minor: int
    currency: str
    invoice_id: int | None


def lock_customer(session: Session, customer_id: int) -> Customer:
    """Load a customer with its row lock, serialising every credit movement of that customer."""
    customer = session.execute(
        select(Customer)
        .where(Customer.id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    return customer


def credit_balance(session: Session, customer_id: int, currency: str) -> int:
    """Credit we hold for the customer in ``currency`` (minor units, never negative)."""
    return ledger.customer_credit_balance(session, customer_id, currency)


def credit_statement(session: Session, customer_id: int, currency: str) -> list[CreditMovement]:
    """Every movement of the customer's credit in ``currency``, oldest first."""
    rows = session.execute(
        select(JournalEntry, JournalLine)
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(
            JournalLine.account_code == str(AccountCode.CUSTOMER_CREDIT),
            JournalLine.customer_id == customer_id,
            JournalLine.currency == currency,
        )
        .order_by(JournalEntry.id, JournalLine.id)
    ).all()
    return [
        CreditMovement(entry.id, entry.entry_date, entry.kind, entry.memo, -line.amount_minor,
                       line.currency, line.invoice_id)
        for entry, line in rows
    ]


def grant_goodwill_credit(
    session: Session,
    customer: Customer,
    *,
    amount_minor: int,
    currency: str,
    reason: str,
    actor: Actor,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> JournalEntry:
    """Give the customer credit as a gesture (an outage, a complaint), with a reason.

    ``actor`` is the person who granted it and is required. The credit is posted Dr 709
    (discounts granted) / Cr 419; the same ``idempotency_key`` returns the first entry.
    """
    moment = resolve_now(now)
    errors = v.Collector()
    with errors.guard():
        amount = v.amount_minor("amount_minor", amount_minor)
        if amount == 0:
            raise FieldError("amount_minor", "must be positive")
    with errors.guard():
        code = v.currency("currency", currency)
    with errors.guard():
        why = v.text("reason", reason, max_length=200)
    if actor is None:
        errors.errors.append(FieldError("actor", "the person granting goodwill credit is required"))
    if idempotency_key is not None:
        with errors.guard():
            v.text("idempotency_key", idempotency_key, max_length=80)
    errors.raise_if_any()
    key = f"goodwill:{idempotency_key or uuid.uuid4().hex}"
    existing = ledger.find_entry(session, key)
    if existing is not None:
        return existing
    locked = lock_customer(session, customer.id)
    common = {"customer_id": locked.id}
    entry = ledger.post_entry(
        session,
        kind="goodwill_credit",
        memo=f"goodwill credit granted by {actor}: {why}",
        postings=[
            ledger.debit(AccountCode.DISCOUNTS, amount, code, **common),
            ledger.credit(AccountCode.CUSTOMER_CREDIT, amount, code, **common),
        ],
        idempotency_key=key,
        source_type="customer",
        source_id=locked.id,
        now=moment,
    )
    record_audit(
        session, actor=actor, action="customer_credit.granted", object_type="customer",
        object_id=locked.code, amount_minor=amount, currency=code, now=moment,
        data={"kind": "goodwill", "reason": why, "entry_id": entry.id,
              "balance_after": credit_balance(session, locked.id, code)},
    )
    return entry


def _check_payable(invoice: Invoice) -> None:
    if invoice.kind != DocumentKind.INVOICE or invoice.status != DocumentStatus.ISSUED:
        raise InvalidTransition(
            f"credit pays issued invoices only; {invoice.full_number or invoice.id} is "
            f"a {invoice.status} {invoice.kind}"
        )


def lock_invoice(session: Session, invoice_id: int) -> Invoice:
    """Load an invoice with its row lock (payments and credit never pay it twice at once)."""
    invoice = session.execute(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice


def apply_credit(
    session: Session,
    invoice: Invoice,
    *,
    amount_minor: int | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> int:
    """Pay (part of) an issued invoice from the customer's credit; returns what was applied.

    Without ``amount_minor`` as much as both the balance and the amount due allow is
    applied (possibly 0). A given amount above either is refused and nothing changes.
    Posts Dr 419 / Cr 4111 for the invoice, moves its payment status and fires
    ``invoice_paid`` when it becomes paid.
    """
    moment = resolve_now(now)
    if amount_minor is not None:
        v.amount_minor("amount_minor", amount_minor)
        if amount_minor == 0:
            raise ValidationFailed([FieldError("amount_minor", "must be positive")])
    _check_payable(invoice)
    lock_customer(session, invoice.customer_id)
    invoice = lock_invoice(session, invoice.id)
    available = credit_balance(session, invoice.customer_id, invoice.currency)
    due = invoice.balance_due_minor
    if amount_minor is None:
        amount = min(available, due)
    elif amount_minor > due:
        raise InvalidTransition(
            f"{invoice.full_number} has {due} minor units due; {amount_minor} cannot be applied"
        )
    elif amount_minor > available:
        raise InsufficientCredit(
            f"the customer's credit is {available} {invoice.currency} minor units; "
            f"{amount_minor} cannot be applied"
        )
    else:
        amount = amount_minor
    if amount <= 0:
        return 0
    common = {"customer_id": invoice.customer_id, "invoice_id": invoice.id}
    entry = ledger.post_entry(
        session,
        kind="credit_applied",
        memo=f"customer credit applied to {invoice.full_number}",
        postings=[
            ledger.debit(AccountCode.CUSTOMER_CREDIT, amount, invoice.currency,
                         customer_id=invoice.customer_id),
            ledger.credit(AccountCode.RECEIVABLE, amount, invoice.currency, **common),
        ],
        # The amount already paid is part of the key: a second application to the same
        # invoice is a different movement, a replay of the same one is not.
        idempotency_key=f"credit-applied:{invoice.id}:{invoice.amount_paid_minor}",
        source_type="invoice",
        source_id=invoice.id,
        now=moment,
    )
    became_paid = record_invoice_payment(invoice, amount, now=moment)
    record_audit(
        session, actor=actor, action="customer_credit.applied", object_type="invoice",
        object_id=invoice.full_number, amount_minor=amount, currency=invoice.currency,
        now=moment, data={"customer_id": invoice.customer_id, "entry_id": entry.id,
                          "balance_after": available - amount},
    )
    session.flush()
    if became_paid:
        get_registry().hook.invoice_paid(session=session, invoice=invoice)
    return amount


def record_invoice_payment(invoice: Invoice, amount_minor: int, *, now: datetime) -> bool:
    """Add a payment to an invoice's paid amount and status; True when it just became paid."""
    was_paid = invoice.payment_status in (PaymentStatus.PAID, PaymentStatus.OVERPAID)
    invoice.amount_paid_minor += amount_minor
    settled = invoice.amount_paid_minor + invoice.credited_minor
    if settled > invoice.payable_minor:
        invoice.payment_status = PaymentStatus.OVERPAID
    elif settled == invoice.payable_minor:
        invoice.payment_status = PaymentStatus.PAID
    elif invoice.amount_paid_minor > 0:
        invoice.payment_status = PaymentStatus.PARTIALLY_PAID
    else:
        invoice.payment_status = PaymentStatus.UNPAID
    invoice.updated_at = now
    return not was_paid and invoice.payment_status in (PaymentStatus.PAID, PaymentStatus.OVERPAID)


def apply_credit_automatically(session: Session, invoice: Invoice) -> int:
    """Use the customer's credit on a newly issued invoice (called from ``invoice_issued``).

    Only fiscal invoices with something due are paid from credit; credit notes and
    proformas are left alone. Returns the amount applied.
    """
    if (
        invoice.kind != DocumentKind.INVOICE
        or invoice.status != DocumentStatus.ISSUED
        or invoice.balance_due_minor <= 0
        or credit_balance(session, invoice.customer_id, invoice.currency) <= 0
    ):
        return 0
    return apply_credit(session, invoice, now=invoice.issued_at or resolve_now(None))


def apply_credit_to_open_invoices(
    session: Session,
    customer: Customer,
    currency: str,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> list[tuple[Invoice, int]]:
    """Use the credit on the customer's unpaid invoices, oldest due first (by hand)."""
    moment = resolve_now(now)
    code = v.currency("currency", currency)
    open_invoices = session.execute(
        select(Invoice)
        .where(
            Invoice.customer_id == customer.id,
            Invoice.currency == code,
            Invoice.kind == DocumentKind.INVOICE,
            Invoice.status == DocumentStatus.ISSUED,
            Invoice.payment_status.in_([PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_PAID]),
        )
        .order_by(Invoice.due_date, Invoice.id)
    ).scalars().all()
    applied: list[tuple[Invoice, int]] = []
    for invoice in open_invoices:
        if credit_balance(session, customer.id, code) <= 0:
            break
        amount = apply_credit(session, invoice, actor=actor, now=moment)
        if amount:
            applied.append((invoice, amount))
    return applied
