"""Credit notes (storno) against issued invoices, and proforma-to-invoice conversion."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now
from praho.core.errors import FieldError, InvalidTransition, ValidationFailed
from praho.core.models.customers import Customer
from praho.core.models.invoices import (
    DocumentKind,
    DocumentStatus,
    Invoice,
    InvoiceAllowance,
    InvoiceLine,
    LineKind,
)
from praho.core.models.ledger import AccountCode
from praho.core.models.payments import Payment, PaymentAllocation
from praho.core.money import allocate, to_major
from praho.core.plugins import get_registry
from praho.core.pricing import DraftLine
from praho.core.services import ledger
from praho.core.services.audit import Actor, record_audit
from praho.core.services.invoicing import add_line, create_draft, realign_allowances
from praho.core.services.issuing import issue_document
from praho.core.services.payment_allocation import lock_invoice, refresh_payment_status
from praho.core.services.taxes import decide_document_taxes
from praho.core.services.totals import compute_totals, net_for_gross
from sqlalchemy import func, select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class CreditLine:
    """Credit part of one original line: a quantity, or a net amount in minor units."""

    original_line_id: int
    quantity: Decimal | None = None
    net_amount_minor: int | None = None


def creditable_minor(invoice: Invoice) -> int:
    """Gross amount that can still be credited on an invoice."""
    return invoice.total_minor - invoice.credited_minor


def open_minor(invoice: Invoice) -> int:
    """What the customer still owes on an invoice (negative when paid beyond the credits)."""
    return invoice.payable_minor - invoice.amount_paid_minor - invoice.credited_minor


def paid_excess_to_credit(
    session: Session, invoice: Invoice, credit_note: Invoice, open_before: int, *, now: datetime
) -> int:
    """Move the part of a credit note the customer had already paid to their credit balance.

    A credit note lowers what the customer owes on the invoice. The part of it that was
    still unpaid (``open_before``) simply cancels the receivable; the part already paid
    is money we hold for the customer. It is taken off the payments that paid the
    invoice (newest first: a negative allocation each, so the money is again
    unallocated on the payment it came from, where refunds, credit applications and
    chargebacks find it) and moved from receivable (4111) to customer credit (419) in
    one balanced entry. Returns the amount moved.
    """
    excess = credit_note.total_minor - min(credit_note.total_minor, max(open_before, 0))
    if excess <= 0:
        return 0
    paid_by = session.execute(
        select(PaymentAllocation.payment_id, func.sum(PaymentAllocation.amount_minor))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.invoice_id == invoice.id)
        .group_by(PaymentAllocation.payment_id)
        .having(func.sum(PaymentAllocation.amount_minor) > 0)
        .order_by(PaymentAllocation.payment_id.desc())
    ).all()
    left = excess
    for payment_id, allocated in paid_by:
        part = min(left, int(allocated))
        # Through the relationship, so a payment already loaded sees its new allocation.
        payment = session.get(Payment, payment_id)
        assert payment is not None
        session.add(PaymentAllocation(payment=payment, invoice_id=invoice.id,
                                      amount_minor=-part, source="credited", created_at=now))
        left -= part
        if left == 0:
            break
    moved = excess - left  # what no payment paid cannot become credit (never expected)
    if moved <= 0:
        return 0
    session.flush()
    refresh_payment_status(session, invoice, now=now)
    common: dict[str, Any] = {"customer_id": invoice.customer_id}
    ledger.post_entry(
        session,
        kind="customer_credit",
        memo=f"credit note {credit_note.full_number} to the customer's credit balance",
        postings=[
            # On the credit note's receivable line: it settles the amount the note owes
            # the customer, as paying it out would.
            ledger.debit(
                AccountCode.RECEIVABLE, moved, invoice.currency, invoice_id=credit_note.id,
                **common,
            ),
            ledger.credit(AccountCode.CUSTOMER_CREDIT, moved, invoice.currency, **common),
        ],
        idempotency_key=f"customer-credit:{credit_note.id}",
        source_type="invoice",
        source_id=credit_note.id,
        now=now,
    )
    return moved


def issue_credit_note(
    session: Session,
    original: Invoice,
    *,
    reason: str,
    lines: list[CreditLine] | None = None,
    gross_amount_minor: int | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
    for_refund: bool = False,
) -> Invoice:
    """Issue a credit note for all of an invoice, some lines, or a gross amount.

    The credit note copies the original lines' VAT treatment (it corrects that supply,
    it is not a new one) and never exceeds what remains creditable, less what refunds in
    progress hold. The part of it the customer had already paid goes to their credit
    balance (:func:`paid_excess_to_credit`). ``for_refund``: the note is a refund's own
    (refund settlement), which holds its part already and settles the paid part itself.
    """
    moment = resolve_now(now)
    reason_text = v.text("reason", reason, max_length=v.LIMITS["note"])
    # Locked before anything is read: two credits at once must not both pass the
    # "what remains creditable" check.
    lock_invoice(session, original)
    if original.kind != DocumentKind.INVOICE or original.status != DocumentStatus.ISSUED:
        raise InvalidTransition("credit notes can only correct issued invoices")
    vetoes = [r for reasons in get_registry().hook.validate_document_action(
        session=session, document=original, action="credit") for r in (reasons or [])]
    if vetoes:
        raise InvalidTransition(f"cannot credit {original.full_number}: " + "; ".join(vetoes))
    if lines is not None and gross_amount_minor is not None:
        raise ValidationFailed([FieldError("lines", "give lines or an amount, not both")])

    if gross_amount_minor is not None:
        v.amount_minor("gross_amount_minor", gross_amount_minor)
        if gross_amount_minor <= 0:
            raise ValidationFailed([FieldError("gross_amount_minor", "must be positive")])
        drafts = _lines_for_gross(original, gross_amount_minor)
    else:
        drafts = _lines_for_selection(original, lines)

    customer = session.get(Customer, original.customer_id)
    assert customer is not None
    note = f"Stornare factura {original.full_number} din {original.issue_date:%d.%m.%Y}: {reason_text}"
    credit_note = create_draft(session, customer=customer, kind=DocumentKind.CREDIT_NOTE,
                               currency=original.currency, note=note[:300], now=moment)
    credit_note.seller_id = original.seller_id
    credit_note.original_invoice_id = original.id
    credit_note.tax_point_date = original.tax_point_date
    credit_note.language = original.language
    credit_note.attributes = {"reason": reason_text}
    for draft, source in drafts:
        record = add_line(session, credit_note, draft, now=moment)
        _copy_tax(record, source)
    if original.exchange_rate is not None:
        # The correction uses the rate of the document it corrects.
        credit_note.attributes = {**credit_note.attributes, "original_rate": str(original.exchange_rate)}

    preview_total = _preview_total(credit_note)
    held = 0 if for_refund else _held_by_refunds(session, original.id)
    room = creditable_minor(original) - held
    if preview_total > room:
        held_text = ", the rest is held by refunds in progress" if held else ""
        raise InvalidTransition(
            f"credit of {to_major(preview_total, original.currency)} exceeds what remains creditable "
            f"on {original.full_number} ({to_major(max(room, 0), original.currency)}{held_text})"
        )
    open_before = open_minor(original)
    issue_document(session, credit_note, actor=actor, now=moment)
    original.credited_minor += credit_note.total_minor
    original.updated_at = moment
    session.flush()
    to_credit = (
        0 if for_refund
        else paid_excess_to_credit(session, original, credit_note, open_before, now=moment)
    )
    record_audit(session, actor=actor, action="invoice.credited", object_type="invoice",
                 object_id=original.full_number, amount_minor=credit_note.total_minor,
                 currency=original.currency, now=moment,
                 data={"credit_note": credit_note.full_number, "reason": reason_text,
                       "to_customer_credit_minor": to_credit})
    return credit_note


def _held_by_refunds(session: Session, invoice_id: int) -> int:
    # refunds imports this module (it issues credit notes): imported when needed.
    from praho.core.services.refunds import reserved_on_invoice

    return reserved_on_invoice(session, invoice_id)


def _copy_tax(record: InvoiceLine, source: InvoiceLine) -> None:
    record.tax_category = source.tax_category
    record.tax_rate = source.tax_rate
    record.tax_exemption_code = source.tax_exemption_code
    record.tax_exemption_reason = source.tax_exemption_reason
    record.tax_note = source.tax_note


def _preview_total(invoice: Invoice) -> int:
    return compute_totals(invoice.lines, invoice.allowances).total_minor


def _credit_draft(source: InvoiceLine, quantity: Decimal, net_minor: int | None) -> DraftLine:
    return DraftLine(
        item_name=source.item_name, description=source.description, quantity=quantity,
        unit_price=source.unit_price, unit_code=source.unit_code, product_id=source.product_id,
        price_id=source.price_id, period_start=source.period_start, period_end=source.period_end,
        kind=LineKind.ADJUSTMENT if net_minor is not None and net_minor < 0 else source.kind,
        net_amount_minor=net_minor,
        # The VAT of a correction is the corrected supply's: copied, never re-decided.
        details={"tax_fixed": True, "original_line_id": source.id},
    )


def _lines_for_selection(original: Invoice, selection: list[CreditLine] | None) -> list[tuple[DraftLine, InvoiceLine]]:
    by_id = {line.id: line for line in original.lines}
    if selection is None:
        # A full credit: each line's net after its share of document allowances.
        shares = _allowance_shares(original)
        return [(_credit_draft(line, line.quantity, line.net_amount_minor - shares[line.id]), line)
                for line in original.lines]
    drafts = []
    errors = v.Collector()
    for index, item in enumerate(selection):
        if not isinstance(item, CreditLine) or isinstance(item.original_line_id, bool) \
                or not isinstance(item.original_line_id, int):
            errors.errors.append(FieldError(f"lines[{index}].original_line_id",
                                            "must be the id of a line of the invoice"))
            continue
        source = by_id.get(item.original_line_id)
        if source is None:
            errors.errors.append(FieldError(f"lines[{index}].original_line_id",
                                            f"line {item.original_line_id} is not on {original.full_number}"))
            continue
        if item.quantity is not None:
            quantity = errors.check(v.quantity, f"lines[{index}].quantity", item.quantity)
            if quantity is not None and quantity > source.quantity:
                errors.errors.append(FieldError(f"lines[{index}].quantity", "exceeds the invoiced quantity"))
            elif quantity is not None:
                drafts.append((_credit_draft(source, quantity, None), source))
        elif item.net_amount_minor is not None:
            amount = errors.check(v.amount_minor, f"lines[{index}].net_amount_minor", item.net_amount_minor)
            if amount is not None and amount > source.net_amount_minor:
                errors.errors.append(FieldError(f"lines[{index}].net_amount_minor", "exceeds the line amount"))
            elif amount:
                drafts.append((_credit_draft(source, Decimal(1), amount), source))
        else:
            errors.errors.append(FieldError(f"lines[{index}]", "give a quantity or a net amount"))
    errors.raise_if_any()
    if not drafts:
        raise ValidationFailed([FieldError("lines", "nothing to credit")])
    return drafts


def _allowance_shares(original: Invoice) -> dict[int, int]:
    """Each line's share of the document allowances (so a full credit nets them out)."""
    shares: dict[int, int] = defaultdict(int)
    by_position = {line.position: line for line in original.lines}
    for allowance in original.allowances:
        lines = [by_position[p] for p in allowance.details.get("line_positions", []) if p in by_position]
        if not lines:
            continue
        sign = -1 if allowance.is_charge else 1
        parts = allocate(allowance.amount_minor, [max(l.net_amount_minor, 0) or 1 for l in lines])
        for line, part in zip(lines, parts, strict=True):
            shares[line.id] += sign * part
    return shares


