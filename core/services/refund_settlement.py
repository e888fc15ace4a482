"""Completing a refund: credit notes, allocations, ledger, payment/invoice/order state, hook.

For each invoice the refund returns money of, a credit note (storno) is issued for the
refunded gross amount and a negative allocation takes the note's total off the payment's
allocation to the invoice. Then one balanced entry:

* to the card or bank: Dr 4111 (each credit note) + Dr 419 (the payment's unallocated
  part, which was customer credit) / Cr gateway clearing or bank;
* to customer credit: Dr 4111 (each credit note) / Cr 419.

VAT rounding can make a note's total miss the refunded part by a minor unit; the unit
is a rounding discount (709), and an allocation of ``source="rounding"`` records it on
the payment, so that what the payment paid on invoices, gave back and holds as credit
still adds up to its amount (the invoice's paid amount leaves rounding rows out: the
credit note, not the payment, settled that unit). A payment's positive rounding (a
unit we kept) can be paid out by a later refund; that reverses the discount.

Everything that can refuse a settlement is in :func:`check_settleable`, which approval
runs before the gateway is called, under the same locks: once the money has moved, the
books must be able to follow.

The payment's ``refunded_minor`` and status, the invoices' ``refunded_minor`` and
payment status and an order's ``refund_state`` follow, and ``refund_completed`` fires.
"""

from __future__ import annotations

from datetime import datetime

