"""Mid-period changes: plan upgrades and downgrades, quantities, add-ons, by the second.

A change at instant *t* inside the billed period [start, end) produces, for each item:

* a **credit** for the unused part of what was billed: quantity x unit price x
  (seconds from *t* to the end) / (seconds of the full period), and
* a **charge** for the rest of the period at the new price and quantity, same fraction.

Each becomes a proration line that names the product, the prices, the dates and the
seconds it covers. What happens to them depends on the behaviour chosen:

* ``invoice_now``: an upgrade (charge >= credit) is invoiced at once (invoice or
  proforma per customer setting) with both lines; Stripe's behaviour.
* ``next_invoice``: an upgrade's lines wait (:class:`PendingProration`) and appear on
  the next renewal document.
* ``none``: nothing is billed or credited; the new price applies from the next period.

A downgrade (credit > charge) is never a negative invoice and never a surprise refund:
with either ``invoice_now`` or ``next_invoice`` a credit note corrects the invoice that
billed the period (VAT of the corrected line), and the part of the credit the customer
had already paid moves to the customer's credit balance (account 419), which the
payment layer applies to the next invoices.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now
from praho.core.errors import FieldError, InvalidTransition, ValidationFailed
from praho.core.models.catalog import Price
from praho.core.models.customers import Customer
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice, InvoiceLine, LineKind
from praho.core.models.ledger import AccountCode
from praho.core.models.subscriptions import (
    ItemRole,
    PendingProration,
    Subscription,
    SubscriptionItem,
    SubscriptionPeriod,
    SubscriptionStatus,
)
from praho.core.money import to_major
from praho.core.pricing import DraftLine
from praho.core.services import ledger
from praho.core.services.audit import Actor, record_audit
from praho.core.services.billing_cycles import Period, cycle_label, prorated_unit_price
from praho.core.services.credit_notes import creditable_minor
from praho.core.services.invoicing import add_line, create_draft
from praho.core.services.issuing import issue_document
from praho.core.services.renewal import (
    CatalogCache,
    document_kind_for,
    format_day,
    pending_line,
    period_to_bill,
    product_name,
    resolve_item_price,
    texts,
)
from praho.core.services.subscription_state import lock_subscription, record_event
from praho.core.services.totals import compute_totals, line_gross_minor

S = SubscriptionStatus


class ProrationBehavior(StrEnum):
    """What to do with the proration of a mid-period change."""

    INVOICE_NOW = "invoice_now"
    NEXT_INVOICE = "next_invoice"
    NONE = "none"


@dataclass(frozen=True)
class ItemChange:
    """One item's change: ``item`` None adds an add-on, ``new_price`` None removes the item."""

    item: SubscriptionItem | None
    new_price: Price | None
    new_quantity: Decimal


@dataclass(frozen=True)
class ProrationLine:
    """A credit (negative) or charge for part of the current period, with its explanation."""

    kind: str
    change_index: int
    subscription_item_id: int | None
    item_name: str
    description: str
    product_id: int
    price_id: int
    unit_code: str
    quantity: Decimal
    unit_price: Decimal
    amount_minor: int
    full_unit_amount_minor: int
    period_start: date
    period_end: date
    seconds: int
    total_seconds: int
    details: dict[str, Any] = field(default_factory=dict)

    def draft(self) -> DraftLine:
        """The line as it goes on a document (credits carry their negative net)."""
        return DraftLine(
            item_name=self.item_name, description=self.description, quantity=self.quantity,
            unit_price=self.unit_price, unit_code=self.unit_code, product_id=self.product_id,
            price_id=self.price_id, period_start=self.period_start, period_end=self.period_end,
            kind=LineKind.PRORATION, net_amount_minor=self.amount_minor if self.kind == "credit" else None,
            details=self.details,
        )


