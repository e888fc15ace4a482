"""Proration credits: what a credit for unused time gives back, and the credit notes.

A credit for an item's unused time (a downgrade, a removed add-on, a quantity lowered,
a pause or cancellation with credit) gives back part of what the item was actually
billed for the rest of its period (:func:`credit_basis`): the net of the invoice line
that billed the period, after that line's own allowance and its share of coupons and
other document allowances, or the charge a later change put in its place. It never
exceeds what that line can still be credited.

The credit corrects the invoice line that billed the item for the current period, so
it keeps that line's VAT (:func:`copy_corrected_tax`; a correction takes the VAT of the
supply it corrects, Cod fiscal art. 287). The part of a credit note the customer had
already paid moves from receivables (4111) to the customer's credit balance (419) in
one balanced entry; the payment layer applies that balance to later invoices. A period
billed on an unpaid proforma cannot be corrected this way and is refused with that
reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from praho.core.clock import business_date
from praho.core.errors import InvalidTransition
from praho.core.models.customers import Customer
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice, InvoiceLine, LineKind
from praho.core.models.subscriptions import PendingProration, Subscription
from praho.core.money import to_major
from praho.core.pricing import DraftLine
from praho.core.services.audit import Actor, record_audit
from praho.core.services.billing_cycles import Period
from praho.core.services.credit_notes import (
    creditable_minor,
    line_balances,
    open_minor,
    paid_excess_to_credit,
)
from praho.core.services.invoicing import (
    add_line,
    converted_invoice,
    copy_corrected_tax,
    create_draft,
    fixed_tax,
)
from praho.core.services.issuing import issue_document
from praho.core.services.payment_allocation import lock_invoice
from praho.core.services.subscription_state import record_event
from praho.core.services.totals import compute_totals
from sqlalchemy import select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from praho.core.services.proration import ProrationLine, ProrationPlan

@dataclass(frozen=True)
class PeriodBilling:
    """The issued line that charged an item for a day of its period.

    ``document`` is where it was billed first (an invoice or a proforma); ``fiscal`` is
    the invoice and line it is or became, None while the proforma is unpaid.
    """

    document: Invoice
    line: InvoiceLine
    fiscal: tuple[Invoice, InvoiceLine] | None


def period_billing(
    session: Session, subscription: Subscription, item_id: int, on_date: date
) -> PeriodBilling | None:
    """The latest issued invoice or proforma line charging ``item_id`` for ``on_date``."""
    documents = session.execute(
        select(Invoice)
        .where(
            Invoice.subscription_id == subscription.id,
            Invoice.status == DocumentStatus.ISSUED,
            Invoice.kind.in_([DocumentKind.INVOICE, DocumentKind.PROFORMA]),
        )
        .order_by(Invoice.id.desc())
        .limit(50)
    ).scalars()
    for document in documents:
        for line in document.lines:
            if (
                line.details.get("subscription_item_id") != item_id
                or line.net_amount_minor <= 0
                or line.period_start is None
                or line.period_end is None
                or not line.period_start <= on_date <= line.period_end
            ):
                continue
            return PeriodBilling(document, line, _fiscal(session, document, line))
    return None


def _fiscal(
    session: Session, document: Invoice, line: InvoiceLine
) -> tuple[Invoice, InvoiceLine] | None:
    """The invoice and line ``line`` is or became; None for a proforma not paid yet."""
    if document.kind != DocumentKind.PROFORMA:
        return document, line
    fiscal = converted_invoice(session, document)
    if fiscal is None:
        return None
    return fiscal, next(ln for ln in fiscal.lines if ln.position == line.position)


def billed_line(
    session: Session, subscription: Subscription, item_id: int, on_date: date
) -> tuple[Invoice, InvoiceLine] | None:
    """The fiscal invoice line that charged ``item_id`` for the period containing ``on_date``.

    A line on a proforma counts once the proforma was converted into an invoice; an
    unpaid proforma cannot be corrected by a credit note, which is refused clearly.
    """
    billing = period_billing(session, subscription, item_id, on_date)
    if billing is None:
        return None
    if billing.fiscal is None:
        raise InvalidTransition(
            f"the period was billed on proforma {billing.document.full_number}, "
            "which is not paid yet; "
            "a credit can only correct a fiscal invoice (change with proration 'none', or "
            "after the proforma is paid)"
        )
    return billing.fiscal


@dataclass(frozen=True)
class CreditBasis:
    """What an item's unused time is credited from.

    ``unit_minor`` is what one unit was charged for ``seconds`` (a full period, usually),
    after every discount, exactly (the list rate x the part of its line left after the
    line's allowances); ``quantity`` units of ``price_id`` were charged so by the document
    ``reference`` (None: a change waiting for the next invoice). At most ``room_minor``
    can still be credited. ``corrects`` is the line of the invoice (or unpaid proforma)
    that billed the period: the supply a credit reduces, whose VAT the credit keeps;
    ``exchange_rate`` is that document's.
    """

    unit_minor: Fraction
    seconds: int
    quantity: Decimal
    room_minor: int
    price_id: int | None
    reference: str | None
    corrects: InvoiceLine | None = None
    exchange_rate: Decimal | None = None

    def explained(self) -> dict[str, Any]:
        """The basis as line details (JSON): where a credit line comes from."""
        facts: dict[str, Any] = {
            "unit_minor": str(self.unit_minor),
            "seconds": self.seconds,
            "quantity": str(self.quantity),
            "document": self.reference,
            "room_minor": self.room_minor,
        }
        if self.corrects is not None:
            facts["line_id"] = self.corrects.id
            facts["tax_category"] = self.corrects.tax_category
            facts["tax_rate"] = str(self.corrects.tax_rate)
        if self.exchange_rate is not None:
            facts["exchange_rate"] = str(self.exchange_rate)
        return facts


def credit_basis(
    session: Session, subscription: Subscription, item_id: int, period: Period, on_date: date
) -> CreditBasis | None:
    """What the unused time of ``item_id`` on ``on_date`` is credited from; None if unbilled.

    The line that billed the period, net of its discounts, unless a later change charged
    the item for the rest of the period without a new invoice (the new price on a
    downgrade's credit note, or a change waiting for the next invoice): then that charge,
    as it was charged. Either way the credit corrects the line that billed the period
    and keeps its VAT.
    """
    billing = period_billing(session, subscription, item_id, on_date)
    since = billing.document.issued_at if billing is not None else None
    basis = _charged_since(session, subscription, item_id, on_date, since or period.starts_at)
    document, line = (
        (billing.fiscal or (billing.document, billing.line)) if billing else (None, None)
    )
    if basis is None and document is not None and line is not None:
        basis = _line_basis(session, document, line, period)
    if basis is None or basis.seconds <= 0 or basis.quantity <= 0:
        return None
    return replace(
        basis,
        corrects=line,
        exchange_rate=document.exchange_rate if document is not None else None,
    )


def _line_basis(
    session: Session, document: Invoice, line: InvoiceLine, period: Period
) -> CreditBasis:
    """An invoice line's rate after its discounts, and what of it can still be credited.

    The rate is the list unit amount the line was computed from, for the seconds of a
    full period, scaled by the part of the line left after its own allowance and its
    share of the document's allowances: a 50% coupon halves it. Prorating that rate,
    rather than the rounded line, credits an undiscounted period exactly as much as a
    charge for the same seconds costs.
    """
    balance = line_balances(session, document)[line.id]
    net = max(balance.net_minor, 0)
    quantity = Decimal(line.quantity)
    details = line.details
    if line.kind == LineKind.PRORATION:
        unit, seconds = details.get("full_unit_amount_minor"), details.get("period_seconds")
    else:
        partial = details.get("partial_period")
        unit = details.get("unit_amount_minor")
        seconds = partial["full_seconds"] if partial else period.seconds
    if unit is not None and seconds and line.gross_amount_minor > 0:
        rate = Fraction(unit) * Fraction(net, line.gross_amount_minor)
    else:
        # A line without its rate recorded: its net over the seconds it covers.
        rate = Fraction(net) / Fraction(quantity)
        seconds = int(details.get("seconds", period.seconds))
    return CreditBasis(
        unit_minor=rate,
        seconds=int(seconds),
        quantity=quantity,
        room_minor=max(balance.remaining_minor, 0),
        price_id=line.price_id,
        reference=document.full_number,
    )


def _charged_since(
    session: Session, subscription: Subscription, item_id: int, on_date: date, since: datetime
) -> CreditBasis | None:
    """The last charge for the rest of the period a change made after ``since``, off-invoice.

    A downgrade charges the new price as a negative line of its credit note; a change
    with ``next_invoice`` keeps its charge waiting. Either replaces what the item was
    billed at, so a later credit gives back that charge (at its list rate: nothing
    discounts it) and not the original line.
    """
    charges: list[tuple[datetime, int, CreditBasis]] = []
    notes = session.execute(
        select(Invoice)
        .where(
            Invoice.subscription_id == subscription.id,
            Invoice.kind == DocumentKind.CREDIT_NOTE,
            Invoice.status == DocumentStatus.ISSUED,
            Invoice.issued_at >= since,
        )
        .order_by(Invoice.id)
    ).scalars()
    for note in notes:
        assert note.issued_at is not None
        for line in note.lines:
            if _charges_rest(line.details, item_id, line.period_start, line.period_end, on_date):
                basis = _charge_basis(
                    line.details,
                    line.quantity,
                    -line.net_amount_minor,
                    line.price_id,
                    note.full_number,
                )
                charges.append((note.issued_at, len(charges), basis))
    rows = session.execute(
        select(PendingProration)
        .where(
            PendingProration.subscription_id == subscription.id,
            PendingProration.subscription_item_id == item_id,
            PendingProration.created_at >= since,
        )
        .order_by(PendingProration.id)
    ).scalars()
    for row in rows:
        if _charges_rest(row.details, item_id, row.period_start, row.period_end, on_date):
            basis = _charge_basis(
                row.details, row.quantity, row.net_amount_minor, row.price_id, None
            )
            charges.append((row.created_at, len(charges), basis))
    return max(charges, key=lambda charge: charge[:2])[2] if charges else None


def _charge_basis(
    details: dict[str, Any],
    quantity: Decimal,
    amount_minor: int,
    price_id: int | None,
    reference: str | None,
) -> CreditBasis:
    return CreditBasis(
        unit_minor=Fraction(details["full_unit_amount_minor"]),
        seconds=int(details["period_seconds"]),
        quantity=Decimal(quantity),
        room_minor=amount_minor,
        price_id=price_id,
        reference=reference,
    )


def _charges_rest(
    details: dict[str, Any], item_id: int, start: date | None, end: date | None, on_date: date
) -> bool:
    """True for a proration charge of ``item_id`` covering ``on_date``."""
    return (
        details.get("subscription_item_id") == item_id
        and details.get("proration") == "charge"
        and "full_unit_amount_minor" in details
        and "period_seconds" in details
        and start is not None
        and end is not None
        and start <= on_date <= end
    )


def waiting_credit_tax(session: Session, details: dict[str, Any]) -> dict[str, Any] | None:
    """The VAT a credit that waited for a later document keeps; None for other lines.

    A credit for unused time left for the next invoice (``next_invoice``) reduces the
    supply of the line that billed the period (``details["original_line_id"]``) just as
    when it is issued at once, so it keeps that line's VAT on the renewal or final
    invoice it lands on, even if the rate changed in between (Cod fiscal art. 287).
    Looked up when the credit is billed, not when it was stored, so a period billed on a
    proforma takes the VAT of the invoice the proforma became once paid. Returned as
    ``details[FIXED_TAX]`` for :func:`invoicing.build_line`.
    """
    line_id = details.get("original_line_id")
    if details.get("proration") != "credit" or line_id is None:
        return None
    line = session.get(InvoiceLine, line_id)
    if line is None:
        return None
    document = session.get(Invoice, line.invoice_id)
    assert document is not None
    found = _fiscal(session, document, line)
    return fixed_tax(found[1] if found is not None else line)


def issue_proration_credit(
    session: Session,
    subscription: Subscription,
    plan: ProrationPlan,
    moment: datetime,
    actor: Actor | None,
) -> list[Invoice]:
    """Credit notes for a net credit, one per corrected invoice; excess to the credit balance."""
    today = business_date(moment)
    groups: dict[int, tuple[Invoice, InvoiceLine, list[ProrationLine]]] = {}
    for line in plan.lines:
        if line.kind != "credit":
            continue
        assert line.subscription_item_id is not None
        found = billed_line(session, subscription, line.subscription_item_id, today)
        if found is None:
            raise InvalidTransition(
                f"no issued invoice charges item {line.subscription_item_id} for the "
                "current period; nothing can be credited"
            )
        groups.setdefault(found[0].id, (found[0], found[1], []))[2].append(line)
    if not groups:
        return []
    first = next(iter(groups))
    credited_changes = {
        line.change_index: target for target, (_d, _l, lines) in groups.items() for line in lines
    }
    for line in plan.lines:
        if line.kind == "charge":
            groups[credited_changes.get(line.change_index, first)][2].append(line)
    return [
        _credit_note(session, subscription, target, source, lines, moment, actor)
        for target, source, lines in groups.values()
    ]


def _credit_note(
    session: Session,
    subscription: Subscription,
    target: Invoice,
    source: InvoiceLine,
    lines: list[ProrationLine],
    moment: datetime,
    actor: Actor | None,
) -> Invoice:
    """A credit note with the credit lines (positive) and new charges (negative) for the rest."""
    customer = session.get(Customer, target.customer_id)
    assert customer is not None
    lock_invoice(session, target)  # what is credited and paid, as committed by others
    open_before = open_minor(target)
    note = f"Stornare parțială factura {target.full_number}: modificare abonament {subscription.id}"
    credit_note = create_draft(
        session,
        customer=customer,
        kind=DocumentKind.CREDIT_NOTE,
        currency=target.currency,
        note=note[:300],
        now=moment,
    )
    credit_note.seller_id = target.seller_id
    credit_note.original_invoice_id = target.id
    credit_note.tax_point_date = target.tax_point_date
    credit_note.language = target.language
    credit_note.subscription_id = subscription.id
    credit_note.attributes = {
        "proration": {"subscription_id": subscription.id, "at": moment.isoformat()}
    }
    for line in sorted(lines, key=lambda ln: ln.kind != "credit"):
        draft = line.draft()
        # On a credit note a credit is a positive line and a new charge a negative one.
        amount = -line.amount_minor
        details = (
            {**draft.details, "tax_fixed": True, "original_line_id": source.id}
            if line.kind == "credit"
            else draft.details
        )
        record = add_line(
            session,
            credit_note,
            DraftLine(
                item_name=draft.item_name,
                description=draft.description,
                quantity=draft.quantity,
                unit_price=draft.unit_price,
                unit_code=draft.unit_code,
                product_id=draft.product_id,
                price_id=draft.price_id,
                period_start=draft.period_start,
                period_end=draft.period_end,
                kind=LineKind.PRORATION,
                net_amount_minor=amount if amount < 0 else None,
                details=details,
            ),
            now=moment,
        )
        if line.kind == "credit":
            copy_corrected_tax(record, source)
    session.flush()
    total = compute_totals(credit_note.lines).total_minor
    if total > creditable_minor(target):
        raise InvalidTransition(
            f"a credit of {to_major(total, target.currency)} exceeds what remains creditable on "
            f"{target.full_number} ({to_major(creditable_minor(target), target.currency)})"
        )
    issue_document(session, credit_note, actor=actor, now=moment)
    target.credited_minor += credit_note.total_minor
    target.updated_at = moment
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="invoice.credited",
        object_type="invoice",
        object_id=target.full_number,
        amount_minor=credit_note.total_minor,
        currency=target.currency,
        now=moment,
        data={"credit_note": credit_note.full_number, "reason": "subscription proration"},
    )
    paid_excess_to_credit(session, target, credit_note, open_before, now=moment)
    return credit_note


def credit_unused_time(
    session: Session,
    subscription: Subscription,
    *,
    why: str,
    now: datetime,
    actor: Actor | None = None,
) -> int:
    """Credit every item's unused time (pause or cancellation now); returns the net credited."""
    # proration builds on this module (credit_basis): imported when needed.
    from praho.core.services.proration import ItemChange, ProrationBehavior, compute_proration

    changes = [ItemChange(item, None, Decimal(0)) for item in subscription.active_items]
    plan = compute_proration(
        session, subscription, changes, behavior=ProrationBehavior.INVOICE_NOW, now=now
    )
    if not plan.lines:
        return 0
    documents = issue_proration_credit(session, subscription, plan, now, actor)
    for item in subscription.active_items:
        item.billed_unit_amount_minor = None
        item.billed_quantity = None
    record_event(
        session,
        subscription,
        "unused_time_credited",
        now=now,
        actor=actor,
        reason=why,
        data={"credit_minor": plan.credit_minor, "documents": [d.full_number for d in documents]},
    )
    session.flush()
    return plan.credit_minor
