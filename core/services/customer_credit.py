"""Customer credit: the balance we hold for a customer, how it grows and how it is used.

The balance is never stored: it is the credit balance of account 419 (customer credit)
for the customer and currency, a sum over journal lines. Credit is added by
overpayments (the payment layer), refunds to credit (:mod:`praho.core.services.refunds`),
downgrade proration (the paid part of a proration credit note, posted by
:mod:`praho.core.services.proration_credits`) and goodwill granted by a person with a
reason (:func:`grant_goodwill_credit`). It is used by paying invoices
(:func:`apply_credit`, through the payment layer's ``apply_customer_credit``):
automatically - the billing run's collection charges credit first, and the nightly
collection run applies credit that arrived since to the unpaid invoices
(:func:`apply_waiting_credit`) - or by hand.

Every movement takes the customer's row lock first (``SELECT ... FOR UPDATE`` on
PostgreSQL) and reads the balance under it, so two movements for one customer never
interleave and the balance never goes below zero. Every movement is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError, IdempotencyConflict, InvalidTransition, NotFound
from praho.core.models.customers import Customer
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice
from praho.core.models.ledger import AccountCode, JournalEntry, JournalLine
from praho.core.services import ledger
from praho.core.services.audit import Actor, record_audit
from praho.core.services.payments import apply_customer_credit, open_invoices
from sqlalchemy import func, select
from sqlalchemy.orm import Session


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
    (discounts granted) / Cr 419. The ``idempotency_key`` belongs to the customer: used
    again for the same customer with the same amount and currency it returns the first
    entry; with another amount or currency it raises :class:`IdempotencyConflict` and
    writes nothing. Another customer may use the same key (one outage, many grants).
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
    # Scoped to the customer: a caller's key such as "outage-2026-03-01" is naturally
    # reused for every customer the outage touched.
    key = f"goodwill:{customer.id}:{idempotency_key or uuid.uuid4().hex}"
    # Locked before the look-up: a concurrent first use is then seen (once it commits)
    # by the conflict check below, not only by post_entry, which would return it as is.
    locked = lock_customer(session, customer.id)
    existing = ledger.find_entry(session, key) or _legacy_grant(session, locked.id,
                                                                idempotency_key)
    if existing is not None:
        granted = [(line.amount_minor, line.currency) for line in existing.lines
                   if line.account_code == str(AccountCode.CUSTOMER_CREDIT)]
        if granted != [(-amount, code)]:
            raise IdempotencyConflict(
                f"idempotency key {v.show(idempotency_key)} was already used for customer "
                f"{locked.code} with a different amount or currency (entry {existing.id} of "
                f"{existing.entry_date.isoformat()}); use a new key")
        return existing
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


def _legacy_grant(
    session: Session, customer_id: int, idempotency_key: str | None
) -> JournalEntry | None:
    """A grant booked under the caller's key before keys were scoped to the customer.

    Those entries were keyed ``goodwill:<key>`` alone; a retry sent with the same key
    must still find its grant rather than grant again. Only this customer's entry counts.
    """
    if idempotency_key is None:
        return None
    entry = ledger.find_entry(session, f"goodwill:{idempotency_key}")
    if entry is None or entry.source_type != "customer" or entry.source_id != customer_id:
        return None
    return entry


def apply_credit(
    session: Session,
    invoice: Invoice,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> int:
    """Pay what is due on an issued invoice from the customer's credit, as far as it goes.

    Returns the amount applied (0 when there is no credit or nothing due). The payment
    layer does the work (:func:`praho.core.services.payments.apply_customer_credit`):
    unallocated payments are used first, other credit becomes a payment of kind
    ``credit``; it posts Dr 419 / Cr 4111, moves the invoice's payment status, fires
    ``invoice_paid`` and audits the movement. Anything but an issued invoice is refused.
    """
    if invoice.kind != DocumentKind.INVOICE or invoice.status != DocumentStatus.ISSUED:
        raise InvalidTransition(
            f"credit pays issued invoices only; {invoice.full_number or invoice.id} is "
            f"a {invoice.status} {invoice.kind}"
        )
    return apply_customer_credit(session, invoice, now=resolve_now(now), actor=actor)


def apply_waiting_credit(
    session: Session, *, actor: Actor | None = None, now: datetime | None = None
) -> list[tuple[Invoice, int]]:
    """Use every customer's credit on their unpaid invoices, oldest due first.

    The nightly collection run calls this first, so credit granted or refunded since
    pays the next invoices without anyone acting; invoices collected by the billing run
    already used it (``charge_invoice`` takes credit first), so it is applied once.
    """
    moment = resolve_now(now)
    holders = session.execute(
        select(JournalLine.customer_id, JournalLine.currency)
        .where(JournalLine.account_code == str(AccountCode.CUSTOMER_CREDIT),
               JournalLine.customer_id.is_not(None))
        .group_by(JournalLine.customer_id, JournalLine.currency)
        .having(func.sum(JournalLine.amount_minor) < 0)
        .order_by(JournalLine.customer_id, JournalLine.currency)
    ).all()
    applied: list[tuple[Invoice, int]] = []
    for customer_id, currency in holders:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        applied += apply_credit_to_open_invoices(session, customer, currency, actor=actor,
                                                 now=moment)
    return applied


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
    applied: list[tuple[Invoice, int]] = []
    for invoice in open_invoices(session, customer.id, code):
        if credit_balance(session, customer.id, code) <= 0:
            break
        amount = apply_credit(session, invoice, actor=actor, now=moment)
        if amount:
            applied.append((invoice, amount))
    return applied
