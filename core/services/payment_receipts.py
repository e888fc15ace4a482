"""Recording money received outside a payment attempt: bank transfers, gateway payments.

A bank transfer is keyed by its bank reference, a gateway payment by the gateway's
reference (both unique in the database): recording the same money twice returns the
first record. Both pay open invoices oldest first unless told which, and the rest
becomes customer credit (see :mod:`praho.core.services.payment_allocation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now, start_of_business_day
from praho.core.errors import FieldError
from praho.core.models.customers import Customer
from praho.core.models.invoices import Invoice
from praho.core.models.ledger import AccountCode
from praho.core.models.payments import Payment, PaymentKind
from praho.core.services.audit import Actor
from praho.core.services.payment_allocation import (
    Allocation,
    auto_allocations,
    check_allocations,
    lock_customer,
    lock_invoice,
    receive_payment,
)
from praho.core.services.payment_gateways import (
    check_gateway_id,
    clearing_account,
    payment_by_gateway_reference,
)
from sqlalchemy import select
from sqlalchemy.orm import Session


def bank_transfer_by_reference(session: Session, bank_reference: str) -> Payment | None:
    """The bank transfer recorded under ``bank_reference``, if any (references are unique)."""
    return session.execute(select(Payment).where(
        Payment.kind == PaymentKind.BANK_TRANSFER, Payment.bank_reference == bank_reference)
    ).scalar_one_or_none()


def record_bank_transfer(
    session: Session, *, customer: Customer, amount_minor: int, currency: str,
    bank_reference: str, received_on: date | str, allocations: Sequence[Allocation] | None = None,
    note: str | None = None, actor: Actor | None = None, now: datetime | None = None,
) -> Payment:
    """Record a bank transfer seen on the statement (back office).

    Without ``allocations`` it pays the customer's open invoices oldest first; the rest
    becomes customer credit. The bank reference is the key: recording the same transfer
    again returns the first record; the same reference with other details is refused.
    """
    moment = resolve_now(now)
    errors = v.Collector()
    amount = errors.check(v.amount_minor, "amount_minor", amount_minor)
    if amount is not None and amount <= 0:
        errors.errors.append(FieldError("amount_minor", "must be positive"))
    errors.check(v.currency, "currency", currency)
    reference = errors.check(v.text, "bank_reference", bank_reference, max_length=100)
    day = errors.check(v.iso_date, "received_on", received_on, latest=business_date(moment))
    note_text = errors.check(v.text, "note", note, max_length=300, required=False)
    errors.raise_if_any()
    # Every allocation path locks the customer first, so the balances read below hold
    # (and the same transfer recorded twice at once is found by the second).
    lock_customer(session, customer.id)
    existing = bank_transfer_by_reference(session, reference)
    if existing is not None:
        if (existing.customer_id, existing.amount_minor, existing.currency) == (
                customer.id, amount_minor, currency):
            return existing
        raise FieldError("bank_reference", f"{reference} was already recorded (payment "
                                           f"{existing.id}) with other details")
    if allocations is None:
        chosen = auto_allocations(session, customer.id, currency, amount_minor)
    else:
        for invoice, _part in allocations:
            lock_invoice(session, invoice)
        chosen = check_allocations(session, customer.id, currency, amount_minor, allocations)
    return receive_payment(
        session, customer_id=customer.id, kind=PaymentKind.BANK_TRANSFER, amount_minor=amount_minor,
        currency=currency, received_at=start_of_business_day(day), allocations=chosen,
        money_account=AccountCode.BANK, bank_reference=reference, note=note_text, actor=actor,
        now=moment,
    )


def record_gateway_payment(
    session: Session, *, customer: Customer, gateway_id: str, gateway_reference: str,
    amount_minor: int, currency: str, fee_minor: int = 0, invoice: Invoice | None = None,
    kind: str = PaymentKind.CARD, received_at: datetime | None = None,
    actor: Actor | None = None, now: datetime | None = None,
) -> Payment:
    """Record money a gateway received that no attempt of ours asked for (a checkout the
    customer completed, a PayPal order captured on-session); used by webhook handlers.

    Pays ``invoice`` if given (as much as is due), else the oldest open invoices; the
    rest is credit. Idempotent by (gateway, reference): the same payment reported again
    returns the first record; the same reference with other details is refused.
    """
    moment = resolve_now(now)
    errors = v.Collector()
    errors.check(check_gateway_id, "gateway_id", gateway_id)
    reference = errors.check(v.text, "gateway_reference", gateway_reference, max_length=255)
    amount = errors.check(v.amount_minor, "amount_minor", amount_minor)
    if amount is not None and amount <= 0:
        errors.errors.append(FieldError("amount_minor", "must be positive"))
    fee = errors.check(v.amount_minor, "fee_minor", fee_minor)
    if amount is not None and fee is not None and fee > amount:
        errors.errors.append(FieldError("fee_minor", "is more than the amount"))
    errors.check(v.currency, "currency", currency)
    errors.check(v.text, "kind", kind, max_length=20)
    if invoice is not None and invoice.customer_id != customer.id:
        errors.errors.append(FieldError("invoice", f"{invoice.full_number} belongs to another "
                                                   "customer"))
    errors.raise_if_any()
    lock_customer(session, customer.id)
    existing = payment_by_gateway_reference(session, gateway_id, reference)
    if existing is not None:
        if (existing.customer_id, existing.amount_minor, existing.currency) == (
                customer.id, amount_minor, currency):
            return existing
        raise FieldError("gateway_reference", f"{reference} was already recorded (payment "
                                              f"{existing.id}) with other details")
    if invoice is not None:
        lock_invoice(session, invoice)
        due = invoice.balance_due_minor if invoice.currency == currency else 0
        chosen = check_allocations(session, customer.id, currency, amount_minor,
                                   [(invoice, min(amount_minor, due))]) if due > 0 else []
    else:
        chosen = auto_allocations(session, customer.id, currency, amount_minor)
    return receive_payment(
        session, customer_id=customer.id, kind=kind, amount_minor=amount_minor, currency=currency,
        received_at=received_at or moment, allocations=chosen,
        money_account=clearing_account(session, gateway_id), fee_minor=fee_minor,
        gateway_id=gateway_id, gateway_reference=reference, actor=actor, now=moment,
    )
