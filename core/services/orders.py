"""Orders: what a customer bought outside a subscription (a domain, a set-up, a certificate).

An order records the priced lines at the moment it is placed; invoicing it issues one
invoice linked back to it (``Invoice.order_id``), so refunds keep order, invoice and
payment in step (:mod:`praho.core.services.refund_settlement` moves the order's refund
state). Subscriptions do not go through orders: renewals are invoiced by the billing run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now
from praho.core.errors import FieldError, InvalidTransition, NotFound, ValidationFailed
from praho.core.models.catalog import Price
from praho.core.models.customers import Customer, CustomerStatus
from praho.core.models.invoices import DocumentStatus, Invoice
from praho.core.models.orders import Order, OrderLine, OrderStatus
from praho.core.money import to_major
from praho.core.pricing import DraftLine
from praho.core.services.audit import Actor, record_audit
from praho.core.services.catalog import price_version_on
from praho.core.services.invoicing import create_draft
from praho.core.services.issuing import issue_document
from praho.core.services.totals import line_gross_minor
from sqlalchemy import select
from sqlalchemy.orm import Session

MAX_ORDER_LINES = 100


@dataclass(frozen=True)
class OrderItem:
    """One price bought, ``quantity`` times."""

    price: Price | str
    quantity: Decimal | int | str = 1


def place_order(session: Session, *, customer: Customer, items: list[OrderItem],
                note: str | None = None, actor: Actor | None = None,
                now: datetime | None = None) -> Order:
    """Record what the customer bought, priced at today's price versions."""
    moment = resolve_now(now)
    today = business_date(moment)
    errors = v.Collector()
    if customer.status != CustomerStatus.ACTIVE:
        errors.errors.append(FieldError("customer", f"customer {customer.code} is {customer.status}"))
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ORDER_LINES:
        raise ValidationFailed([FieldError("items", f"must list 1 to {MAX_ORDER_LINES} items")])
    note_text = errors.check(v.text, "note", note, max_length=500, required=False)
    lines: list[OrderLine] = []
    currency: str | None = None
    for index, item in enumerate(items):
        price = item.price if isinstance(item.price, Price) else session.execute(
            select(Price).where(Price.code == str(item.price))).scalar_one_or_none()
        quantity = errors.check(v.quantity, f"items[{index}].quantity", item.quantity)
        if price is None:
            errors.errors.append(FieldError(f"items[{index}].price", f"no price {item.price!r}"))
            continue
        currency = currency or price.currency
        if price.currency != currency:
            errors.errors.append(FieldError(f"items[{index}].price",
                                            f"is in {price.currency}; the order is in {currency}"))
            continue
        try:
            version = price_version_on(session, price, today)
        except NotFound as error:
            errors.errors.append(FieldError(f"items[{index}].price", error.message))
            continue
        if quantity is None:
            continue
        # Priced exactly as the invoice line will be (half-up, BR-LIN-04), so the order
        # and its invoice never differ by a minor unit.
        amount = line_gross_minor(quantity, to_major(version.unit_amount_minor, currency),
                                  currency)
        lines.append(OrderLine(position=index + 1, product_id=price.product_id, price_id=price.id,
                               description=price.product.name[:200], quantity=quantity,
                               unit_amount_minor=version.unit_amount_minor, amount_minor=amount))
    errors.raise_if_any()
    assert currency is not None
    order = Order(number=f"ORD-{today:%Y%m%d}-{secrets.token_hex(4).upper()}",
                  customer_id=customer.id, currency=currency, status=OrderStatus.PLACED,
                  total_minor=sum(line.amount_minor for line in lines), placed_at=moment,
                  notes=note_text, lines=lines, created_at=moment)
    session.add(order)
    session.flush()
    record_audit(session, actor=actor, action="order.placed", object_type="order",
                 object_id=order.number, amount_minor=order.total_minor, currency=currency,
                 now=moment, data={"customer": customer.code, "lines": len(lines)})
    return order


def order_invoice(session: Session, order: Order) -> Invoice | None:
    """The issued invoice of an order, if it has one."""
    return session.execute(select(Invoice).where(
        Invoice.order_id == order.id, Invoice.status == DocumentStatus.ISSUED)).scalar_one_or_none()


def invoice_order(session: Session, order: Order, *, actor: Actor | None = None,
                  now: datetime | None = None) -> Invoice:
    """Issue the order's invoice (VAT decided at issue); asking again returns the same one."""
    moment = resolve_now(now)
    existing = order_invoice(session, order)
    if existing is not None:
        return existing
    if order.status != OrderStatus.PLACED:
        raise InvalidTransition(f"order {order.number} is {order.status}; only a placed order is invoiced")
    customer = session.get(Customer, order.customer_id)
    assert customer is not None
    draft = create_draft(session, customer=customer, currency=order.currency, now=moment, lines=[
        DraftLine(item_name=line.description, quantity=line.quantity,
                  unit_price=to_major(line.unit_amount_minor, order.currency),
                  product_id=line.product_id, price_id=line.price_id)
        for line in sorted(order.lines, key=lambda l: l.position)
    ])
    draft.order_id = order.id
    invoice = issue_document(session, draft, actor=actor, now=moment)
    order.status = OrderStatus.COMPLETED
    session.flush()
    return invoice


def cancel_order(session: Session, order: Order, *, reason: str, actor: Actor | None = None,
                 now: datetime | None = None) -> Order:
    """Cancel a placed order that was not invoiced (an invoiced one is refunded instead)."""
    moment = resolve_now(now)
    reason_text = v.text("reason", reason, max_length=300)
    if order.status != OrderStatus.PLACED or order_invoice(session, order) is not None:
        raise InvalidTransition(f"order {order.number} is {order.status}; refund its invoice instead")
    order.status = OrderStatus.CANCELLED
    session.flush()
    record_audit(session, actor=actor, action="order.cancelled", object_type="order",
                 object_id=order.number, now=moment, data={"reason": reason_text})
    return order
