"""Money received: recording it, allocating it to invoices, and customer credit.

Every receipt posts one balanced entry: the money side (gateway clearing less the fee,
the fee expense, or the bank) against the receivable of each invoice it pays; what pays
no invoice is customer credit (account 419). Customer credit is later used to pay
invoices (Dr 419 / Cr 4111). An invoice's payment status is derived from the sum of its
allocations. Customer and invoice rows are locked (PostgreSQL) in that order, so two
workers can never spend the same credit or over-allocate one invoice. Credit that open
refunds hold (they pay it out once approved) is not available to invoices.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now
from praho.core.errors import FieldError, InvalidTransition
from praho.core.models.customers import Customer
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice, PaymentStatus
from praho.core.models.ledger import AccountCode
from praho.core.models.payments import Payment, PaymentAllocation, PaymentKind
from praho.core.plugins import get_registry
from praho.core.services import ledger
from praho.core.services.audit import Actor, record_audit
from sqlalchemy import func, select
from sqlalchemy.orm import Session

Allocation = tuple[Invoice, int]
_SETTLED = (PaymentStatus.PAID, PaymentStatus.OVERPAID)
# The allocation source of a refund's VAT rounding unit (see refund_settlement): part of
# the payment's arithmetic, not of what the invoice was paid.
ROUNDING = "rounding"
# The allocation source of a payment taken back by a lost dispute (disputes.charge_back).
CHARGEBACK = "chargeback"


def lock_customer(session: Session, customer_id: int) -> Customer:
    """Lock the customer row (PostgreSQL): serialises every use of the customer's credit."""
    customer = session.execute(
        select(Customer).where(Customer.id == customer_id).with_for_update()
    ).scalar_one()
    return customer


def lock_invoice(session: Session, invoice: Invoice) -> Invoice:
    """Lock the invoice row and reload its payment columns (another worker may have paid it)."""
    # One statement: lock and reload (pending changes were autoflushed just before). The
    # row must be fetched: populate_existing refreshes the object only as rows are read.
    session.execute(select(Invoice).where(Invoice.id == invoice.id).with_for_update()
                    .execution_options(populate_existing=True)).scalar_one()
    return invoice


def refresh_payment_status(session: Session, invoice: Invoice, *, now: datetime) -> Invoice:
    """Recompute ``amount_paid_minor`` and ``payment_status`` from the allocations.

    Rounding rows are left out: the credit note settled that unit, the discount paid it.
    Fires ``invoice_paid`` when the document becomes paid (or overpaid).
    """
    paid = int(session.execute(
        select(func.coalesce(func.sum(PaymentAllocation.amount_minor), 0))
        .where(PaymentAllocation.invoice_id == invoice.id,
               PaymentAllocation.source != ROUNDING)
    ).scalar_one())
    owed = invoice.payable_minor - invoice.credited_minor
    if paid > owed:
        status = PaymentStatus.OVERPAID
    elif paid == owed:
        status = PaymentStatus.PAID
    elif paid > 0:
        status = PaymentStatus.PARTIALLY_PAID
    else:
        status = PaymentStatus.UNPAID
    before = invoice.payment_status
    if (paid, status) != (invoice.amount_paid_minor, before):
        invoice.amount_paid_minor = paid
        invoice.payment_status = status
        invoice.updated_at = now
        session.flush()
    if status in _SETTLED and before not in _SETTLED:
        get_registry().hook.invoice_paid(session=session, invoice=invoice)
    return invoice


def open_invoices(session: Session, customer_id: int, currency: str) -> list[Invoice]:
    """The customer's issued invoices in ``currency`` with something left to pay, oldest first."""
    invoices = session.execute(
        select(Invoice).where(
            Invoice.customer_id == customer_id,
            Invoice.currency == currency,
            Invoice.kind == DocumentKind.INVOICE,
            Invoice.status == DocumentStatus.ISSUED,
            Invoice.payment_status.in_([PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_PAID]),
        ).order_by(Invoice.due_date, Invoice.issue_date, Invoice.id)
    ).scalars().all()
    return [i for i in invoices if i.balance_due_minor > 0]


def check_payable(field: str, invoice: Invoice, customer_id: int, currency: str) -> None:
    """Refuse an invoice a payment of this customer and currency cannot pay."""
    if invoice.kind != DocumentKind.INVOICE:
        raise FieldError(field, f"{invoice.full_number or invoice.id} is a {invoice.kind}; only "
                                "invoices take payments (convert a proforma first; money received "
                                "for it stays customer credit until then)")
    if invoice.status != DocumentStatus.ISSUED:
        raise FieldError(field, f"{invoice.full_number or invoice.id} is {invoice.status}")
    if invoice.customer_id != customer_id:
        raise FieldError(field, f"{invoice.full_number} belongs to another customer")
    if invoice.currency != currency:
        raise FieldError(field, f"{invoice.full_number} is in {invoice.currency}, not {currency}")


