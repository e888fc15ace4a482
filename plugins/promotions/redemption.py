"""Redeeming a coupon: every condition checked first, then one atomic, audited write.

Atomicity: the coupon row (and the code row) is locked with ``SELECT ... FOR UPDATE``
before its counters are read, so two customers redeeming the last use at once are
serialised on PostgreSQL and the second one is refused (SQLite serialises writers).
Limits, per-customer counts and the budget are all read under that lock.
"""

from __future__ import annotations

from datetime import date, datetime

from praho.core.clock import business_date, resolve_now
from praho.core.errors import IdempotencyConflict
from praho.core.models.catalog import Price
from praho.core.models.customers import Customer
from praho.core.models.invoices import DocumentStatus, Invoice
from praho.core.models.subscriptions import Subscription
from praho.core.services.audit import SYSTEM, Actor, record_audit
from praho.core.services.catalog import price_version_on
from praho.plugins.promotions.coupons import find_code
from praho.plugins.promotions.errors import (
    CampaignBudgetSpent,
    CouponExpired,
    CouponLimitReached,
    CouponNotApplicable,
    CouponNotYetValid,
    CouponWrongCurrency,
)
from praho.plugins.promotions.marks import forget_redemptions
from praho.plugins.promotions.models import (
    Campaign,
    Coupon,
    CouponCode,
    CustomerType,
    DiscountType,
    Redemption,
    RedemptionStatus,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session


def check_dates(coupon: Coupon, campaign: Campaign | None, today: date) -> None:
    """Refuse a coupon outside its (or its campaign's) validity."""
    starts = [d for d in (coupon.valid_from, campaign.starts_on if campaign else None) if d]
    ends = [d for d in (coupon.valid_until, campaign.ends_on if campaign else None) if d]
    if starts and today < max(starts):
        raise CouponNotYetValid("code", f"{coupon.code} is valid from {max(starts)}")
    if ends and today > min(ends):
        raise CouponExpired("code", f"{coupon.code} expired on {min(ends)}")


def check_customer(
    session: Session, coupon: Coupon, customer: Customer, subscription: Subscription | None
) -> None:
    """Segments: new customers, country, B2B/B2C, tag."""
    if coupon.countries and customer.country not in coupon.countries:
        raise CouponNotApplicable(
            "customer", f"{coupon.code} is for customers in {', '.join(coupon.countries)}"
        )
    if coupon.customer_type == CustomerType.B2B and not customer.is_business:
        raise CouponNotApplicable("customer", f"{coupon.code} is for business customers")
    if coupon.customer_type == CustomerType.B2C and customer.is_business:
        raise CouponNotApplicable("customer", f"{coupon.code} is for private customers")
    if coupon.customer_tag and coupon.customer_tag not in (customer.tags or []):
        raise CouponNotApplicable(
            "customer", f"{coupon.code} is for customers tagged {coupon.customer_tag!r}"
        )
    if coupon.new_customers_only:
        # New: nothing issued to the customer except this subscription's own documents.
        query = select(func.count(Invoice.id)).where(
            Invoice.customer_id == customer.id, Invoice.status != DocumentStatus.DRAFT
        )
        if subscription is not None:
            query = query.where(
                Invoice.period_start.is_(None) | (Invoice.period_start < subscription.start_date)
            )
        if session.execute(query).scalar_one():
            raise CouponNotApplicable("customer", f"{coupon.code} is for new customers only")


def order_lines(
    session: Session, subscription: Subscription | None, invoice: Invoice | None, today: date
) -> list[tuple[int | None, int | None, int]]:
    """(product id, price id, net minor) of what the coupon would discount."""
    if invoice is not None:
        return [(line.product_id, line.price_id, line.net_amount_minor) for line in invoice.lines]
    assert subscription is not None
    rows = []
    for item in subscription.active_items:
        price = session.get(Price, item.price_id)
        assert price is not None
        amount = price_version_on(session, price, today).unit_amount_minor
        rows.append((price.product_id, price.id, int(amount * item.quantity)))
    return rows


def check_order(
    coupon: Coupon, lines: list[tuple[int | None, int | None, int]], currency: str
) -> None:
    """Products/plans, buy-one-get-one product, currency and minimum order."""
    covered = [
        line
        for line in lines
        if (not coupon.product_ids or line[0] in coupon.product_ids)
        and (not coupon.price_ids or line[1] in coupon.price_ids)
    ]
    if not covered:
        raise CouponNotApplicable(
            "code", f"{coupon.code} does not apply to these products or plans"
        )
    if coupon.discount_type == DiscountType.BOGO and not any(
        line[0] == coupon.bogo_product_id for line in covered
    ):
        raise CouponNotApplicable(
            "code", f"{coupon.code} is a buy-one-get-one offer on another product"
        )
    if coupon.discount_type == DiscountType.FIXED and currency not in coupon.amounts:
        raise CouponWrongCurrency(
            "currency",
            f"{coupon.code} has no amount in {currency} "
            f"(offered in {', '.join(sorted(coupon.amounts))})",
        )
    minimum = coupon.min_order.get(currency)
    if minimum is not None and sum(line[2] for line in covered) < minimum:
        raise CouponNotApplicable(
            "code", f"{coupon.code} needs an order of at least {minimum} {currency} minor units"
        )


def redeem_coupon(
    session: Session,
    code: str,
    *,
    customer: Customer,
    subscription: Subscription | None = None,
    invoice: Invoice | None = None,
    actor: Actor | None = None,
    key: str | None = None,
    now: datetime | None = None,
) -> Redemption:
    """Redeem ``code`` for a subscription (its renewals) or a draft invoice; audited.

    Raises a :class:`praho.plugins.promotions.errors.CouponRejected` subclass naming the
    reason (not found, expired, not yet valid, limit reached, wrong currency, not
    applicable, budget spent) and writes nothing then. The same ``key`` returns the
    redemption already made.
    """
    moment = resolve_now(now)
    today = business_date(moment)
    if (subscription is None) == (invoice is None):
        raise CouponNotApplicable("target", "redeem for one subscription or one draft invoice")
    target = subscription or invoice
    assert target is not None
    if target.customer_id != customer.id:
        raise CouponNotApplicable(
            "customer", "the subscription or invoice belongs to another customer"
        )
    if invoice is not None and invoice.status != DocumentStatus.DRAFT:
        raise CouponNotApplicable(
            "invoice", f"{invoice.full_number} is issued; discounts go on drafts"
        )
    if subscription is not None and subscription.is_final:
        raise CouponNotApplicable(
            "subscription", f"subscription {subscription.id} is {subscription.status}"
        )
    code_row = find_code(session, code)
    target_key = f"sub{subscription.id}" if subscription else f"inv{target.id}"
    redemption_key = key or f"{code_row.code}:{customer.id}:{target_key}"
    existing = session.execute(
        select(Redemption).where(Redemption.key == redemption_key)
    ).scalar_one_or_none()
    if existing is not None:
        if existing.code_id != code_row.id or existing.customer_id != customer.id:
            raise IdempotencyConflict(
                f"redemption key {redemption_key!r} was used for another redemption"
            )
        return existing
    # Lock the coupon, then the code: every redemption takes them in this order.
    coupon = session.execute(
        select(Coupon)
        .where(Coupon.id == code_row.coupon_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    code_row = session.execute(
        select(CouponCode)
        .where(CouponCode.id == code_row.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    campaign = session.get(Campaign, coupon.campaign_id) if coupon.campaign_id else None
    if not coupon.active:
        raise CouponNotApplicable("code", f"{coupon.code} is disabled")
    check_dates(coupon, campaign, today)
    currency = target.currency
    if campaign is not None and campaign.budget_minor is not None:
        if campaign.currency != currency:
            raise CouponWrongCurrency(
                "currency", f"{coupon.code}'s campaign budget is in {campaign.currency}"
            )
        if campaign.spent_minor >= campaign.budget_minor:
            raise CampaignBudgetSpent("code", f"campaign {campaign.code} has spent its budget")
    check_customer(session, coupon, customer, subscription)
    check_order(coupon, order_lines(session, subscription, invoice, today), currency)
    if coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions:
        raise CouponLimitReached(
            "code",
            f"{coupon.code} has been redeemed {coupon.times_redeemed} "
            f"of {coupon.max_redemptions} times",
        )
    if code_row.max_uses is not None and code_row.uses >= code_row.max_uses:
        raise CouponLimitReached("code", f"code {code_row.code} has already been used")
    mine = session.execute(
        select(func.count(Redemption.id)).where(
            Redemption.coupon_id == coupon.id,
            Redemption.customer_id == customer.id,
            Redemption.status != RedemptionStatus.REVOKED,
        )
    ).scalar_one()
    if coupon.max_per_customer is not None and mine >= coupon.max_per_customer:
        raise CouponLimitReached(
            "customer",
            f"{customer.code} has used {coupon.code} {mine} time(s), the most allowed per customer",
        )
    if (
        subscription is not None
        and session.execute(
            select(Redemption.id).where(
                Redemption.coupon_id == coupon.id,
                Redemption.subscription_id == subscription.id,
                Redemption.status == RedemptionStatus.ACTIVE,
            )
        ).first()
    ):
        raise CouponLimitReached(
            "subscription", f"{coupon.code} already discounts subscription {subscription.id}"
        )
    coupon.times_redeemed += 1
    code_row.uses += 1
    redemption = Redemption(
        key=redemption_key,
        coupon_id=coupon.id,
        code_id=code_row.id,
        customer_id=customer.id,
        subscription_id=subscription.id if subscription else None,
        invoice_id=invoice.id if invoice else None,
        currency=currency,
        status=RedemptionStatus.ACTIVE,
        redeemed_at=moment,
        redeemed_by=str(actor or SYSTEM),
        cycles_used=0,
        months_used=0,
        discount_total_minor=0,
        details={},
        created_at=moment,
    )
    session.add(redemption)
    session.flush()
    forget_redemptions(session)
    record_audit(
        session,
        actor=actor,
        action="coupon.redeemed",
        object_type="coupon",
        object_id=coupon.code,
        currency=currency,
        now=moment,
        data={
            "code": code_row.code,
            "customer_id": customer.id,
            "redemption_id": redemption.id,
            "subscription_id": redemption.subscription_id,
            "invoice_id": redemption.invoice_id,
        },
    )
    return redemption


def revoke_redemption(
    session: Session,
    redemption: Redemption,
    *,
    reason: str,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Redemption:
    """Stop a redemption discounting further renewals; audited (past documents stay)."""
    moment = resolve_now(now)
    if redemption.status == RedemptionStatus.REVOKED:
        return redemption
    redemption.status = RedemptionStatus.REVOKED
    redemption.details = {
        **redemption.details,
        "revoked_reason": reason[:200],
        "revoked_at": moment.isoformat(),
    }
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="coupon.redemption_revoked",
        object_type="redemption",
        object_id=redemption.id,
        now=moment,
        data={"reason": reason[:200]},
    )
    return redemption