@dataclass
class ProrationPlan:
    """Everything a change would bill or credit, computed without writing."""

    subscription_id: int
    currency: str
    at: datetime
    behavior: ProrationBehavior
    period: Period | None = None
    lines: list[ProrationLine] = field(default_factory=list)
    new_unit_amounts: dict[int, int] = field(default_factory=dict)
    note: str | None = None

    @property
    def credit_minor(self) -> int:
        """The credit for unused time (positive)."""
        return -sum(line.amount_minor for line in self.lines if line.kind == "credit")

    @property
    def charge_minor(self) -> int:
        """The charge for the rest of the period at the new prices."""
        return sum(line.amount_minor for line in self.lines if line.kind == "charge")

    @property
    def net_minor(self) -> int:
        """Charge minus credit, before VAT: positive for an upgrade."""
        return self.charge_minor - self.credit_minor

    @property
    def settlement(self) -> str:
        """``invoice``, ``pending``, ``credit_note`` or ``none``."""
        if self.behavior == ProrationBehavior.NONE or not self.lines or self.net_minor == 0:
            return "none"
        if self.net_minor < 0:
            return "credit_note"
        return "invoice" if self.behavior == ProrationBehavior.INVOICE_NOW else "pending"


@dataclass
class ChangeResult:
    """What a change did: the plan, the documents issued, the lines left for later."""

    plan: ProrationPlan
    documents: list[Invoice] = field(default_factory=list)
    pending: list[PendingProration] = field(default_factory=list)
    items: list[SubscriptionItem] = field(default_factory=list)


def period_is_billed(session: Session, subscription: Subscription) -> bool:
    """True when the current period has been billed (its claim exists)."""
    return session.execute(
        select(SubscriptionPeriod.id).where(
            SubscriptionPeriod.subscription_id == subscription.id,
            SubscriptionPeriod.period_start == subscription.current_period_start)
    ).first() is not None


def compute_proration(session: Session, subscription: Subscription, changes: list[ItemChange], *,
                      behavior: ProrationBehavior, now: datetime,
                      catalog: CatalogCache | None = None) -> ProrationPlan:
    """The proration lines of ``changes`` at ``now``; reads only."""
    moment = resolve_now(now)
    catalog = catalog or CatalogCache(session)
    plan = ProrationPlan(subscription.id, subscription.currency, moment, behavior)
    today = business_date(moment)
    for index, change in enumerate(changes):
        if change.new_price is not None:
            probe = SubscriptionItem(price_id=change.new_price.id, quantity=change.new_quantity,
                                     role=change.item.role if change.item else ItemRole.ADDON)
            resolved = resolve_item_price(session, subscription, probe, today, now=moment, catalog=catalog)
            plan.new_unit_amounts[index] = resolved.unit_amount_minor
    if behavior == ProrationBehavior.NONE:
        plan.note = "no proration: the new prices apply from the next period"
        return plan
    if subscription.status not in (S.ACTIVE, S.PAST_DUE) or not period_is_billed(session, subscription):
        plan.note = "the current period is not billed (trial or not started): nothing to prorate"
        return plan
    period, full = period_to_bill(subscription, subscription.current_period_start)
    plan.period = period
    if not period.starts_at <= moment < period.ends_at:
        plan.note = "the change is outside the billed period: nothing to prorate"
        return plan
    total = (full or period).seconds
    left = period.seconds_left(moment)
    customer = session.get(Customer, subscription.customer_id)
    assert customer is not None
    for index, change in enumerate(changes):
        item = change.item
        if item is not None and item.billed_unit_amount_minor is not None and item.billed_quantity:
            plan.lines.append(_line(catalog, subscription, customer, "credit", index, item.id,
                                    catalog.price(item.price_id), item.billed_quantity,
                                    item.billed_unit_amount_minor, today, period, left, total))
        if change.new_price is not None:
            plan.lines.append(_line(catalog, subscription, customer, "charge", index,
                                    item.id if item else None, change.new_price, change.new_quantity,
                                    plan.new_unit_amounts[index], today, period, left, total))
    plan.lines = [line for line in plan.lines if line.amount_minor != 0]
    return plan


