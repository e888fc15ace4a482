"""What a subscription's next document contains: resolved prices and draft lines.

Shared by the billing run, the preview and proration, so that a preview shows exactly
what the run will issue. Price resolution asks the plugins first
(``resolve_subscription_price``: grandfathered or promotional prices), then falls back
to the catalog's price version effective at the start of the period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from praho.core.errors import FieldError, NotFound, PrahoError, ValidationFailed
from praho.core.models.catalog import Price, PriceVersion, Product
from praho.core.models.customers import Customer, InvoiceMode
from praho.core.models.invoices import DocumentKind, Invoice, LineKind
from praho.core.models.subscriptions import PendingProration, Subscription, SubscriptionItem
from praho.core.money import to_major
from praho.core.pricing import DraftLine, ResolvedPrice
from praho.core.services.billing_cycles import (
    Period,
    cycle_label,
    first_period,
    prorated_unit_price,
)
from praho.core.services.bulk_sql import ids_in
from praho.core.services.catalog import price_version_on
from praho.core.services.invoicing import FIXED_TAX
from praho.core.services.proration_credits import waiting_credit_tax
from praho.core.services.subscription_state import hooks
from sqlalchemy import select
from sqlalchemy.orm import Session


class PriceUnavailable(PrahoError):
    """No price could be resolved for a subscription item (no version, wrong currency)."""

    code = "price_unavailable"


def document_kind_for(customer: Customer) -> DocumentKind:
    """Invoice, or proforma for customers who pay before the fiscal invoice is issued."""
    return (
        DocumentKind.PROFORMA
        if customer.invoice_mode == InvoiceMode.PROFORMA
        else DocumentKind.INVOICE
    )


def subscription_draft(
    session: Session, subscription: Subscription, *, now: datetime, attributes: dict[str, Any]
) -> Invoice:
    """A draft document of a subscription outside the billing run (a proration, the end).

    The customer's kind (invoice or proforma), the subscription's currency and seller;
    ``attributes`` say why it exists.
    """
    from praho.core.services.invoicing import create_draft

    customer = session.get(Customer, subscription.customer_id)
    assert customer is not None
    draft = create_draft(
        session,
        customer=customer,
        kind=document_kind_for(customer),
        currency=subscription.currency,
        now=now,
    )
    draft.seller_id = subscription.seller_id
    draft.subscription_id = subscription.id
    draft.attributes = attributes
    return draft


def period_to_bill(subscription: Subscription, start: date) -> tuple[Period, Period | None]:
    """The period starting on ``start`` and, when it is partial, the full period it is part of."""
    return first_period(start, subscription.billing_cycle_months, subscription.anchor_day)


@dataclass
class CatalogCache:
    """Per-run memo of catalog rows and price versions (prices do not change mid-run)."""

    session: Session
    products: dict[int, Product] = field(default_factory=dict)
    prices: dict[int, Price] = field(default_factory=dict)
    versions: dict[tuple[int, date], PriceVersion] = field(default_factory=dict)

    def price(self, price_id: int) -> Price:
        """A price by id."""
        if price_id not in self.prices:
            price = self.session.get(Price, price_id)
            if price is None:
                raise NotFound(f"no price {price_id}")
            self.prices[price_id] = price
        return self.prices[price_id]

    def product(self, product_id: int) -> Product:
        """A product by id."""
        if product_id not in self.products:
            product = self.session.get(Product, product_id)
            if product is None:
                raise NotFound(f"no product {product_id}")
            self.products[product_id] = product
        return self.products[product_id]

    def version_on(self, price: Price, on_date: date) -> PriceVersion:
        """The version in effect on ``on_date`` (catalog.price_version_on, memoised)."""
        key = (price.id, on_date)
        if key not in self.versions:
            try:
                self.versions[key] = price_version_on(self.session, price, on_date)
            except NotFound as exc:
                raise PriceUnavailable(exc.message) from None
        return self.versions[key]


def resolve_item_price(
    session: Session,
    subscription: Subscription,
    item: SubscriptionItem,
    on_date: date,
    *,
    now: datetime,
    catalog: CatalogCache,
) -> ResolvedPrice:
    """The unit price of one item for a period starting on ``on_date``.

    Plugins answer first (grandfathering, promotions); the catalog version effective on
    ``on_date`` is the fallback. A price in another currency than the subscription's is
    refused with a reason the finance team can act on.
    """
    resolved = hooks().resolve_subscription_price(
        session=session, subscription=subscription, item=item, period_start=on_date, now=now
    )
    if resolved is None:
        price = catalog.price(item.price_id)
        version = catalog.version_on(price, on_date)
        resolved = ResolvedPrice(
            unit_amount_minor=version.unit_amount_minor,
            currency=price.currency,
            source="catalog",
            reason=f"price {price.code} version effective {version.effective_from}",
            details={"price_version_id": version.id},
        )
    if resolved.currency != subscription.currency:
        raise PriceUnavailable(
            f"item {item.id}: price resolved in {resolved.currency} ({resolved.source}) but the "
            f"subscription bills in {subscription.currency}"
        )
    if not isinstance(resolved.unit_amount_minor, int) or resolved.unit_amount_minor < 0:
        raise PriceUnavailable(
            f"item {item.id}: {resolved.source} returned an invalid amount "
            f"{resolved.unit_amount_minor!r}"
        )
    return resolved


TEXTS = {
    "ro": {
        "period": "Perioada",
        "partial": "perioadă parțială",
        "unused": "Timp neutilizat",
        "remaining": "Timp rămas",
        "seconds": "secunde din",
        "credit": "Credit",
    },
    "en": {
        "period": "Period",
        "partial": "partial period",
        "unused": "Unused time on",
        "remaining": "Remaining time on",
        "seconds": "seconds of",
        "credit": "Credit",
    },
}


def texts(language: str) -> dict[str, str]:
    """Line wording in the customer's language (Romanian unless English is asked for)."""
    return TEXTS.get(language, TEXTS["ro"])


