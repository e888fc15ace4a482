"""Refunds: request, review, approve, send to the gateway, complete (see docs/collections.md).

The workflow is the transition table of :mod:`praho.core.models.refunds`; every change
goes through :func:`move_refund`, which checks the table, writes the history row and the
audit event. The amount is reserved when the refund is created, under the payment's
row lock, so what remains refundable can never go below zero, also when two refunds
race. Approval sends the refund: to the gateway (our reference is its idempotency key,
so sending again never refunds twice), to the customer's credit balance at once, or -
for a bank transfer - it waits for the payout to be recorded by hand. Everything that
could refuse the completion is checked before the gateway is called
(:func:`praho.core.services.refund_settlement.check_settleable`). Completion is
:func:`praho.core.services.refund_settlement.settle_refund`.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime
from typing import Any

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now
from praho.core.errors import FieldError, InvalidTransition, NotFound, ValidationFailed
from praho.core.models.payments import Payment, PaymentAllocation, PaymentKind
from praho.core.models.refunds import (
    REFUND_TRANSITIONS,
    RESERVING_STATUSES,
    Refund,
    RefundDestination,
    RefundEvent,
    RefundReason,
    RefundStatus,
)
from praho.core.payments.gateway import (
    GatewayError,
    GatewayRefused,
    GatewayResult,
    RefundRequest,
    TransactionStatus,
    TransactionType,
)
from praho.core.services.audit import Actor, record_audit
from praho.core.services.credit_notes import creditable_minor
from praho.core.services.payments import CREDIT_GATEWAY_ID, get_gateway
from sqlalchemy import func, select
from sqlalchemy.orm import Session

R = RefundStatus
_ALPHABET = string.ascii_uppercase + string.digits
NOTE_KINDS = ("internal", "customer", "gateway")


def new_reference(session: Session, now: datetime) -> str:
    """A fresh ``REF-YYYYMMDD-XXXXXXXX`` (8 random capitals and digits), unused so far."""
    while True:
        suffix = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        reference = f"REF-{business_date(now):%Y%m%d}-{suffix}"
        if session.execute(select(Refund.id).where(Refund.reference == reference)).first() is None:
            return reference


def get_refund(session: Session, reference: str, *, lock: bool = False) -> Refund:
    """A refund by its reference (``lock`` takes its row lock)."""
    query = select(Refund).where(Refund.reference == reference)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    refund = session.execute(query).scalar_one_or_none()
    if refund is None:
        raise NotFound(f"no refund {reference}")
    return refund


def lock_payment(session: Session, payment_id: int) -> Payment:
    """The payment with its row lock: refunds of one payment are created one at a time."""
    payment = session.execute(
        select(Payment).where(Payment.id == payment_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment


OPEN_STATUSES = (R.PENDING, R.PROCESSING, R.APPROVED)


def reserved_minor(session: Session, payment_id: int) -> int:
    """What refunds of the payment hold (pending to approved) or paid out (completed).

    A completed refund to customer credit gave nothing back: the amount became credit
    (unallocated on the payment again), which a later refund may still pay out.
    """
    return int(session.execute(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.payment_id == payment_id, Refund.status.in_(RESERVING_STATUSES),
            (Refund.status != R.COMPLETED)
            | (Refund.destination == RefundDestination.ORIGINAL))
    ).scalar_one())


def refundable_minor(session: Session, payment: Payment) -> int:
    """What can still be refunded of a payment (a lost dispute already gave some back)."""
    held = reserved_minor(session, payment.id) + charged_back_minor(session, payment)
    return max(payment.amount_minor - held, 0)


def charged_back_minor(session: Session, payment: Payment) -> int:
    """What lost disputes took back of a payment (the gateway returned it to the card)."""
    from praho.core.models.disputes import Dispute, DisputeStatus

    if not payment.gateway_id or not payment.gateway_reference:
        return 0
    lost = session.execute(
        select(func.coalesce(func.sum(Dispute.amount_minor), 0)).where(
            Dispute.gateway_id == payment.gateway_id,
            Dispute.payment_reference == payment.gateway_reference,
            Dispute.status == DisputeStatus.LOST,
            Dispute.currency == payment.currency,
        )
    ).scalar_one()
    return min(int(lost), payment.amount_minor)


def reserved_on_invoice(session: Session, invoice_id: int) -> int:
    """What refunds not completed yet will credit on an invoice (held from other credits)."""
    held = 0
    for split in session.execute(
        select(Refund.split).where(Refund.status.in_(OPEN_STATUSES))
    ).scalars():
        held += int((split or {}).get("invoices", {}).get(str(invoice_id), 0))
    return held


def _reserved_parts(session: Session, payment_id: int) -> tuple[int, dict[int, int]]:
    """The parts held by refunds not completed yet (completed ones are in the payment's
    allocations, refunded amount and the invoices' credit notes already)."""
    credit = 0
    invoices: dict[int, int] = {}
    for refund in session.execute(select(Refund).where(
            Refund.payment_id == payment_id, Refund.status.in_(OPEN_STATUSES))).scalars():
        credit += int(refund.split.get("credit", 0))
        for invoice_id, part in refund.split.get("invoices", {}).items():
            invoices[int(invoice_id)] = invoices.get(int(invoice_id), 0) + int(part)
    return credit, invoices


def credit_held_by_refunds(session: Session, *, customer_id: int | None = None,
                           currency: str | None = None, payment_id: int | None = None) -> int:
    """Customer credit that open refunds (of a customer in a currency, or of one payment)
    will pay out: not available to invoices meanwhile."""
    query = select(Refund.split).where(Refund.status.in_(OPEN_STATUSES))
    if customer_id is not None:
        query = query.where(Refund.customer_id == customer_id, Refund.currency == currency)
    if payment_id is not None:
        query = query.where(Refund.payment_id == payment_id)
    return sum(int((split or {}).get("credit", 0)) for split in session.execute(query).scalars())


def plan_split(
    session: Session, payment: Payment, amount: int, destination: RefundDestination
) -> dict[str, Any]:
    """Split a refund: the payment's unallocated part (customer credit) first, then its
    invoices, oldest allocation first, each within what can still be credited on it and
    the VAT rounding units the payment kept on it (see refund_settlement)."""
    from praho.core.models.invoices import Invoice
    from praho.core.services.payment_allocation import ROUNDING

    reserved_credit, reserved_invoices = _reserved_parts(session, payment.id)
    allocated: dict[int, int] = {}
    rounding: dict[int, int] = {}
    for row in session.execute(select(PaymentAllocation).where(
            PaymentAllocation.payment_id == payment.id).order_by(PaymentAllocation.id)).scalars():
        allocated[row.invoice_id] = allocated.get(row.invoice_id, 0) + row.amount_minor
        if row.source == ROUNDING:
            rounding[row.invoice_id] = rounding.get(row.invoice_id, 0) + row.amount_minor
    left = amount
    split: dict[str, Any] = {"credit": 0, "invoices": {}}
    if destination == RefundDestination.ORIGINAL:
        # As Payment.unallocated_minor, from rows read now (the relationship may be stale).
        unallocated = (payment.amount_minor - sum(allocated.values()) - payment.refunded_minor
                       - reserved_credit)
        split["credit"] = min(left, max(unallocated, 0))
        left -= split["credit"]
    for invoice_id, net in allocated.items():
        if left == 0:
            break
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        # A unit kept as rounding is paid out without a credit note (the discount reverses).
        room = min(net - reserved_invoices.get(invoice_id, 0),
                   creditable_minor(invoice) + max(rounding.get(invoice_id, 0), 0)
                   - reserved_invoices.get(invoice_id, 0))
        part = min(left, max(room, 0))
        if part:
            split["invoices"][str(invoice_id)] = part
            left -= part
    if left:
        raise InvalidTransition(
            f"{left} minor units of the refund are neither unallocated on payment {payment.id} "
            "nor creditable on its invoices"
            + ("; a refund to credit can only return invoiced amounts"
               if destination == RefundDestination.CUSTOMER_CREDIT else ""))
    return split


def create_refund(
    session: Session,
    payment: Payment,
    *,
    reason: RefundReason | str,
    amount_minor: int | None = None,
    destination: RefundDestination | str = RefundDestination.ORIGINAL,
    internal_note: str | None = None,
    customer_note: str | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Refund:
    """Request a refund of (part of) a payment; ``amount_minor`` None means all that is left.

    Refused, with nothing written, when the amount exceeds what remains refundable
    (counting refunds still pending), or when the payment cannot go back that way.
    """
    moment = resolve_now(now)
    errors = v.Collector()
    why = errors.check(v.choice, "reason", reason, RefundReason)
    where = errors.check(v.choice, "destination", destination, RefundDestination)
    internal = errors.check(v.text, "internal_note", internal_note, max_length=2000,
                            required=False)
    public = errors.check(v.text, "customer_note", customer_note, max_length=2000,
                          required=False)
    if amount_minor is not None:
        amount = errors.check(v.amount_minor, "amount_minor", amount_minor)
        if amount == 0:
            errors.errors.append(FieldError("amount_minor", "must be positive"))
    if payment.kind == PaymentKind.CREDIT and where == RefundDestination.ORIGINAL:
        errors.errors.append(FieldError(
            "destination", "the payment was made from customer credit; refund it to credit"))
    errors.raise_if_any()
    payment = lock_payment(session, payment.id)
    available = refundable_minor(session, payment)
    amount = available if amount_minor is None else amount_minor
    if amount <= 0 or amount > available:
        raise ValidationFailed([FieldError(
            "amount_minor", f"{amount} exceeds the {available} {payment.currency} minor units "
                            f"that remain refundable on payment {payment.id}")])
    destination_value = RefundDestination(where)
    split = plan_split(session, payment, amount, destination_value)
    refund = Refund(
        reference=new_reference(session, moment), payment_id=payment.id,
        customer_id=payment.customer_id, amount_minor=amount, currency=payment.currency,
        reason=RefundReason(why), destination=destination_value, status=R.PENDING, split=split,
        internal_note=internal, customer_note=public, gateway_id=payment.gateway_id,
        requested_by=str(actor) if actor else None, created_at=moment, updated_at=moment,
    )
    session.add(refund)
    session.flush()
    _history(session, refund, None, R.PENDING, actor=actor, note=internal, now=moment,
             data={"amount_minor": amount, "reason": str(why), "destination": str(where),
                   "split": split})
    record_audit(session, actor=actor, action="refund.requested", object_type="refund",
                 object_id=refund.reference, amount_minor=amount, currency=refund.currency,
                 now=moment, data={"payment_id": payment.id, "reason": str(why),
                                   "destination": str(where), "split": split})
    return refund


def _history(session: Session, refund: Refund, before: RefundStatus | None,
             after: RefundStatus | None, *, actor: Actor | None, note: str | None,
             now: datetime, data: dict[str, Any] | None = None) -> RefundEvent:
    event = RefundEvent(refund_id=refund.id, occurred_at=now,
                        from_status=str(before) if before else None,
                        to_status=str(after) if after else None,
                        actor=str(actor) if actor else None, note=note[:500] if note else None,
                        data=data or {})
    session.add(event)
    session.flush()
    return event


def move_refund(session: Session, refund: Refund, to: RefundStatus, *, actor: Actor | None,
          note: str | None, now: datetime, data: dict[str, Any] | None = None) -> Refund:
    """The one place a refund changes status: check the table, history row, audit."""
    current = RefundStatus(refund.status)
    if to not in REFUND_TRANSITIONS[current]:
        allowed = ", ".join(sorted(REFUND_TRANSITIONS[current])) or "nothing (final status)"
        raise InvalidTransition(f"refund {refund.reference} is {current}; it cannot become {to} "
                                f"(allowed: {allowed})")
    refund.status = to
    refund.updated_at = now
    _history(session, refund, current, to, actor=actor, note=note, now=now, data=data)
    record_audit(session, actor=actor, action=f"refund.{to}", object_type="refund",
                 object_id=refund.reference, amount_minor=refund.amount_minor,
                 currency=refund.currency, now=now, data={"from": str(current), "note": note})
    return refund


def _note(field: str, note: str | None, *, required: bool) -> str | None:
    return v.text(field, note, max_length=2000, required=required)


def start_review(session: Session, refund: Refund, *, actor: Actor | None = None,
                 note: str | None = None, now: datetime | None = None) -> Refund:
    """Finance picks the request up: pending -> processing."""
    text = _note("note", note, required=False)
    refund = get_refund(session, refund.reference, lock=True)
    return move_refund(session, refund, R.PROCESSING, actor=actor, note=text, now=resolve_now(now))


def reject_refund(session: Session, refund: Refund, *, note: str, actor: Actor | None = None,
                  now: datetime | None = None) -> Refund:
    """Refuse the request, with the reason; the reserved amount is released."""
    text = _note("note", note, required=True)
    refund = get_refund(session, refund.reference, lock=True)
    return move_refund(session, refund, R.REJECTED, actor=actor, note=text, now=resolve_now(now))


def cancel_refund(session: Session, refund: Refund, *, note: str, actor: Actor | None = None,
                  now: datetime | None = None) -> Refund:
    """Withdraw a refund not sent to the gateway yet; the reserved amount is released."""
    text = _note("note", note, required=True)
    refund = get_refund(session, refund.reference, lock=True)
    if refund.status == R.APPROVED and refund.gateway_status is not None:
        raise InvalidTransition(f"refund {refund.reference} was already sent to the gateway "
                                f"({refund.gateway_status}); it cannot be cancelled")
    return move_refund(session, refund, R.CANCELLED, actor=actor, note=text, now=resolve_now(now))


def add_note(session: Session, refund: Refund, kind: str, note: str, *,
             actor: Actor | None = None, now: datetime | None = None) -> Refund:
    """Append an internal, customer or gateway note (the history keeps each one)."""
    which = v.choice("kind", kind, NOTE_KINDS)
    text = _note("note", note, required=True)
    assert text is not None
    moment = resolve_now(now)
    refund = get_refund(session, refund.reference, lock=True)
    column = f"{which}_note"
    previous = getattr(refund, column)
    setattr(refund, column, f"{previous}\n{text}" if previous else text)
    refund.updated_at = moment
    _history(session, refund, None, None, actor=actor, note=text, now=moment,
             data={"note_kind": which})
    return refund


def approve_refund(session: Session, refund: Refund, *, actor: Actor | None = None,
                   note: str | None = None, now: datetime | None = None) -> Refund:
    """Approve (processing -> approved) and send it: gateway, credit, or wait for the bank."""
    moment = resolve_now(now)
    text = _note("note", note, required=False)
    refund = get_refund(session, refund.reference, lock=True)
    move_refund(session, refund, R.APPROVED, actor=actor, note=text, now=moment)
    refund.approved_by = str(actor) if actor else None
    return send_refund(session, refund, actor=actor, now=moment)


def send_refund(session: Session, refund: Refund, *, actor: Actor | None = None,
                now: datetime | None = None) -> Refund:
    """Carry out an approved refund; calling it again after an unknown outcome is safe.

    Refused (:class:`InvalidTransition`) before anything is sent when the books could not
    record the refund (its credit was used, an invoice can no longer be credited).
    """
    from praho.core.services.refund_settlement import check_settleable, settle_refund

    moment = resolve_now(now)
    if refund.status != R.APPROVED:
        raise InvalidTransition(f"refund {refund.reference} is {refund.status}, not approved")
    # Under the customer's and payment's locks, kept until the settlement below.
    payment = check_settleable(session, refund)
    if refund.destination == RefundDestination.CUSTOMER_CREDIT:
        return settle_refund(session, refund, money_account=None, actor=actor, now=moment)
    if payment.gateway_id in (None, CREDIT_GATEWAY_ID) or not payment.gateway_reference:
        return refund  # a bank transfer: finance pays it out and records it (record_payout)
    request = RefundRequest(
        idempotency_key=refund.reference, gateway_reference=payment.gateway_reference,
        amount_minor=refund.amount_minor, currency=refund.currency, reason=str(refund.reason),
        metadata={"refund": refund.reference, "payment": str(payment.id)},
    )
    try:
        result = get_gateway(payment.gateway_id).refund(request)
    except GatewayRefused as exc:
        result = GatewayResult(TransactionStatus.ERROR, TransactionType.REFUND, error_code=exc.code,
                               error_message=exc.message)
    except GatewayError as exc:
        refund.gateway_status = "unknown"
        add_note(session, refund, "gateway", v.external_text(f"{exc.code}: {exc.message}"),
                 actor=actor, now=moment)
        return refund
    return apply_refund_result(session, refund, result, actor=actor, now=moment)


def apply_refund_result(session: Session, refund: Refund, result: GatewayResult, *,
                        actor: Actor | None = None, now: datetime | None = None) -> Refund:
    """Record the gateway's answer (call, webhook or query); safe to repeat."""
    from praho.core.services.payments import clearing_account
    from praho.core.services.refund_settlement import settle_refund

    moment = resolve_now(now)
    refund = get_refund(session, refund.reference, lock=True)
    if refund.status != R.APPROVED or result.status == TransactionStatus.UNDEFINED:
        return refund
    if result.gateway_reference:
        refund.gateway_reference = v.external_text(result.gateway_reference, max_length=255)
    refund.gateway_status = str(result.status).lower()
    if result.status == TransactionStatus.PENDING:
        return refund
    if result.status == TransactionStatus.PROCESSED:
        assert refund.gateway_id is not None
        return settle_refund(session, refund, money_account=clearing_account(
            session, refund.gateway_id), actor=actor, now=moment)
    message = v.external_text(f"{result.error_code}: {result.error_message}")
    add_note(session, refund, "gateway", message, actor=actor, now=moment)
    return move_refund(session, refund, R.FAILED, actor=actor, note=message, now=moment)


def record_payout(session: Session, refund: Refund, *, bank_reference: str,
                  actor: Actor | None = None, now: datetime | None = None) -> Refund:
    """Finance paid an approved bank-transfer refund out by hand: complete it."""
    from praho.core.models.ledger import AccountCode
    from praho.core.services.refund_settlement import settle_refund

    moment = resolve_now(now)
    reference = v.text("bank_reference", bank_reference, max_length=100)
    refund = get_refund(session, refund.reference, lock=True)
    if refund.status != R.APPROVED or refund.gateway_status is not None:
        raise InvalidTransition(f"refund {refund.reference} is not an approved bank refund")
    refund.bank_reference = reference
    return settle_refund(session, refund, money_account=str(AccountCode.BANK), actor=actor,
                         now=moment)