def _line(catalog: CatalogCache, subscription: Subscription, customer: Customer, kind: str, index: int,
          item_id: int | None, price: Price, quantity: Decimal, unit_minor: int, today: date,
          period: Period, left: int, total: int) -> ProrationLine:
    currency = subscription.currency
    product = catalog.product(price.product_id)
    words = texts(customer.language)
    unit = prorated_unit_price(to_major(unit_minor, currency), left, total)
    amount = line_gross_minor(Decimal(quantity), unit, currency)
    label = words["unused"] if kind == "credit" else words["remaining"]
    full_unit = to_major(unit_minor, currency)
    description = (f"{format_day(today)} - {format_day(period.last_day)}: {quantity.normalize():f} x "
                   f"{full_unit} {currency} {cycle_label(subscription.billing_cycle_months)}, "
                   f"{left} {words['seconds']} {total}")
    return ProrationLine(
        kind=kind, change_index=index, subscription_item_id=item_id,
        item_name=f"{label} {product_name(product, customer.language)}"[:100], description=description[:200],
        product_id=product.id, price_id=price.id, unit_code=product.unit_code, quantity=Decimal(quantity),
        unit_price=unit, amount_minor=-amount if kind == "credit" else amount,
        full_unit_amount_minor=unit_minor, period_start=today, period_end=period.last_day,
        seconds=left, total_seconds=total,
        details={"subscription_id": subscription.id, "subscription_item_id": item_id, "proration": kind,
                 "price_code": price.code, "full_unit_amount_minor": unit_minor,
                 "seconds": left, "period_seconds": total,
                 "from": today.isoformat(), "period_end": period.end.isoformat()},
    )


# --- the changes customers make ------------------------------------------------------


def change_plan(session: Session, subscription: Subscription, new_price: Price, *,
                quantity: Decimal | int | str | None = None,
                proration: ProrationBehavior | str = ProrationBehavior.INVOICE_NOW,
                actor: Actor | None = None, now: datetime | None = None) -> ChangeResult:
    """Move the plan item to ``new_price`` (upgrade or downgrade), prorated by the second."""
    subscription = lock_subscription(session, subscription)
    changes = plan_change_items(subscription, new_price, quantity)
    return apply_changes(session, subscription, changes, proration=proration, event="plan_changed",
                         actor=actor, now=now)


def change_quantity(session: Session, subscription: Subscription, item: SubscriptionItem,
                    quantity: Decimal | int | str, *,
                    proration: ProrationBehavior | str = ProrationBehavior.INVOICE_NOW,
                    actor: Actor | None = None, now: datetime | None = None) -> ChangeResult:
    """Change an item's quantity (seats, mailboxes, IPs), prorated the same way."""
    subscription = lock_subscription(session, subscription)
    changes = quantity_change_items(session, subscription, item, quantity)
    return apply_changes(session, subscription, changes, proration=proration, event="quantity_changed",
                         actor=actor, now=now)


def add_addon(session: Session, subscription: Subscription, price: Price, *,
              quantity: Decimal | int | str = 1,
              proration: ProrationBehavior | str = ProrationBehavior.INVOICE_NOW,
              actor: Actor | None = None, now: datetime | None = None) -> ChangeResult:
    """Add an add-on item; the rest of the current period is charged by the second."""
    subscription = lock_subscription(session, subscription)
    changes = addon_items(subscription, price, quantity)
    return apply_changes(session, subscription, changes, proration=proration, event="addon_added",
                         actor=actor, now=now)


def remove_addon(session: Session, subscription: Subscription, item: SubscriptionItem, *,
                 proration: ProrationBehavior | str = ProrationBehavior.INVOICE_NOW,
                 actor: Actor | None = None, now: datetime | None = None) -> ChangeResult:
    """Remove an add-on; its unused time is credited to the customer's balance."""
    subscription = lock_subscription(session, subscription)
    current = _own_item(subscription, item)
    if current.role == ItemRole.PLAN:
        raise InvalidTransition("the plan item cannot be removed; change the plan or cancel instead")
    return apply_changes(session, subscription, [ItemChange(current, None, Decimal(0))],
                         proration=proration, event="addon_removed", actor=actor, now=now)