def _lines_for_gross(original: Invoice, gross_minor: int) -> list[tuple[DraftLine, InvoiceLine]]:
    """Split a gross amount over the invoice's VAT groups, then over the group's lines."""
    if gross_minor > creditable_minor(original):
        raise InvalidTransition(
            f"credit of {to_major(gross_minor, original.currency)} exceeds what remains creditable "
            f"on {original.full_number}"
        )
    groups = [s for s in original.tax_subtotals if s.taxable_minor > 0]
    group_parts = allocate(gross_minor, [s.taxable_minor + s.tax_minor for s in groups])
    shares = _allowance_shares(original)
    drafts = []
    for subtotal, gross_part in zip(groups, group_parts, strict=True):
        if gross_part == 0:
            continue
        net = net_for_gross(gross_part, subtotal.tax_rate)
        lines = [l for l in original.lines
                 if (l.tax_category, l.tax_rate) == (subtotal.tax_category, subtotal.tax_rate)
                 and l.net_amount_minor - shares[l.id] > 0]
        parts = allocate(net, [l.net_amount_minor - shares[l.id] for l in lines])
        drafts += [(_credit_draft(l, Decimal(1), p), l) for l, p in zip(lines, parts, strict=True) if p]
    return drafts


def convert_proforma(session: Session, proforma: Invoice, *, actor: Actor | None = None,
                     now: datetime | None = None, tax_point: date | None = None) -> Invoice:
    """Issue the fiscal invoice for a paid proforma, re-rated at the invoice's own tax point.

    The tax point is the day the payment was received (``tax_point``: VAT on an advance
    payment is chargeable when the money arrives, Cod fiscal art. 282), or today when
    none is given. A July proforma at 19% paid in August becomes a 21% invoice; the
    difference is recorded on the invoice (``attributes['conversion']``) so staff can
    explain it.
    """
    moment = resolve_now(now)
    if proforma.kind != DocumentKind.PROFORMA or proforma.status != DocumentStatus.ISSUED:
        raise InvalidTransition("only an issued proforma can be converted")
    if proforma.converted_to_id is not None:
        existing = session.get(Invoice, proforma.converted_to_id)
        assert existing is not None
        return existing
    customer = session.get(Customer, proforma.customer_id)
    assert customer is not None
    invoice = create_draft(session, customer=customer, kind=DocumentKind.INVOICE,
                           currency=proforma.currency, note=proforma.note,
                           period_start=proforma.period_start, period_end=proforma.period_end,
                           now=moment)
    invoice.seller_id = proforma.seller_id
    invoice.converted_from_id = proforma.id
    invoice.subscription_id = proforma.subscription_id
    invoice.attributes = dict(proforma.attributes or {})
    for line in proforma.lines:
        add_line(session, invoice, DraftLine(
            item_name=line.item_name, description=line.description, quantity=line.quantity,
            unit_price=line.unit_price, unit_code=line.unit_code, product_id=line.product_id,
            price_id=line.price_id, kind=line.kind, period_start=line.period_start,
            period_end=line.period_end, net_amount_minor=line.net_amount_minor,
            line_allowance_minor=line.line_allowance_minor,
            line_allowance_reason=line.line_allowance_reason,
            details={k: val for k, val in line.details.items() if k != "tax_fixed"},
        ), now=moment)
    for allowance in proforma.allowances:
        session.add(InvoiceAllowance(
            invoice=invoice, is_charge=allowance.is_charge, amount_minor=allowance.amount_minor,
            base_amount_minor=allowance.base_amount_minor, percent=allowance.percent,
            reason=allowance.reason, reason_code=allowance.reason_code,
            tax_category=allowance.tax_category, tax_rate=allowance.tax_rate,
            source=allowance.source, details=dict(allowance.details),
        ))
    # Rate the invoice at its own tax point now, so the explanation is part of the
    # document before it is frozen; issuing decides the same way again.
    invoice.tax_point_date = tax_point or business_date(moment)
    decide_document_taxes(session, invoice, tax_point=invoice.tax_point_date)
    realign_allowances(invoice)
    new_total = compute_totals(invoice.lines, invoice.allowances).total_minor
    rates_before = sorted({f"{s.tax_category} {s.tax_rate.normalize()}%" for s in proforma.tax_subtotals})
    rates_after = sorted({f"{l.tax_category} {l.tax_rate.normalize()}%" for l in invoice.lines})
    difference = new_total - proforma.total_minor
    explanation = (
        "same VAT treatment as the proforma" if rates_before == rates_after else
        f"VAT re-rated at the invoice tax point {invoice.tax_point_date}: "
        f"{', '.join(rates_before)} on the proforma of {proforma.tax_point_date} became "
        f"{', '.join(rates_after)}"
    )
    invoice.attributes = {**invoice.attributes, "conversion": {
        "proforma": proforma.full_number, "proforma_total_minor": proforma.total_minor,
        "invoice_total_minor": new_total, "difference_minor": difference,
        "explanation": explanation,
    }}
    issue_document(session, invoice, actor=actor, now=moment)
    proforma.converted_to_id = invoice.id
    proforma.updated_at = moment
    session.flush()
    record_audit(session, actor=actor, action="proforma.converted", object_type="invoice",
                 object_id=proforma.full_number, amount_minor=invoice.total_minor,
                 currency=invoice.currency, now=moment,
                 data={"invoice": invoice.full_number, "difference_minor": difference})
    return invoice