def auto_allocations(session: Session, customer_id: int, currency: str,
                     amount: int) -> list[Allocation]:
    """Spread ``amount`` over the customer's open invoices, oldest first."""
    result: list[Allocation] = []
    left = amount
    for invoice in open_invoices(session, customer_id, currency):
        if left <= 0:
            break
        part = min(left, invoice.balance_due_minor)
        result.append((invoice, part))
        left -= part
    return result


def check_allocations(session: Session, customer_id: int, currency: str, amount: int,
                      allocations: Sequence[Allocation]) -> list[Allocation]:
    """Validate explicit allocations: payable invoices, positive parts within what is due
    and, together, within the amount. Raises :class:`ValidationFailed` naming each one."""
    errors = v.Collector()
    seen: set[int] = set()
    total = 0
    for index, item in enumerate(allocations):
        field = f"allocations[{index}]"
        invoice, part = item
        with errors.guard():
            check_payable(f"{field}.invoice", invoice, customer_id, currency)
            if invoice.id in seen:
                raise FieldError(f"{field}.invoice", f"{invoice.full_number} is listed twice")
            seen.add(invoice.id)
            v.amount_minor(f"{field}.amount_minor", part)
            if part <= 0:
                raise FieldError(f"{field}.amount_minor", "must be positive")
            if part > invoice.balance_due_minor:
                raise FieldError(f"{field}.amount_minor", f"{part} is more than the "
                                 f"{invoice.balance_due_minor} due on {invoice.full_number}")
            total += part
    if not errors.errors and total > amount:
        errors.errors.append(FieldError("allocations", f"allocate {total} but only {amount} "
                                                       "was received"))
    errors.raise_if_any()
    return list(allocations)


def receive_payment(
    session: Session, *, customer_id: int, kind: str, amount_minor: int, currency: str,
    received_at: datetime, allocations: Sequence[Allocation], money_account: str,
    fee_minor: int = 0, gateway_id: str | None = None, gateway_reference: str | None = None,
    attempt_id: int | None = None, bank_reference: str | None = None, note: str | None = None,
    actor: Actor | None = None, now: datetime,
) -> Payment:
    """Write a payment with its allocations and its ledger entry (inputs already validated,
    invoices locked). Whatever pays no invoice becomes customer credit."""
    payment = Payment(
        customer_id=customer_id, kind=kind, amount_minor=amount_minor, currency=currency,
        fee_minor=fee_minor, gateway_id=gateway_id, gateway_reference=gateway_reference,
        attempt_id=attempt_id, bank_reference=bank_reference, received_at=received_at,
        recorded_by=str(actor) if actor else None, note=note, created_at=now,
    )
    session.add(payment)
    session.flush()
    for invoice, part in allocations:
        session.add(PaymentAllocation(payment=payment, invoice_id=invoice.id, amount_minor=part,
                                      source="receipt", created_at=now))
    session.flush()
    allocated = sum(part for _invoice, part in allocations)
    postings = [ledger.debit(money_account, amount_minor - fee_minor, currency,
                             customer_id=customer_id),
                ledger.debit(AccountCode.GATEWAY_FEES, fee_minor, currency)]
    postings += [ledger.credit(AccountCode.RECEIVABLE, part, currency, customer_id=customer_id,
                               invoice_id=invoice.id) for invoice, part in allocations]
    postings.append(ledger.credit(AccountCode.CUSTOMER_CREDIT, amount_minor - allocated, currency,
                                  customer_id=customer_id))
    ledger.post_entry(session, kind=f"payment_{kind}"[:40], memo=_memo(payment, allocations),
                      postings=postings, idempotency_key=f"payment-received:{payment.id}",
                      source_type="payment", source_id=payment.id,
                      entry_date=business_date(received_at), now=now)
    for invoice, _part in allocations:
        refresh_payment_status(session, invoice, now=now)
    record_audit(session, actor=actor, action=f"payment.{kind}.received", object_type="payment",
                 object_id=payment.id, amount_minor=amount_minor, currency=currency, now=now,
                 data={"customer_id": customer_id, "fee_minor": fee_minor,
                       "gateway": gateway_id, "reference": gateway_reference or bank_reference,
                       "allocations": {i.full_number: part for i, part in allocations},
                       "to_credit_minor": amount_minor - allocated})
    if kind != PaymentKind.CREDIT:
        get_registry().hook.payment_succeeded(session=session, payment=payment)
    return payment


def _memo(payment: Payment, allocations: Sequence[Allocation]) -> str:
    numbers = ", ".join(str(i.full_number) for i, _ in allocations) or "customer credit"
    reference = payment.gateway_reference or payment.bank_reference or payment.id
    return f"{payment.kind} {reference}: {numbers}"