from praho.core.errors import InvalidTransition
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice
from praho.core.models.ledger import AccountCode
from praho.core.models.orders import Order, RefundState
from praho.core.models.payments import Payment, PaymentAllocation, PaymentRecordStatus
from praho.core.models.refunds import Refund, RefundDestination, RefundStatus
from praho.core.plugins import get_registry
from praho.core.services import ledger
from praho.core.services.audit import Actor, record_audit
from praho.core.services.credit_notes import creditable_minor, issue_credit_note
from praho.core.services.payment_allocation import (
    ROUNDING,
    lock_customer,
    lock_invoice,
    refresh_payment_status,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

REASON_TEXT = {
    "customer_request": "la cererea clientului",
    "error_correction": "corectarea unei erori",
    "dispute": "dispută",
    "fraud": "fraudă",
    "service_failure": "serviciu nefurnizat",
    "duplicate": "plată dublă",
    "other": "alt motiv",
}


def rounding_held(session: Session, payment_id: int, invoice_id: int) -> int:
    """Rounding units of the payment on an invoice: positive, kept by us (709 gained them)."""
    return int(session.execute(
        select(func.coalesce(func.sum(PaymentAllocation.amount_minor), 0)).where(
            PaymentAllocation.payment_id == payment_id,
            PaymentAllocation.invoice_id == invoice_id,
            PaymentAllocation.source == ROUNDING)
    ).scalar_one())


def check_settleable(session: Session, refund: Refund) -> Payment:
    """Refuse (:class:`InvalidTransition`) a refund whose settlement would be refused.

    Locks the customer, then the payment (as :func:`settle_refund` does), so nothing
    checked here can change before the settlement that follows in the same transaction.
    Approval calls it before the gateway: money must never move when the books cannot
    record it. Returns the locked payment.
    """
    from praho.core.services.refunds import lock_payment

    lock_customer(session, refund.customer_id)
    payment = lock_payment(session, refund.payment_id)
    credit_part = int(refund.split.get("credit", 0))
    if credit_part:
        held = ledger.customer_credit_balance(session, refund.customer_id, refund.currency)
        if held < credit_part:
            raise InvalidTransition(
                f"refund {refund.reference} returns {credit_part} of customer credit but only "
                f"{held} is left (it was used meanwhile)")
    for invoice_id, part in refund.split.get("invoices", {}).items():
        invoice = session.get(Invoice, int(invoice_id))
        assert invoice is not None
        lock_invoice(session, invoice)
        gross = min(int(part), creditable_minor(invoice))
        if int(part) - gross > max(rounding_held(session, payment.id, invoice.id), 0):
            raise InvalidTransition(
                f"refund {refund.reference} returns {part} on {invoice.full_number} but only "
                f"{creditable_minor(invoice)} can still be credited there")
        if not gross:
            continue
        if invoice.kind != DocumentKind.INVOICE or invoice.status != DocumentStatus.ISSUED:
            raise InvalidTransition(f"refund {refund.reference}: {invoice.full_number} is "
                                    f"{invoice.status}; it cannot be credited")
        vetoes = [r for reasons in get_registry().hook.validate_document_action(
            session=session, document=invoice, action="credit") for r in (reasons or [])]
        if vetoes:
            raise InvalidTransition(f"refund {refund.reference}: cannot credit "
                                    f"{invoice.full_number}: " + "; ".join(vetoes))
    return payment


def settle_refund(
    session: Session, refund: Refund, *, money_account: str | None, actor: Actor | None,
    now: datetime,
) -> Refund:
    """Complete an approved refund (``money_account`` None: to the customer's credit)."""
    from praho.core.services.refunds import move_refund

    payment = check_settleable(session, refund)
    credit_part = int(refund.split.get("credit", 0))
    postings: list[ledger.Posting] = []
    notes: list[str] = []
    common = {"customer_id": refund.customer_id}
    for invoice_id, part in refund.split.get("invoices", {}).items():
        invoice = session.get(Invoice, int(invoice_id))
        assert invoice is not None
        # Beyond what can be credited only by the payment's kept rounding units (checked).
        gross = min(int(part), creditable_minor(invoice))
        credited = 0
        if gross:
            note = issue_credit_note(
                session, invoice, gross_amount_minor=gross, actor=actor, now=now,
                reason=f"restituire {refund.reference} ({REASON_TEXT[str(refund.reason)]})",
                for_refund=True)  # this refund pays the part out, just below
            notes.append(str(note.full_number))
            credited = note.total_minor
            # The credit note is what comes off the invoice and its paid amount.
            session.add(PaymentAllocation(payment=payment, invoice_id=invoice.id,
                                          amount_minor=-credited, source="refund",
                                          created_at=now))
            # The credit note posted its amount as owed to the customer (Cr 4111 on the
            # note); paying it out (or to credit) settles that line.
            postings.append(ledger.debit(AccountCode.RECEIVABLE, credited, refund.currency,
                                         invoice_id=note.id, **common))
        invoice.refunded_minor += int(part)
        if int(part) != credited:
            # VAT rounding can make a credit note for an exact gross miss by one minor unit
            # (not every gross has a net whose VAT rounds to it); the customer still gets
            # the exact amount, the unit is a rounding discount. The rounding row makes the
            # payment's allocations move by exactly what it pays out, as the ledger does.
            session.add(PaymentAllocation(payment=payment, invoice_id=invoice.id,
                                          amount_minor=credited - int(part), source=ROUNDING,
                                          created_at=now))
            postings.append(ledger.debit(AccountCode.DISCOUNTS, int(part) - credited,
                                         refund.currency))
        session.flush()
        refresh_payment_status(session, invoice, now=now)
        _order_state(session, invoice)
    if refund.destination == RefundDestination.CUSTOMER_CREDIT:
        postings.append(ledger.credit(AccountCode.CUSTOMER_CREDIT, refund.amount_minor,
                                      refund.currency, **common))
        memo = f"refund {refund.reference} to customer credit"
    else:
        assert money_account is not None
        postings.append(ledger.debit(AccountCode.CUSTOMER_CREDIT, credit_part, refund.currency,
                                     **common))
        postings.append(ledger.credit(money_account, refund.amount_minor, refund.currency,
                                      **common))
        memo = f"refund {refund.reference} of payment {payment.id}"
        payment.refunded_minor += refund.amount_minor
        payment.status = (PaymentRecordStatus.REFUNDED
                          if payment.refunded_minor >= payment.amount_minor
                          else PaymentRecordStatus.PARTIALLY_REFUNDED)
    ledger.post_entry(session, kind="refund", memo=memo, postings=postings,
                      idempotency_key=f"refund-completed:{refund.id}", source_type="refund",
                      source_id=refund.id, now=now)
    refund.completed_at = now
    move_refund(session, refund, RefundStatus.COMPLETED, actor=actor, now=now,
          note=f"credit notes: {', '.join(notes)}" if notes else None,
          data={"credit_notes": notes, "money_account": money_account})
    record_audit(session, actor=actor, action="payment.refunded", object_type="payment",
                 object_id=payment.id, amount_minor=refund.amount_minor, currency=refund.currency,
                 now=now, data={"refund": refund.reference, "destination": str(refund.destination),
                                "credit_notes": notes})
    session.flush()
    get_registry().hook.refund_completed(session=session, refund=refund)
    return refund


def _order_state(session: Session, invoice: Invoice) -> None:
    """An order follows its invoice: refunded once all of it was given back."""
    if invoice.order_id is None:
        return
    order = session.get(Order, invoice.order_id)
    if order is None:
        return
    order.refund_state = (RefundState.REFUNDED if invoice.refunded_minor >= invoice.total_minor
                          else RefundState.PARTIALLY_REFUNDED)