def _changeable(subscription: Subscription) -> None:
    if subscription.status not in (S.TRIALING, S.ACTIVE, S.PAST_DUE):
        raise InvalidTransition(f"subscription {subscription.id} is {subscription.status}; "
                                "only a running subscription can be changed")


def _check_price(subscription: Subscription, price: Price, field_name: str) -> None:
    errors = []
    if not isinstance(price, Price):
        raise ValidationFailed([FieldError(field_name, "must be a catalog price")])
    if not price.active:
        errors.append(FieldError(field_name, f"price {price.code} is not active"))
    if price.currency != subscription.currency:
        errors.append(FieldError(field_name, f"{price.code} is in {price.currency}; the subscription "
                                 f"bills in {subscription.currency}"))
    if price.interval_months != subscription.billing_cycle_months:
        errors.append(FieldError(field_name, f"{price.code} bills every {price.interval_months} month(s); "
                                 f"the subscription every {subscription.billing_cycle_months} "
                                 "(cancel and start a new subscription to change the cycle)"))
    if errors:
        raise ValidationFailed(errors)


def _own_item(subscription: Subscription, item: SubscriptionItem) -> SubscriptionItem:
    for candidate in subscription.active_items:
        if candidate.id == item.id:
            return candidate
    raise ValidationFailed([FieldError("item", f"item {item.id} is not an active item of "
                                               f"subscription {subscription.id}")])


def plan_change_items(subscription: Subscription, new_price: Price,
                      quantity: Decimal | int | str | None) -> list[ItemChange]:
    """The item change a plan change makes (validated)."""
    _changeable(subscription)
    _check_price(subscription, new_price, "new_price")
    plan_item = next((i for i in subscription.active_items if i.role == ItemRole.PLAN), None)
    if plan_item is None:
        raise InvalidTransition(f"subscription {subscription.id} has no plan item")
    new_quantity = v.quantity("quantity", plan_item.quantity if quantity is None else quantity)
    if new_price.id == plan_item.price_id and new_quantity == plan_item.quantity:
        raise ValidationFailed([FieldError("new_price", "is the current plan and quantity; nothing to change")])
    return [ItemChange(plan_item, new_price, new_quantity)]


def quantity_change_items(session: Session, subscription: Subscription, item: SubscriptionItem,
                          quantity: Decimal | int | str) -> list[ItemChange]:
    """The item change a quantity change makes (validated)."""
    _changeable(subscription)
    current = _own_item(subscription, item)
    new_quantity = v.quantity("quantity", quantity)
    if new_quantity == current.quantity:
        raise ValidationFailed([FieldError("quantity", f"is already {current.quantity.normalize():f}")])
    price = session.get(Price, current.price_id)
    assert price is not None
    return [ItemChange(current, price, new_quantity)]


def addon_items(subscription: Subscription, price: Price, quantity: Decimal | int | str) -> list[ItemChange]:
    """The item change adding an add-on makes (validated)."""
    _changeable(subscription)
    _check_price(subscription, price, "price")
    return [ItemChange(None, price, v.quantity("quantity", quantity))]


def apply_changes(session: Session, subscription: Subscription, changes: list[ItemChange], *,
                  proration: ProrationBehavior | str, event: str, actor: Actor | None = None,
                  now: datetime | None = None) -> ChangeResult:
    """Compute the proration, change the items and settle it (all or nothing)."""
    moment = resolve_now(now)
    behavior = ProrationBehavior(v.choice("proration", proration, ProrationBehavior))
    plan = compute_proration(session, subscription, changes, behavior=behavior, now=moment)
    result = ChangeResult(plan)
    with session.begin_nested():
        result.items = _change_items(session, subscription, changes, plan, moment)
        _bind_new_items(plan, result.items)
        if plan.settlement == "invoice":
            result.documents.append(_issue_invoice(session, subscription, plan, moment, actor))
        elif plan.settlement == "pending":
            result.pending = _store_pending(session, subscription, plan, moment)
        elif plan.settlement == "credit_note":
            result.documents += issue_proration_credit(session, subscription, plan, moment, actor)
        data = {"changes": [{"item_id": item.id, "price_id": item.price_id, "quantity": str(item.quantity),
                             "removed": item.removed_at is not None} for item in result.items],
                "proration": str(behavior), "settlement": plan.settlement,
                "credit_minor": plan.credit_minor, "charge_minor": plan.charge_minor,
                "documents": [d.full_number for d in result.documents]}
        record_event(session, subscription, event, now=moment, actor=actor, data=data)
        record_audit(session, actor=actor, action=f"subscription.{event}", object_type="subscription",
                     object_id=subscription.id, amount_minor=plan.net_minor, currency=subscription.currency,
                     now=moment, data=data)
        subscription.updated_at = moment
        session.flush()
    return result


