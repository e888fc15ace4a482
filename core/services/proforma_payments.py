"""A paid proforma becomes a fiscal invoice: Romanian practice for customers who pay first.

A proforma is not a fiscal document and cannot carry payments. When its money arrives
(a bank transfer, usually), :func:`pay_proforma` issues the fiscal invoice
(:func:`praho.core.services.credit_notes.convert_proforma`, re-rated at the invoice's own
tax point) and records the transfer against that invoice, in one unit: an invalid
transfer leaves the proforma unconverted. Recording the same transfer again returns the
first result; a bank reference already recorded for anything else is refused before the
invoice is issued, so a mistyped reference never turns a second proforma into an unpaid
invoice.
"""

from __future__ import annotations

from datetime import date, datetime

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now
from praho.core.errors import FieldError, InvalidTransition
from praho.core.models.customers import Customer
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice
from praho.core.models.payments import Payment
from praho.core.services.audit import Actor
from praho.core.services.credit_notes import convert_proforma
from praho.core.services.payment_allocation import lock_customer
from praho.core.services.payment_receipts import bank_transfer_by_reference
from praho.core.services.payments import record_bank_transfer
from sqlalchemy.orm import Session


def pay_proforma(
    session: Session,
    proforma: Invoice,
    *,
    bank_reference: str,
    received_on: date | str,
    amount_minor: int | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> tuple[Invoice, Payment]:
    """Issue the invoice for a paid proforma and record the transfer against it.

    ``amount_minor`` defaults to the proforma's total (what the customer was asked to
    pay). When VAT was re-rated between proforma and invoice, the invoice's balance is
    paid up to that amount; a surplus becomes customer credit, a shortfall stays due.

    :raises FieldError: ``bank_reference`` was already recorded and that payment went
        elsewhere than this proforma's invoice (nothing is written, no number is used).
    """
    moment = resolve_now(now)
    if proforma.kind != DocumentKind.PROFORMA or proforma.status != DocumentStatus.ISSUED:
        raise InvalidTransition(f"{proforma.full_number or proforma.id} is not an issued proforma")
    errors = v.Collector()
    reference = errors.check(v.text, "bank_reference", bank_reference, max_length=100)
    day = errors.check(v.iso_date, "received_on", received_on, latest=business_date(moment))
    amount = proforma.total_minor if amount_minor is None else errors.check(
        v.amount_minor, "amount_minor", amount_minor)
    if amount is not None and amount <= 0:
        errors.errors.append(FieldError("amount_minor", "must be positive"))
    errors.raise_if_any()
    with session.begin_nested():
        # Locked as record_bank_transfer does, so the same reference entered twice at once
        # is found by the second. Checked before converting: once the invoice is issued its
        # number is used and the document cannot be taken back.
        lock_customer(session, proforma.customer_id)
        existing = bank_transfer_by_reference(session, reference)
        if existing is not None and not _pays_converted_invoice(existing, proforma):
            raise FieldError("bank_reference", f"{reference} was already recorded (payment "
                                               f"{existing.id}) and did not pay this proforma; "
                                               "check the reference on the bank statement")
        # Taxed on the day the money arrived, not the day it was entered here.
        invoice = convert_proforma(session, proforma, actor=actor, now=moment, tax_point=day)
        customer = session.get(Customer, invoice.customer_id)
        assert customer is not None
        applied = min(amount, invoice.balance_due_minor)
        allocations = [(invoice, applied)] if applied > 0 else []
        payment = record_bank_transfer(
            session, customer=customer, amount_minor=amount, currency=invoice.currency,
            bank_reference=reference, received_on=day, allocations=allocations,
            note=f"proforma {proforma.full_number}", actor=actor, now=moment,
        )
    return invoice, payment


def _pays_converted_invoice(payment: Payment, proforma: Invoice) -> bool:
    """Whether ``payment`` went to the invoice this proforma became (a retry, not a reuse)."""
    invoice_id = proforma.converted_to_id
    return invoice_id is not None and any(a.invoice_id == invoice_id for a in payment.allocations)
