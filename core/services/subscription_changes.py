"""Changing a running subscription: plan, quantity, add-ons, with proration.

Each change is validated, prorated (:mod:`praho.core.services.proration`) and settled
in one savepoint: the items change, and the proration is invoiced now, left for the next
renewal, or credited (:mod:`praho.core.services.proration_credits`). A refused change
writes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError, InvalidTransition, ValidationFailed
from praho.core.models.catalog import Price
from praho.core.models.invoices import Invoice
from praho.core.models.subscriptions import (
    ItemRole,
    PendingProration,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
)
from praho.core.services.audit import Actor, record_audit
from praho.core.services.invoicing import add_line, copy_corrected_tax
from praho.core.services.issuing import issue_document
from praho.core.services.proration import (
    ChangeResult,
    ItemChange,
    ProrationBehavior,
    ProrationPlan,
    compute_proration,
)
from praho.core.services.proration_credits import issue_proration_credit
from praho.core.services.renewal import subscription_draft
from praho.core.services.subscription_state import lock_subscription, record_event
from sqlalchemy.orm import Session

S = SubscriptionStatus


def change_plan(
    session: Session,
    subscription: Subscription,
    new_price: Price,
    *,
    quantity: Decimal | int | str | None = None,
    proration: ProrationBehavior | str = ProrationBehavior.INVOICE_NOW,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> ChangeResult:
    """Move the plan item to ``new_price`` (upgrade or downgrade), prorated by the second."""
    subscription = lock_subscription(session, subscription)
    changes = plan_change_items(subscription, new_price, quantity)
    return apply_changes(
        session,
        subscription,
        changes,
        proration=proration,
        event="plan_changed",
        actor=actor,
        now=now,
    )


def change_quantity(
    session: Session,
    subscription: Subscription,
    item: SubscriptionItem,
    quantity: Decimal | int | str,
    *,
    proration: ProrationBehavior | str = ProrationBehavior.INVOICE_NOW,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> ChangeResult:
    """Change an item's quantity (seats, mailboxes, IPs), prorated the same way."""
    subscription = lock_subscription(session, subscription)
    changes = quantity_change_items(session, subscription, item, quantity)
    return apply_changes(
        session,
        subscription,
        changes,
        proration=proration,
        event="quantity_changed",
        actor=actor,
        now=now,
    )