def _change_items(session: Session, subscription: Subscription, changes: list[ItemChange],
                  plan: ProrationPlan, moment: datetime) -> list[SubscriptionItem]:
    charged = {line.change_index for line in plan.lines if line.kind == "charge"}
    prorated = plan.settlement != "none" or bool(plan.lines)
    touched = []
    for index, change in enumerate(changes):
        item = change.item
        if item is None:
            assert change.new_price is not None
            item = SubscriptionItem(price_id=change.new_price.id, role=ItemRole.ADDON,
                                    quantity=change.new_quantity, created_at=moment, attributes={})
            subscription.items.append(item)
        elif change.new_price is None:
            item.removed_at = moment
        else:
            item.price_id = change.new_price.id
            item.quantity = change.new_quantity
        if prorated and index in charged:
            # The rest of the period is now billed at the new price: later credits use it.
            item.billed_unit_amount_minor = plan.new_unit_amounts[index]
            item.billed_quantity = change.new_quantity
        touched.append(item)
    session.flush()
    return touched


def _bind_new_items(plan: ProrationPlan, items: list[SubscriptionItem]) -> None:
    """Lines of add-ons created by the change now name their item (later credits find them)."""
    plan.lines = [
        line if line.subscription_item_id is not None else replace(
            line, subscription_item_id=items[line.change_index].id,
            details={**line.details, "subscription_item_id": items[line.change_index].id})
        for line in plan.lines
    ]


def _issue_invoice(session: Session, subscription: Subscription, plan: ProrationPlan, moment: datetime,
                   actor: Actor | None) -> Invoice:
    customer = session.get(Customer, subscription.customer_id)
    assert customer is not None
    draft = create_draft(session, customer=customer, kind=document_kind_for(customer),
                         currency=subscription.currency, now=moment)
    draft.seller_id = subscription.seller_id
    draft.subscription_id = subscription.id
    draft.attributes = {"proration": {"subscription_id": subscription.id, "at": moment.isoformat()}}
    for line in plan.lines:
        add_line(session, draft, line.draft(), now=moment)
    return issue_document(session, draft, actor=actor, now=moment)


def _store_pending(session: Session, subscription: Subscription, plan: ProrationPlan,
                   moment: datetime) -> list[PendingProration]:
    rows = []
    for line in plan.lines:
        rows.append(PendingProration(
            subscription_id=subscription.id, subscription_item_id=line.subscription_item_id, created_at=moment,
            item_name=line.item_name, description=line.description, product_id=line.product_id,
            price_id=line.price_id, quantity=line.quantity, unit_price=line.unit_price,
            unit_code=line.unit_code, net_amount_minor=line.amount_minor, currency=subscription.currency,
            period_start=line.period_start, period_end=line.period_end,
            details=line.details))
    session.add_all(rows)
    session.flush()
    return rows


# --- credits ---------------------------------------------------------------------------