def product_name(product: Product, language: str) -> str:
    """The product's name in the customer's language."""
    return (product.name_en or product.name) if language == "en" else product.name


def format_day(day: date) -> str:
    """``31.03.2026``, the way Romanian documents print dates."""
    return day.strftime("%d.%m.%Y")


@dataclass
class ItemCharge:
    """What one item is billed at for a period (kept to update the item after issuing)."""

    item: SubscriptionItem
    price: ResolvedPrice
    quantity: Decimal


@dataclass
class RenewalLines:
    """The lines of one subscription-period document, before VAT and allowances."""

    period: Period
    full_period: Period | None
    kind: DocumentKind
    lines: list[DraftLine]
    charges: list[ItemCharge]
    pending: list[PendingProration]


def renewal_lines(
    session: Session,
    subscription: Subscription,
    customer: Customer,
    period_start: date,
    *,
    now: datetime,
    catalog: CatalogCache,
    pending: list[PendingProration] | None = None,
) -> RenewalLines:
    """Build the plan and add-on lines for the period starting on ``period_start``.

    A partial first period (start off the anchor day) is charged as the fraction, by the
    second, of the full period it belongs to. Pending proration lines are added after
    (:func:`pending_line`: a waiting credit keeps the VAT of the line it reduces).
    """
    period, full = period_to_bill(subscription, period_start)
    words = texts(customer.language)
    lines: list[DraftLine] = []
    charges: list[ItemCharge] = []
    errors: list[FieldError] = []
    for index, item in enumerate(subscription.active_items):
        try:
            resolved = resolve_item_price(
                session, subscription, item, period.start, now=now, catalog=catalog
            )
        except PriceUnavailable as exc:
            errors.append(FieldError(f"items[{index}].price", exc.message))
            continue
        price = catalog.price(item.price_id)
        product = catalog.product(price.product_id)
        unit = to_major(resolved.unit_amount_minor, subscription.currency)
        details: dict[str, Any] = {
            "subscription_id": subscription.id,
            "subscription_item_id": item.id,
            "price_source": resolved.source,
            "price_reason": resolved.reason[:200],
            "unit_amount_minor": resolved.unit_amount_minor,
            **resolved.details,
        }
        description = (
            f"{words['period']} {format_day(period.start)} - {format_day(period.last_day)}, "
            f"{cycle_label(subscription.billing_cycle_months)}"
        )
        if full is not None:
            unit = prorated_unit_price(unit, period.seconds, full.seconds)
            description += (
                f" ({words['partial']}: {period.seconds} {words['seconds']} {full.seconds})"
            )
            details["partial_period"] = {
                "seconds": period.seconds,
                "full_seconds": full.seconds,
                "full_start": full.start.isoformat(),
                "full_end": full.end.isoformat(),
            }
        lines.append(
            DraftLine(
                item_name=product_name(product, customer.language)[:100],
                description=description[:200],
                quantity=item.quantity,
                unit_price=unit,
                unit_code=product.unit_code,
                product_id=product.id,
                price_id=price.id,
                period_start=period.start,
                period_end=period.last_day,
                kind=LineKind.CHARGE,
                details=details,
            )
        )
        charges.append(ItemCharge(item=item, price=resolved, quantity=item.quantity))
    if errors:
        raise ValidationFailed(errors)
    waiting = list(pending or [])
    for row in waiting:
        lines.append(pending_line(session, row))
    return RenewalLines(
        period=period,
        full_period=full,
        kind=document_kind_for(customer),
        lines=lines,
        charges=charges,
        pending=waiting,
    )


def pending_line(session: Session, row: PendingProration) -> DraftLine:
    """A stored proration line as a draft line of the renewal (or final) document.

    A waiting charge is a supply of this document and gets its VAT decision; a waiting
    credit reduces the supply of the invoice that billed the period and brings that
    line's VAT with it (:func:`proration_credits.waiting_credit_tax`).
    """
    details = {**row.details, "pending_proration_id": row.id}
    kept_tax = waiting_credit_tax(session, row.details)
    if kept_tax is not None:
        details[FIXED_TAX] = kept_tax
    return DraftLine(
        item_name=row.item_name,
        description=row.description,
        quantity=row.quantity,
        unit_price=row.unit_price,
        unit_code=row.unit_code,
        product_id=row.product_id,
        price_id=row.price_id,
        period_start=row.period_start,
        period_end=row.period_end,
        kind=LineKind.PRORATION,
        net_amount_minor=row.net_amount_minor,
        details=details,
    )


def pending_prorations(
    session: Session, subscription_ids: list[int]
) -> dict[int, list[PendingProration]]:
    """Proration lines waiting for the next document, per subscription."""
    if not subscription_ids:
        return {}
    rows = session.execute(
        select(PendingProration)
        .where(
            ids_in(session, PendingProration.subscription_id, subscription_ids),
            PendingProration.invoice_id.is_(None),
        )
        .order_by(PendingProration.id)
    ).scalars()
    grouped: dict[int, list[PendingProration]] = {}
    for row in rows:
        grouped.setdefault(row.subscription_id, []).append(row)
    return grouped