def add_addon(
    session: Session,
    subscription: Subscription,
    price: Price,
    *,
    quantity: Decimal | int | str = 1,
    proration: ProrationBehavior | str = ProrationBehavior.INVOICE_NOW,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> ChangeResult:
    """Add an add-on item; the rest of the current period is charged by the second."""
    subscription = lock_subscription(session, subscription)
    changes = addon_items(subscription, price, quantity)
    return apply_changes(
        session,
        subscription,
        changes,
        proration=proration,
        event="addon_added",
        actor=actor,
        now=now,
    )


def remove_addon(
    session: Session,
    subscription: Subscription,
    item: SubscriptionItem,
    *,
    proration: ProrationBehavior | str = ProrationBehavior.INVOICE_NOW,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> ChangeResult:
    """Remove an add-on; its unused time is credited to the customer's balance."""
    subscription = lock_subscription(session, subscription)
    current = _own_item(subscription, item)
    if current.role == ItemRole.PLAN:
        raise InvalidTransition(
            "the plan item cannot be removed; change the plan or cancel instead"
        )
    return apply_changes(
        session,
        subscription,
        [ItemChange(current, None, Decimal(0))],
        proration=proration,
        event="addon_removed",
        actor=actor,
        now=now,
    )


def _changeable(subscription: Subscription) -> None:
    if subscription.status not in (S.TRIALING, S.ACTIVE, S.PAST_DUE):
        raise InvalidTransition(
            f"subscription {subscription.id} is {subscription.status}; "
            "only a running subscription can be changed"
        )


def _check_price(subscription: Subscription, price: Price, field_name: str) -> None:
    errors = []
    if not isinstance(price, Price):
        raise ValidationFailed([FieldError(field_name, "must be a catalog price")])
    if not price.active:
        errors.append(FieldError(field_name, f"price {price.code} is not active"))
    if price.currency != subscription.currency:
        errors.append(
            FieldError(
                field_name,
                f"{price.code} is in {price.currency}; the subscription "
                f"bills in {subscription.currency}",
            )
        )
    if price.interval_months != subscription.billing_cycle_months:
        errors.append(
            FieldError(
                field_name,
                f"{price.code} bills every {price.interval_months} month(s); "
                f"the subscription every {subscription.billing_cycle_months} "
                "(cancel and start a new subscription to change the cycle)",
            )
        )
    if errors:
        raise ValidationFailed(errors)


def _own_item(subscription: Subscription, item: SubscriptionItem) -> SubscriptionItem:
    for candidate in subscription.active_items:
        if candidate.id == item.id:
            return candidate
    raise ValidationFailed(
        [
            FieldError(
                "item", f"item {item.id} is not an active item of subscription {subscription.id}"
            )
        ]
    )


def plan_change_items(
    subscription: Subscription, new_price: Price, quantity: Decimal | int | str | None
) -> list[ItemChange]:
    """The item change a plan change makes (validated)."""
    _changeable(subscription)
    _check_price(subscription, new_price, "new_price")
    plan_item = next((i for i in subscription.active_items if i.role == ItemRole.PLAN), None)
    if plan_item is None:
        raise InvalidTransition(f"subscription {subscription.id} has no plan item")
    new_quantity = v.quantity("quantity", plan_item.quantity if quantity is None else quantity)
    if new_price.id == plan_item.price_id and new_quantity == plan_item.quantity:
        raise ValidationFailed(
            [FieldError("new_price", "is the current plan and quantity; nothing to change")]
        )
    return [ItemChange(plan_item, new_price, new_quantity)]


def quantity_change_items(
    session: Session,
    subscription: Subscription,
    item: SubscriptionItem,
    quantity: Decimal | int | str,
) -> list[ItemChange]:
    """The item change a quantity change makes (validated)."""
    _changeable(subscription)
    current = _own_item(subscription, item)
    new_quantity = v.quantity("quantity", quantity)
    if new_quantity == current.quantity:
        raise ValidationFailed(
            [FieldError("quantity", f"is already {current.quantity.normalize():f}")]
        )
    price = session.get(Price, current.price_id)
    assert price is not None
    return [ItemChange(current, price, new_quantity)]


def addon_items(
    subscription: Subscription, price: Price, quantity: Decimal | int | str
) -> list[ItemChange]:
    """The item change adding an add-on makes (validated)."""
    _changeable(subscription)
    _check_price(subscription, price, "price")
    return [ItemChange(None, price, v.quantity("quantity", quantity))]


def apply_changes(
    session: Session,
    subscription: Subscription,
    changes: list[ItemChange],
    *,
    proration: ProrationBehavior | str,
    event: str,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> ChangeResult:
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
        data = {
            "changes": [
                {
                    "item_id": item.id,
                    "price_id": item.price_id,
                    "quantity": str(item.quantity),
                    "removed": item.removed_at is not None,
                }
                for item in result.items
            ],
            "proration": str(behavior),
            "settlement": plan.settlement,
            "credit_minor": plan.credit_minor,
            "charge_minor": plan.charge_minor,
            "documents": [d.full_number for d in result.documents],
        }
        record_event(session, subscription, event, now=moment, actor=actor, data=data)
        record_audit(
            session,
            actor=actor,
            action=f"subscription.{event}",
            object_type="subscription",
            object_id=subscription.id,
            amount_minor=plan.net_minor,
            currency=subscription.currency,
            now=moment,
            data=data,
        )
        subscription.updated_at = moment
        session.flush()
    return result


def _change_items(
    session: Session,
    subscription: Subscription,
    changes: list[ItemChange],
    plan: ProrationPlan,
    moment: datetime,
) -> list[SubscriptionItem]:
    charged = {line.change_index for line in plan.lines if line.kind == "charge"}
    prorated = plan.settlement != "none" or bool(plan.lines)
    touched = []
    for index, change in enumerate(changes):
        item = change.item
        if item is None:
            assert change.new_price is not None
            item = SubscriptionItem(
                price_id=change.new_price.id,
                role=ItemRole.ADDON,
                quantity=change.new_quantity,
                created_at=moment,
                attributes={},
            )
            subscription.items.append(item)
        elif change.new_price is None:
            item.removed_at = moment
        else:
            item.price_id = change.new_price.id
            item.quantity = change.new_quantity
        if prorated and index in charged:
            # The rest of the period is now billed at the new price: the item counts as
            # billed, and later credits give back that charge (proration_credits).
            item.billed_unit_amount_minor = plan.new_unit_amounts[index]
            item.billed_quantity = change.new_quantity
        touched.append(item)
    session.flush()
    return touched


def _bind_new_items(plan: ProrationPlan, items: list[SubscriptionItem]) -> None:
    """Lines of add-ons created by the change now name their item (later credits find them)."""
    plan.lines = [
        line
        if line.subscription_item_id is not None
        else replace(
            line,
            subscription_item_id=items[line.change_index].id,
            details={**line.details, "subscription_item_id": items[line.change_index].id},
        )
        for line in plan.lines
    ]


def _issue_invoice(
    session: Session,
    subscription: Subscription,
    plan: ProrationPlan,
    moment: datetime,
    actor: Actor | None,
) -> Invoice:
    draft = subscription_draft(
        session,
        subscription,
        now=moment,
        attributes={"proration": {"subscription_id": subscription.id, "at": moment.isoformat()}},
    )
    for line in plan.lines:
        if line.corrects is None:
            add_line(session, draft, line.draft(), now=moment)
            continue
        # The unused time reduces the supply of the invoice that billed the period: that
        # line's VAT, kept through issuing even if the rate changed since (art. 287).
        fixed = replace(line.draft(), details={**line.details, "tax_fixed": True})
        copy_corrected_tax(add_line(session, draft, fixed, now=moment), line.corrects)
    return issue_document(session, draft, actor=actor, now=moment)


def _store_pending(
    session: Session, subscription: Subscription, plan: ProrationPlan, moment: datetime
) -> list[PendingProration]:
    rows = []
    for line in plan.lines:
        rows.append(
            PendingProration(
                subscription_id=subscription.id,
                subscription_item_id=line.subscription_item_id,
                created_at=moment,
                item_name=line.item_name,
                description=line.description,
                product_id=line.product_id,
                price_id=line.price_id,
                quantity=line.quantity,
                unit_price=line.unit_price,
                unit_code=line.unit_code,
                net_amount_minor=line.amount_minor,
                currency=subscription.currency,
                period_start=line.period_start,
                period_end=line.period_end,
                details=line.details,
            )
        )
    session.add_all(rows)
    session.flush()
    return rows
