"""Mid-period changes: plan upgrades and downgrades, quantities, add-ons, by the second.

A change at instant *t* inside the billed period [start, end) produces, for each item:

* a **credit** for the unused part of what the item was actually billed (its credit
  basis, :mod:`praho.core.services.proration_credits`): the unit price of the line
  that charged it for the rest of the period, scaled by the part of that line left
  after its own allowance and its share of coupons and other document allowances, x
  quantity x (seconds from *t* to the end) / (seconds of the full period), never more
  than the line can still be credited, and
* a **charge** for the rest of the period at the new price and quantity: quantity x
  unit price x (seconds from *t* to the end) / (seconds of the full period).

Each becomes a proration line that names the product, the amounts, the dates and the
seconds it covers. A credit reduces the supply of the invoice that billed the period,
so it keeps that invoice line's VAT category and rate (Cod fiscal art. 287), whatever
the rate is on the document that bills it: issued at once, or waiting for the renewal
or final invoice. What happens to the lines depends on the behaviour chosen:

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

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

from praho.core.clock import business_date, resolve_now
from praho.core.models.catalog import Price
from praho.core.models.customers import Customer
from praho.core.models.invoices import Invoice, InvoiceLine, LineKind
from praho.core.models.subscriptions import (
    ItemRole,
    PendingProration,
    Subscription,
    SubscriptionItem,
    SubscriptionPeriod,
    SubscriptionStatus,
)
from praho.core.money import currency_exponent, to_major
from praho.core.pricing import DraftLine
from praho.core.services.billing_cycles import Period, cycle_label, prorated_unit_price
from praho.core.services.proration_credits import CreditBasis, credit_basis
from praho.core.services.renewal import (
    CatalogCache,
    format_day,
    period_to_bill,
    product_name,
    resolve_item_price,
    texts,
)
from praho.core.services.totals import line_gross_minor
from sqlalchemy import select
from sqlalchemy.orm import Session

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
    """A credit (negative) or charge for part of the current period, with its explanation.

    ``corrects`` is set on a credit: the line of the invoice (or unpaid proforma) that
    billed the period, whose VAT the credit keeps when it is issued.
    """

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
    corrects: InvoiceLine | None = field(default=None, compare=False, repr=False)

    def draft(self) -> DraftLine:
        """The line as it goes on a document (credits carry their negative net).

        Its VAT is not fixed here: the services that issue a credit copy the VAT of the
        line it corrects (``corrects``), and a credit that waits brings it when it is
        billed (``renewal.pending_line``); a charge gets its document's decision.
        """
        return DraftLine(
            item_name=self.item_name,
            description=self.description,
            quantity=self.quantity,
            unit_price=self.unit_price,
            unit_code=self.unit_code,
            product_id=self.product_id,
            price_id=self.price_id,
            period_start=self.period_start,
            period_end=self.period_end,
            kind=LineKind.PRORATION,
            net_amount_minor=self.amount_minor if self.kind == "credit" else None,
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
    return (
        session.execute(
            select(SubscriptionPeriod.id).where(
                SubscriptionPeriod.subscription_id == subscription.id,
                SubscriptionPeriod.period_start == subscription.current_period_start,
            )
        ).first()
        is not None
    )


def credit_terms(basis: CreditBasis, left: int, currency: str) -> tuple[Decimal, Decimal, int]:
    """Quantity, unit price and net of the credit for the last ``left`` seconds of ``basis``.

    The basis unit amount x left / seconds as a unit price to 6 decimals (half-up, from
    exact integers, as a charge's unit price is prorated), times the quantity, so the
    line satisfies EN 16931 BR-LIN-04; capped at what can still be credited (then one
    unit of the capped net if the quantity does not divide it).
    """
    quantity = Decimal(basis.quantity)
    # Minor units to millionths of a major unit.
    scale = 10 ** (6 - currency_exponent(currency))
    rate = basis.unit_minor * left * scale
    unit = Decimal(_half_up(rate.numerator, rate.denominator * basis.seconds)).scaleb(-6)
    amount = line_gross_minor(quantity, unit, currency)
    if amount <= basis.room_minor:
        return quantity, unit, amount
    amount = max(basis.room_minor, 0)
    numerator, denominator = quantity.as_integer_ratio()
    unit = Decimal(_half_up(amount * denominator * scale, numerator)).scaleb(-6)
    if line_gross_minor(quantity, unit, currency) == amount:
        return quantity, unit, amount
    return Decimal(1), to_major(amount, currency), amount


def _half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator (>= 0 and > 0) rounded half-up, in integers only."""
    quotient, remainder = divmod(numerator, denominator)
    return quotient + (1 if 2 * remainder >= denominator else 0)


def compute_proration(
    session: Session,
    subscription: Subscription,
    changes: list[ItemChange],
    *,
    behavior: ProrationBehavior,
    now: datetime,
    catalog: CatalogCache | None = None,
) -> ProrationPlan:
    """The proration lines of ``changes`` at ``now``; reads only."""
    moment = resolve_now(now)
    catalog = catalog or CatalogCache(session)
    plan = ProrationPlan(subscription.id, subscription.currency, moment, behavior)
    today = business_date(moment)
    for index, change in enumerate(changes):
        if change.new_price is not None:
            probe = SubscriptionItem(
                price_id=change.new_price.id,
                quantity=change.new_quantity,
                role=change.item.role if change.item else ItemRole.ADDON,
            )
            resolved = resolve_item_price(
                session, subscription, probe, today, now=moment, catalog=catalog
            )
            plan.new_unit_amounts[index] = resolved.unit_amount_minor
    if behavior == ProrationBehavior.NONE:
        plan.note = "no proration: the new prices apply from the next period"
        return plan
    if subscription.status not in (S.ACTIVE, S.PAST_DUE) or not period_is_billed(
        session, subscription
    ):
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
        # The billed mark is cleared once the unused time was credited (pause, cancel).
        if item is not None and item.billed_unit_amount_minor is not None and item.billed_quantity:
            basis = credit_basis(session, subscription, item.id, period, today)
            if basis is not None:
                plan.lines.append(
                    _credit_line(
                        catalog, subscription, customer, index, item, basis, today, period, left
                    )
                )
        if change.new_price is not None:
            plan.lines.append(
                _charge_line(
                    catalog,
                    subscription,
                    customer,
                    index,
                    item.id if item else None,
                    change.new_price,
                    change.new_quantity,
                    plan.new_unit_amounts[index],
                    today,
                    period,
                    left,
                    total,
                )
            )
    plan.lines = [line for line in plan.lines if line.amount_minor != 0]
    return plan


def _credit_line(
    catalog: CatalogCache,
    subscription: Subscription,
    customer: Customer,
    index: int,
    item: SubscriptionItem,
    basis: CreditBasis,
    today: date,
    period: Period,
    left: int,
) -> ProrationLine:
    currency = subscription.currency
    price = catalog.price(basis.price_id or item.price_id)
    product = catalog.product(price.product_id)
    words = texts(customer.language)
    quantity, unit, amount = credit_terms(basis, left, currency)
    description = (
        f"{format_day(today)} - {format_day(period.last_day)}: {quantity.normalize():f} x "
        f"{_amount_text(basis.unit_minor, currency)} {currency} "
        f"{cycle_label(subscription.billing_cycle_months)}, {left} {words['seconds']} "
        f"{basis.seconds}" + (f" ({basis.reference})" if basis.reference else "")
    )
    details: dict[str, Any] = {
        "subscription_id": subscription.id,
        "subscription_item_id": item.id,
        "proration": "credit",
        "price_code": price.code,
        "seconds": left,
        "period_seconds": basis.seconds,
        "from": today.isoformat(),
        "period_end": period.end.isoformat(),
        "basis": basis.explained(),
    }
    if basis.corrects is not None:
        # What later credits of the same line are bounded by (credit_notes.line_balances).
        details["original_line_id"] = basis.corrects.id
    return ProrationLine(
        kind="credit",
        change_index=index,
        subscription_item_id=item.id,
        item_name=f"{words['unused']} {product_name(product, customer.language)}"[:100],
        description=description[:200],
        product_id=product.id,
        price_id=price.id,
        unit_code=product.unit_code,
        quantity=quantity,
        unit_price=unit,
        amount_minor=-amount,
        full_unit_amount_minor=_half_up(basis.unit_minor.numerator, basis.unit_minor.denominator),
        period_start=today,
        period_end=period.last_day,
        seconds=left,
        total_seconds=basis.seconds,
        details=details,
        corrects=basis.corrects,
    )


def _amount_text(amount_minor: Fraction, currency: str) -> str:
    """An exact minor-unit amount in major units: 50.00, or 33.333333 when it has more."""
    if amount_minor.denominator == 1:
        return f"{to_major(amount_minor.numerator, currency)}"
    scaled = amount_minor * 10 ** (6 - currency_exponent(currency))
    return f"{Decimal(_half_up(scaled.numerator, scaled.denominator)).scaleb(-6).normalize():f}"


def _charge_line(
    catalog: CatalogCache,
    subscription: Subscription,
    customer: Customer,
    index: int,
    item_id: int | None,
    price: Price,
    quantity: Decimal,
    unit_minor: int,
    today: date,
    period: Period,
    left: int,
    total: int,
) -> ProrationLine:
    currency = subscription.currency
    product = catalog.product(price.product_id)
    words = texts(customer.language)
    unit = prorated_unit_price(to_major(unit_minor, currency), left, total)
    amount = line_gross_minor(Decimal(quantity), unit, currency)
    full_unit = to_major(unit_minor, currency)
    description = (
        f"{format_day(today)} - {format_day(period.last_day)}: {quantity.normalize():f} x "
        f"{full_unit} {currency} {cycle_label(subscription.billing_cycle_months)}, "
        f"{left} {words['seconds']} {total}"
    )
    return ProrationLine(
        kind="charge",
        change_index=index,
        subscription_item_id=item_id,
        item_name=f"{words['remaining']} {product_name(product, customer.language)}"[:100],
        description=description[:200],
        product_id=product.id,
        price_id=price.id,
        unit_code=product.unit_code,
        quantity=Decimal(quantity),
        unit_price=unit,
        amount_minor=amount,
        full_unit_amount_minor=unit_minor,
        period_start=today,
        period_end=period.last_day,
        seconds=left,
        total_seconds=total,
        details={
            "subscription_id": subscription.id,
            "subscription_item_id": item_id,
            "proration": "charge",
            "price_code": price.code,
            "full_unit_amount_minor": unit_minor,
            "seconds": left,
            "period_seconds": total,
            "from": today.isoformat(),
            "period_end": period.end.isoformat(),
        },
    )
