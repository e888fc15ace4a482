"""Dry runs: the next document of a subscription, and what a change would cost now.

Previews use the same code as the billing run and proration (same prices, plugins,
VAT decisions and totals) but build documents in memory only. Plugins are consulted
inside a savepoint that is always rolled back, so nothing a preview touches is
written, whatever a plugin does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from praho.core.clock import business_date, noon_of, resolve_now
from praho.core.errors import FieldError, ValidationFailed
from praho.core.models.catalog import Price
from praho.core.models.customers import Customer
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice, InvoiceLine
from praho.core.models.subscriptions import Subscription, SubscriptionItem
from praho.core.money import to_major
from praho.core.services.billing_issue import IssueContext, decide_taxes_cached, prepare_document
from praho.core.services.invoicing import build_line, copy_corrected_tax
from praho.core.services.proration import (
    ItemChange,
    ProrationBehavior,
    ProrationPlan,
    compute_proration,
)
from praho.core.services.proration_credits import billed_line
from praho.core.services.renewal import (
    CatalogCache,
    document_kind_for,
    pending_prorations,
    resolve_item_price,
)
from praho.core.services.subscription_changes import (
    addon_items,
    plan_change_items,
    quantity_change_items,
)
from praho.core.services.totals import DocumentTotals, compute_totals, line_gross_minor
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class PreviewLine:
    """One line as it would be printed."""

    item_name: str
    description: str | None
    kind: str
    quantity: Decimal
    unit_price: Decimal
    net_amount_minor: int
    tax_category: str
    tax_rate: Decimal
    period_start: date | None
    period_end: date | None


@dataclass(frozen=True)
class PreviewDocument:
    """A document that would be issued: lines, discounts, VAT breakdown and totals."""

    kind: str
    currency: str
    issue_date: date
    period_start: date | None
    period_end: date | None
    lines: list[PreviewLine]
    allowances: list[tuple[str, int]]
    vat_breakdown: list[tuple[str, Decimal, int, int]]
    taxable_minor: int
    vat_minor: int
    total_minor: int


@dataclass(frozen=True)
class NextInvoicePreview:
    """The next renewal document, or why there is none."""

    subscription_id: int
    document: PreviewDocument | None
    reason: str | None = None


@dataclass
class ChangePreview:
    """What a change would do now: its proration and the document it would issue."""

    plan: ProrationPlan
    document: PreviewDocument | None = None
    next_period_net_minor: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def settlement(self) -> str:
        """``invoice``, ``pending``, ``credit_note`` or ``none``."""
        return self.plan.settlement


@contextmanager
def _discarded(session: Session) -> Iterator[None]:
    """Run the block in a savepoint that is rolled back whatever happens."""
    savepoint = session.begin_nested()
    try:
        yield
    finally:
        if savepoint.is_active:
            savepoint.rollback()


def _document(invoice: Invoice, totals: DocumentTotals, issue_date: date) -> PreviewDocument:
    return PreviewDocument(
        kind=str(invoice.kind),
        currency=invoice.currency,
        issue_date=issue_date,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        lines=[
            PreviewLine(
                ln.item_name,
                ln.description,
                str(ln.kind),
                Decimal(ln.quantity),
                Decimal(ln.unit_price),
                ln.net_amount_minor,
                ln.tax_category,
                Decimal(ln.tax_rate),
                ln.period_start,
                ln.period_end,
            )
            for ln in invoice.lines
        ],
        allowances=[
            (a.reason, a.amount_minor if not a.is_charge else -a.amount_minor)
            for a in invoice.allowances
        ],
        vat_breakdown=[(g.category, g.rate, g.taxable_minor, g.tax_minor) for g in totals.groups],
        taxable_minor=totals.taxable_minor,
        vat_minor=totals.vat_minor,
        total_minor=totals.total_minor,
    )


def preview_next_invoice(
    session: Session, subscription: Subscription, *, now: datetime | None = None
) -> NextInvoicePreview:
    """The document the billing run will issue next for this subscription (nothing written)."""
    moment = resolve_now(now)
    if subscription.is_final or subscription.next_billing_date is None:
        return NextInvoicePreview(
            subscription.id, None, f"the subscription is {subscription.status}"
        )
    if subscription.status in ("paused", "suspended"):
        return NextInvoicePreview(
            subscription.id,
            None,
            f"the subscription is {subscription.status}; nothing is billed until it resumes",
        )
    if subscription.cancel_at_period_end:
        return NextInvoicePreview(
            subscription.id,
            None,
            f"cancelled: the service ends on {subscription.next_billing_date}",
        )
    billing_day = subscription.next_billing_date
    at = moment if billing_day <= business_date(moment) else noon_of(billing_day)
    customer = session.get(Customer, subscription.customer_id)
    assert customer is not None
    with _discarded(session):
        ctx = IssueContext(session, at)
        pending = pending_prorations(session, [subscription.id]).get(subscription.id, [])
        prepared = prepare_document(ctx, subscription, customer, billing_day, pending=pending)
        document = _document(prepared.invoice, prepared.totals, ctx.issue_date)
    return NextInvoicePreview(subscription.id, document)


def preview_change(
    session: Session,
    subscription: Subscription,
    *,
    new_price: Price | None = None,
    quantity: Decimal | int | str | None = None,
    item: SubscriptionItem | None = None,
    add_price: Price | None = None,
    remove_item: SubscriptionItem | None = None,
    proration: ProrationBehavior | str = ProrationBehavior.INVOICE_NOW,
    now: datetime | None = None,
) -> ChangePreview:
    """What a plan change, quantity change or add-on change would cost now (nothing written).

    Give ``new_price`` (plan change, optional ``quantity``), ``item`` and ``quantity``
    (quantity change), ``add_price`` (add-on, optional ``quantity``) or ``remove_item``.
    """
    moment = resolve_now(now)
    behavior = ProrationBehavior(proration)
    changes = _changes(session, subscription, new_price, quantity, item, add_price, remove_item)
    with _discarded(session):
        plan = compute_proration(session, subscription, changes, behavior=behavior, now=moment)
        preview = ChangePreview(plan)
        if plan.note:
            preview.notes.append(plan.note)
        if plan.settlement in ("invoice", "credit_note"):
            preview.document = _change_document(session, subscription, plan, moment)
        preview.next_period_net_minor = _next_period_net(session, subscription, changes, plan)
    return preview


def _changes(
    session: Session,
    subscription: Subscription,
    new_price: Price | None,
    quantity: Decimal | int | str | None,
    item: SubscriptionItem | None,
    add_price: Price | None,
    remove_item: SubscriptionItem | None,
) -> list[ItemChange]:
    given = [x is not None for x in (new_price, item, add_price, remove_item)]
    if sum(given) != 1:
        raise ValidationFailed(
            [
                FieldError(
                    "change",
                    "give exactly one of new_price, item (with quantity), add_price or remove_item",
                )
            ]
        )
    if new_price is not None:
        return plan_change_items(subscription, new_price, quantity)
    if item is not None:
        if quantity is None:
            raise ValidationFailed(
                [FieldError("quantity", "is required to change an item's quantity")]
            )
        return quantity_change_items(session, subscription, item, quantity)
    if add_price is not None:
        return addon_items(subscription, add_price, 1 if quantity is None else quantity)
    assert remove_item is not None
    current = next((i for i in subscription.active_items if i.id == remove_item.id), None)
    if current is None:
        raise ValidationFailed([FieldError("remove_item", f"item {remove_item.id} is not active")])
    return [ItemChange(current, None, Decimal(0))]


def _change_document(
    session: Session, subscription: Subscription, plan: ProrationPlan, moment: datetime
) -> PreviewDocument:
    customer = session.get(Customer, subscription.customer_id)
    assert customer is not None
    credit = plan.settlement == "credit_note"
    invoice = Invoice(
        kind=DocumentKind.CREDIT_NOTE if credit else document_kind_for(customer),
        status=DocumentStatus.DRAFT,
        customer_id=customer.id,
        seller_id=subscription.seller_id,
        currency=subscription.currency,
        language=customer.language,
        tax_evidence={},
        attributes={},
        tax_point_date=business_date(moment),
    )
    sources: dict[int, InvoiceLine] = {}
    for line in plan.lines:
        draft = line.draft()
        if credit:
            amount = -line.amount_minor
            draft = replace(draft, net_amount_minor=amount if amount < 0 else None)
        build_line(session, invoice, draft)
        # A credit keeps the VAT of the line it reduces, taken where the change takes it:
        # a credit note corrects the fiscal invoice (refused, as the change is, while the
        # period's proforma is unpaid); an upgrade document copies ``corrects``.
        if line.kind != "credit" or line.subscription_item_id is None:
            continue
        if credit:
            found = billed_line(
                session, subscription, line.subscription_item_id, business_date(moment)
            )
            source = found[1] if found is not None else None
        else:
            source = line.corrects
        if source is not None:
            sources[len(invoice.lines) - 1] = source
    if credit and sources:
        # A credit note is taxed at the tax point of the invoice it corrects, so its new
        # charge (a negative line) takes that supply's rate too, as issuing it will.
        corrected = session.get(Invoice, next(iter(sources.values())).invoice_id)
        assert corrected is not None
        invoice.tax_point_date = corrected.tax_point_date
    decide_taxes_cached(IssueContext(session, moment), invoice)
    for index, source in sources.items():
        copy_corrected_tax(invoice.lines[index], source)
    totals = compute_totals(invoice.lines)
    return _document(invoice, totals, business_date(moment))


def _next_period_net(
    session: Session, subscription: Subscription, changes: list[ItemChange], plan: ProrationPlan
) -> int:
    """Net of the first full period after the change (prices resolved for that period)."""
    changed = {change.item.id: change for change in changes if change.item is not None}
    after: list[tuple[int, Decimal]] = []
    for item in subscription.active_items:
        change = changed.get(item.id)
        if change is None:
            after.append((item.price_id, Decimal(item.quantity)))
        elif change.new_price is not None:
            after.append((change.new_price.id, change.new_quantity))
    after += [(c.new_price.id, c.new_quantity) for c in changes if c.item is None and c.new_price]
    on_date = subscription.next_billing_date or business_date(plan.at)
    catalog = CatalogCache(session)
    total = 0
    for price_id, quantity in after:
        probe = SubscriptionItem(price_id=price_id, quantity=quantity)
        resolved = resolve_item_price(
            session, subscription, probe, on_date, now=plan.at, catalog=catalog
        )
        total += line_gross_minor(
            quantity,
            to_major(resolved.unit_amount_minor, subscription.currency),
            subscription.currency,
        )
    return total


__all__ = [
    "ChangePreview",
    "NextInvoicePreview",
    "PreviewDocument",
    "PreviewLine",
    "preview_change",
    "preview_next_invoice",
]