def allocate_payment(session: Session, payment: Payment, invoice: Invoice, amount_minor: int, *,
                     now: datetime | None = None, actor: Actor | None = None) -> PaymentAllocation:
    """Apply part of a payment held as customer credit to an invoice (Dr 419 / Cr 4111)."""
    moment = resolve_now(now)
    v.amount_minor("amount_minor", amount_minor)
    if amount_minor <= 0:
        raise FieldError("amount_minor", "must be positive")
    lock_customer(session, payment.customer_id)
    lock_invoice(session, invoice)
    check_payable("invoice", invoice, payment.customer_id, payment.currency)
    session.refresh(payment)
    free = free_credit_on(session, payment)
    if amount_minor > free:
        raise FieldError("amount_minor", f"{amount_minor} is more than the {free} left "
                         f"unallocated on payment {payment.id} (refunds in progress hold "
                         f"{payment.unallocated_minor - free})")
    if amount_minor > invoice.balance_due_minor:
        raise FieldError("amount_minor", f"{amount_minor} is more than the "
                         f"{invoice.balance_due_minor} due on {invoice.full_number}")
    credit = available_credit(session, payment.customer_id, payment.currency)
    if amount_minor > credit:
        raise InvalidTransition(f"the customer's credit ({credit}) no longer covers "
                                f"{amount_minor}: it was refunded, used or is held by a refund")
    return _move_credit(session, payment, invoice, amount_minor, actor=actor, now=moment)


def _move_credit(session: Session, payment: Payment, invoice: Invoice, amount: int, *,
                 actor: Actor | None, now: datetime) -> PaymentAllocation:
    allocation = PaymentAllocation(payment=payment, invoice_id=invoice.id, amount_minor=amount,
                                   source="credit", created_at=now)
    session.add(allocation)
    session.flush()
    common = {"customer_id": payment.customer_id}
    ledger.post_entry(
        session, kind="credit_applied",
        memo=f"credit from payment {payment.id} to {invoice.full_number}",
        postings=[ledger.debit(AccountCode.CUSTOMER_CREDIT, amount, payment.currency, **common),
                  ledger.credit(AccountCode.RECEIVABLE, amount, payment.currency,
                                invoice_id=invoice.id, **common)],
        idempotency_key=f"allocation:{allocation.id}", source_type="payment", source_id=payment.id,
        now=now,
    )
    refresh_payment_status(session, invoice, now=now)
    record_audit(session, actor=actor, action="payment.allocated", object_type="invoice",
                 object_id=invoice.full_number, amount_minor=amount, currency=payment.currency,
                 now=now, data={"payment_id": payment.id, "source": "customer credit"})
    return allocation


def apply_customer_credit(session: Session, invoice: Invoice, *, now: datetime | None = None,
                          actor: Actor | None = None) -> int:
    """Pay what is due on ``invoice`` from the customer's credit; returns the amount applied.

    Unallocated payments are used first, oldest first; credit from elsewhere (a credit
    note refunded to credit, a goodwill credit) becomes a payment of kind ``credit``.
    Credit that open refunds hold is left alone.
    """
    moment = resolve_now(now)
    lock_customer(session, invoice.customer_id)
    lock_invoice(session, invoice)
    if invoice.kind != DocumentKind.INVOICE or invoice.status != DocumentStatus.ISSUED:
        return 0
    available = available_credit(session, invoice.customer_id, invoice.currency)
    wanted = min(available, invoice.balance_due_minor)
    if wanted <= 0:
        return 0
    left = wanted
    for payment, free in _payments_with_credit(session, invoice.customer_id, invoice.currency):
        part = min(left, free)
        if part > 0:
            _move_credit(session, payment, invoice, part, actor=actor, now=moment)
            left -= part
        if left == 0:
            break
    if left > 0:
        receive_payment(session, customer_id=invoice.customer_id, kind=PaymentKind.CREDIT,
                        amount_minor=left, currency=invoice.currency, received_at=moment,
                        allocations=[(invoice, left)], money_account=AccountCode.CUSTOMER_CREDIT,
                        note="customer credit", actor=actor, now=moment)
    return wanted


def available_credit(session: Session, customer_id: int, currency: str) -> int:
    """The customer's credit that invoices may use: the ledger's, less what open refunds
    hold (approving them pays it out; spending it first would pay it out twice)."""
    # refunds imports this module (through credit_notes): imported when needed.
    from praho.core.services.refunds import credit_held_by_refunds

    held = credit_held_by_refunds(session, customer_id=customer_id, currency=currency)
    balance = ledger.customer_credit_balance(session, customer_id, currency)
    return max(balance - held, 0)


def free_credit_on(session: Session, payment: Payment) -> int:
    """What is unallocated on a payment and not held by one of its open refunds."""
    from praho.core.services.refunds import credit_held_by_refunds

    return payment.unallocated_minor - credit_held_by_refunds(session, payment_id=payment.id)


def _payments_with_credit(session: Session, customer_id: int,
                          currency: str) -> list[tuple[Payment, int]]:
    payments = session.execute(
        select(Payment).where(Payment.customer_id == customer_id, Payment.currency == currency,
                              Payment.kind != PaymentKind.CREDIT)
        .order_by(Payment.received_at, Payment.id)
    ).scalars().all()
    free = [(p, free_credit_on(session, p)) for p in payments if p.unallocated_minor > 0]
    return [(p, part) for p, part in free if part > 0]