def billed_line(session: Session, subscription: Subscription, item_id: int,
                on_date: date) -> tuple[Invoice, InvoiceLine] | None:
    """The fiscal invoice line that charged ``item_id`` for the period containing ``on_date``.

    A line on a proforma counts once the proforma was converted into an invoice; an
    unpaid proforma cannot be corrected by a credit note, which is refused clearly.
    """
    documents = session.execute(
        select(Invoice).where(Invoice.subscription_id == subscription.id,
                              Invoice.status == DocumentStatus.ISSUED,
                              Invoice.kind.in_([DocumentKind.INVOICE, DocumentKind.PROFORMA]))
        .order_by(Invoice.id.desc()).limit(50)
    ).scalars()
    for document in documents:
        for line in document.lines:
            if (line.details.get("subscription_item_id") != item_id or line.net_amount_minor <= 0
                    or line.period_start is None or line.period_end is None
                    or not line.period_start <= on_date <= line.period_end):
                continue
            if document.kind == DocumentKind.INVOICE:
                return document, line
            fiscal = session.get(Invoice, document.converted_to_id) if document.converted_to_id else None
            if fiscal is None:
                raise InvalidTransition(
                    f"the period was billed on proforma {document.full_number}, which is not paid yet; "
                    "a credit can only correct a fiscal invoice (change with proration 'none', or "
                    "after the proforma is paid)")
            return fiscal, next(l for l in fiscal.lines if l.position == line.position)
    return None


def issue_proration_credit(session: Session, subscription: Subscription, plan: ProrationPlan,
                           moment: datetime, actor: Actor | None) -> list[Invoice]:
    """Credit notes for a net credit, one per corrected invoice; excess to the credit balance."""
    today = business_date(moment)
    groups: dict[int, tuple[Invoice, InvoiceLine, list[ProrationLine]]] = {}
    for line in plan.lines:
        if line.kind != "credit":
            continue
        assert line.subscription_item_id is not None
        found = billed_line(session, subscription, line.subscription_item_id, today)
        if found is None:
            raise InvalidTransition(f"no issued invoice charges item {line.subscription_item_id} for the "
                                    "current period; nothing can be credited")
        groups.setdefault(found[0].id, (found[0], found[1], []))[2].append(line)
    if not groups:
        return []
    first = next(iter(groups))
    credited_changes = {line.change_index: target for target, (_d, _l, lines) in groups.items() for line in lines}
    for line in plan.lines:
        if line.kind == "charge":
            groups[credited_changes.get(line.change_index, first)][2].append(line)
    return [_credit_note(session, subscription, target, source, lines, moment, actor)
            for target, source, lines in groups.values()]


def _credit_note(session: Session, subscription: Subscription, target: Invoice, source: InvoiceLine,
                 lines: list[ProrationLine], moment: datetime, actor: Actor | None) -> Invoice:
    """A credit note with the credit lines (positive) and new charges (negative) for the rest."""
    customer = session.get(Customer, target.customer_id)
    assert customer is not None
    open_before = target.payable_minor - target.amount_paid_minor - target.credited_minor
    note = f"Stornare parțială factura {target.full_number}: modificare abonament {subscription.id}"
    credit_note = create_draft(session, customer=customer, kind=DocumentKind.CREDIT_NOTE,
                               currency=target.currency, note=note[:300], now=moment)
    credit_note.seller_id = target.seller_id
    credit_note.original_invoice_id = target.id
    credit_note.tax_point_date = target.tax_point_date
    credit_note.language = target.language
    credit_note.subscription_id = subscription.id
    credit_note.attributes = {"proration": {"subscription_id": subscription.id, "at": moment.isoformat()}}
    for line in sorted(lines, key=lambda l: l.kind != "credit"):
        draft = line.draft()
        # On a credit note a credit is a positive line and a new charge a negative one.
        amount = -line.amount_minor
        details = {**draft.details, "tax_fixed": True, "original_line_id": source.id} \
            if line.kind == "credit" else draft.details
        record = add_line(session, credit_note, DraftLine(
            item_name=draft.item_name, description=draft.description, quantity=draft.quantity,
            unit_price=draft.unit_price, unit_code=draft.unit_code, product_id=draft.product_id,
            price_id=draft.price_id, period_start=draft.period_start, period_end=draft.period_end,
            kind=LineKind.PRORATION, net_amount_minor=amount if amount < 0 else None, details=details,
        ), now=moment)
        if line.kind == "credit":
            # The VAT of a correction is that of the supply it corrects.
            for name in ("tax_category", "tax_rate", "tax_exemption_code", "tax_exemption_reason", "tax_note"):
                setattr(record, name, getattr(source, name))
    session.flush()
    total = compute_totals(credit_note.lines).total_minor
    if total > creditable_minor(target):
        raise InvalidTransition(
            f"a credit of {to_major(total, target.currency)} exceeds what remains creditable on "
            f"{target.full_number} ({to_major(creditable_minor(target), target.currency)})")
    issue_document(session, credit_note, actor=actor, now=moment)
    target.credited_minor += credit_note.total_minor
    target.updated_at = moment
    session.flush()
    record_audit(session, actor=actor, action="invoice.credited", object_type="invoice",
                 object_id=target.full_number, amount_minor=credit_note.total_minor,
                 currency=target.currency, now=moment,
                 data={"credit_note": credit_note.full_number, "reason": "subscription proration"})
    _excess_to_credit_balance(session, target, credit_note, open_before, moment)
    return credit_note


