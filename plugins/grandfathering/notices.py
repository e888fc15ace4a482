"""Notices of higher prices: e-mailed in the customer's language, recorded, idempotent by key.

A :class:`PriceNotice` row is what allows price resolution to bill the higher price
from its ``applies_from`` day; the e-mail goes through the core's outbox (queue_email).
"""

from __future__ import annotations

from datetime import date, datetime

from praho.core.clock import business_date
from praho.core.models.catalog import Price, Product
from praho.core.models.customers import Customer
from praho.core.models.subscriptions import Subscription
from praho.core.money import format_amount
from praho.core.services.audit import Actor, record_audit
from praho.core.services.mail import queue_email
from praho.plugins.grandfathering.models import NoticeKind, PriceNotice
from sqlalchemy import select
from sqlalchemy.orm import Session

TEMPLATES = {
    NoticeKind.PRICE_CHANGE: "price_change_notice",
    NoticeKind.LOCK_EXPIRY: "price_lock_expiry",
}


RO_INTERVALS = {1: "lună", 3: "trimestru", 6: "semestru", 12: "an"}


def interval_label(price: Price, language: str) -> str:
    """``month``/``lună``: the billing interval as the notice prints it."""
    months = price.interval_months
    if language != "ro":
        return price.interval_label
    if months is None:
        return "plată unică"
    return RO_INTERVALS.get(months, f"{months} luni")


def send_notice(
    session: Session,
    *,
    kind: NoticeKind,
    subscription: Subscription,
    price: Price,
    version_id: int,
    old_amount_minor: int,
    new_amount_minor: int,
    applies_from: date,
    key: str,
    now: datetime,
    lock_id: int | None = None,
    actor: Actor | None = None,
) -> PriceNotice:
    """Queue the e-mail and record the notice; the same ``key`` returns the stored notice."""
    existing = session.execute(
        select(PriceNotice).where(PriceNotice.key == key)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    customer = session.get(Customer, subscription.customer_id)
    product = session.get(Product, price.product_id)
    assert customer is not None and product is not None
    language = customer.language if customer.language in ("ro", "en") else "ro"
    name = (product.name_en or product.name) if language == "en" else product.name
    context = {
        "customer_name": customer.legal_name,
        "product_name": name,
        "old_price": format_amount(old_amount_minor, price.currency, language),
        "new_price": format_amount(new_amount_minor, price.currency, language),
        "currency": price.currency,
        "interval": interval_label(price, language),
        "applies_from": applies_from.strftime("%d.%m.%Y"),
        "subscription_id": subscription.id,
        "sent_on": business_date(now).strftime("%d.%m.%Y"),
    }
    message = queue_email(
        session,
        to=customer.email,
        template=TEMPLATES[kind],
        language=language,
        context=context,
        key=f"pricelock:{key}",
        related=("subscription", subscription.id),
        now=now,
    )
    notice = PriceNotice(
        key=key,
        kind=kind,
        subscription_id=subscription.id,
        price_id=price.id,
        version_id=version_id,
        lock_id=lock_id,
        old_amount_minor=old_amount_minor,
        new_amount_minor=new_amount_minor,
        currency=price.currency,
        sent_at=now,
        applies_from=applies_from,
        email_message_id=message.id,
        created_at=now,
    )
    session.add(notice)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action=f"price_notice.{kind}",
        object_type="subscription",
        object_id=subscription.id,
        amount_minor=new_amount_minor,
        currency=price.currency,
        now=now,
        data={
            "price_id": price.id,
            "old_amount_minor": old_amount_minor,
            "applies_from": applies_from.isoformat(),
            "notice_id": notice.id,
            "lock_id": lock_id,
        },
    )
    return notice
