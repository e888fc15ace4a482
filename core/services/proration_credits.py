"""Proration credits: credit notes that correct the invoice of a period, and the credit balance.

A credit (a downgrade, a removed add-on, unused time on cancellation) corrects the
invoice line that billed the item for the current period: the credit note copies that
line's VAT (a correction takes the VAT of the supply it corrects). The part of the
credit the customer had already paid moves from receivables (4111) to the customer's
credit balance (419) in one balanced entry; the payment layer applies that balance to
later invoices. A period billed on an unpaid proforma cannot be corrected this way and
is refused with that reason.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from praho.core.clock import business_date
from praho.core.errors import InvalidTransition
from praho.core.models.customers import Customer
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice, InvoiceLine, LineKind
from praho.core.models.subscriptions import (
    Subscription,
)
from praho.core.money import to_major
from praho.core.pricing import DraftLine
from praho.core.services.audit import Actor, record_audit
from praho.core.services.credit_notes import creditable_minor, open_minor, paid_excess_to_credit
from praho.core.services.invoicing import add_line, create_draft
from praho.core.services.issuing import issue_document
from praho.core.services.payment_allocation import lock_invoice
from praho.core.services.proration import (
    ItemChange,
    ProrationBehavior,
    ProrationLine,
    ProrationPlan,
    compute_proration,
)
from praho.core.services.subscription_state import record_event
from praho.core.services.totals import compute_totals
from sqlalchemy import select
from sqlalchemy.orm import Session


def billed_line(
    session: Session, subscription: Subscription, item_id: int, on_date: date
) -> tuple[Invoice, InvoiceLine] | None:
    """The fiscal invoice line that charged ``item_id`` for the period containing ``on_date``.

    A line on a proforma counts once the proforma was converted into an invoice; an
    unpaid proforma cannot be corrected by a credit note, which is refused clearly.
    """
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
            if document.kind == DocumentKind.INVOICE:
                return document, line
            fiscal = (
                session.get(Invoice, document.converted_to_id) if document.converted_to_id else None
            )
            if fiscal is None:
                raise InvalidTransition(
                    f"the period was billed on proforma {document.full_number}, "
                    "which is not paid yet; "
                    "a credit can only correct a fiscal invoice (change with proration 'none', or "
                    "after the proforma is paid)"
                )
            return fiscal, next(ln for ln in fiscal.lines if ln.position == line.position)
    return None


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
            # The VAT of a correction is that of the supply it corrects.
            for name in (
                "tax_category",
                "tax_rate",
                "tax_exemption_code",
                "tax_exemption_reason",
                "tax_note",
            ):
                setattr(record, name, getattr(source, name))
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