def _excess_to_credit_balance(session: Session, target: Invoice, credit_note: Invoice,
                              open_before: int, moment: datetime) -> int:
    """Move the part of a credit the customer already paid from receivable to 419."""
    excess = credit_note.total_minor - min(credit_note.total_minor, max(open_before, 0))
    if excess <= 0:
        return 0
    common: dict[str, Any] = {"customer_id": target.customer_id}
    ledger.post_entry(
        session, kind="customer_credit",
        memo=f"credit note {credit_note.full_number} to the customer's credit balance",
        postings=[ledger.debit(AccountCode.RECEIVABLE, excess, target.currency, invoice_id=target.id, **common),
                  ledger.credit(AccountCode.CUSTOMER_CREDIT, excess, target.currency, **common)],
        idempotency_key=f"customer-credit:{credit_note.id}", source_type="invoice",
        source_id=credit_note.id, now=moment)
    return excess


def credit_unused_time(session: Session, subscription: Subscription, *, why: str, now: datetime,
                       actor: Actor | None = None) -> int:
    """Credit every item's unused time (pause or cancellation now); returns the net credited."""
    changes = [ItemChange(item, None, Decimal(0)) for item in subscription.active_items]
    plan = compute_proration(session, subscription, changes, behavior=ProrationBehavior.INVOICE_NOW, now=now)
    if not plan.lines:
        return 0
    documents = issue_proration_credit(session, subscription, plan, now, actor)
    for item in subscription.active_items:
        item.billed_unit_amount_minor = None
        item.billed_quantity = None
    record_event(session, subscription, "unused_time_credited", now=now, actor=actor, reason=why,
                 data={"credit_minor": plan.credit_minor, "documents": [d.full_number for d in documents]})
    session.flush()
    return plan.credit_minor


def invoice_pending_prorations(session: Session, subscription: Subscription, *, now: datetime,
                               actor: Actor | None = None) -> Invoice | None:
    """Invoice the proration lines still waiting (the subscription is ending)."""
    rows = list(session.execute(
        select(PendingProration).where(PendingProration.subscription_id == subscription.id,
                                       PendingProration.invoice_id.is_(None))
        .order_by(PendingProration.id)).scalars())
    if not rows or sum(r.net_amount_minor for r in rows) <= 0:
        return None
    customer = session.get(Customer, subscription.customer_id)
    assert customer is not None
    draft = create_draft(session, customer=customer, kind=document_kind_for(customer),
                         currency=subscription.currency, now=now)
    draft.seller_id = subscription.seller_id
    draft.subscription_id = subscription.id
    for row in rows:
        add_line(session, draft, pending_line(row), now=now)
    invoice = issue_document(session, draft, actor=actor, now=now)
    for row in rows:
        row.invoice_id = invoice.id
    session.flush()
    return invoice
