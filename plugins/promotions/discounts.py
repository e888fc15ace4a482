"""Turning redemptions into EN 16931 allowances, and recording what each document used.

Renewals: ``collect_renewal_allowances`` asks :func:`renewal_allowances` for the
subscription's active redemptions. One-off invoices: :func:`apply_coupon_to_invoice`
redeems and applies in one step. The core caps every allowance so a document is never
negative and computes VAT after the allowances.

A campaign budget is reserved when the allowance is made, with a conditional UPDATE
(``spent + x <= budget``), inside the document's transaction (and the billing run's
savepoint): a failed or previewed document gives its reservation back by rolling back.
When the document is issued (``invoice_issued``), :func:`record_uses` stores one
:class:`RedemptionUse` per redemption and document, returns what the core's cap did not
use to the budget, and counts the cycle (or months) used.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from praho.core.clock import resolve_now
from praho.core.models.customers import Customer
from praho.core.models.invoices import Invoice, InvoiceAllowance, LineKind
from praho.core.money import percent_of
from praho.core.pricing import DraftAllowance
from praho.core.services.audit import Actor, record_audit
from praho.core.services.invoicing import apply_allowance
from praho.plugins.promotions.marks import discounted_subscriptions, mark
from praho.plugins.promotions.models import (
    Campaign,
    Coupon,
    DiscountType,
    Duration,
    Redemption,
    RedemptionStatus,
    RedemptionUse,
)
from praho.plugins.promotions.redemption import redeem_coupon
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

SOURCE = "promotions"
DISCOUNTED_KINDS = (LineKind.CHARGE, "charge")


def _covered(coupon: Coupon, lines: list[Any]) -> list[Any]:
    return [
        line
        for line in lines
        if line.kind in DISCOUNTED_KINDS
        and line.net_amount_minor > 0
        and (not coupon.product_ids or line.product_id in coupon.product_ids)
        and (not coupon.price_ids or line.price_id in coupon.price_ids)
    ]


def _share(amount: int, numerator: int | Decimal, denominator: int | Decimal) -> int:
    value = Decimal(amount) * Decimal(numerator) / Decimal(denominator)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def discount_for(
    coupon: Coupon, redemption: Redemption, lines: list[Any], currency: str, cycle_months: int
) -> tuple[int, list[Any], dict[str, Any]]:
    """The wanted discount on ``lines`` (before budget and the core's cap), the lines it covers."""
    covered = _covered(coupon, lines)
    base = sum(line.net_amount_minor for line in covered)
    minimum = coupon.min_order.get(currency)
    if not covered or (minimum is not None and base < minimum):
        return 0, [], {}
    kind = coupon.discount_type
    if kind == DiscountType.PERCENTAGE:
        assert coupon.percent is not None
        return percent_of(base, coupon.percent), covered, {}
    if kind == DiscountType.FIXED:
        return min(coupon.amounts.get(currency, 0), base), covered, {}
    if kind == DiscountType.FREE_MONTHS:
        left = (coupon.free_months or 0) - redemption.months_used
        months = max(0, min(left, cycle_months))
        return _share(base, months, cycle_months), covered, {"months": months}
    free = [line for line in covered if line.product_id == coupon.bogo_product_id]
    amount = sum(
        _share(line.net_amount_minor, int(line.quantity) // 2, line.quantity) for line in free
    )
    return amount, free, {}


def _reserve(session: Session, campaign_id: int | None, amount: int) -> int:
    """Take ``amount`` (or what is left) from the campaign budget; returns what was granted."""
    if campaign_id is None or amount <= 0:
        return amount
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.budget_minor is None:
        return amount
    for _ in range(3):
        session.refresh(campaign, attribute_names=["spent_minor"])
        grant = min(amount, campaign.budget_minor - campaign.spent_minor)
        if grant <= 0:
            return 0
        done = session.execute(  # type: ignore[attr-defined]
            update(Campaign)
            .where(
                Campaign.id == campaign_id, Campaign.spent_minor + grant <= Campaign.budget_minor
            )
            .values(spent_minor=Campaign.spent_minor + grant)
            .execution_options(synchronize_session=False)
        ).rowcount
        if done:
            session.refresh(campaign, attribute_names=["spent_minor"])
            return grant
    return 0


def _allowance(
    session: Session,
    coupon: Coupon,
    redemption: Redemption,
    lines: list[Any],
    currency: str,
    cycle_months: int,
) -> DraftAllowance | None:
    amount, covered, extra = discount_for(coupon, redemption, lines, currency, cycle_months)
    amount = _reserve(session, coupon.campaign_id, amount)
    if amount <= 0:
        return None
    restricted = bool(
        coupon.product_ids or coupon.price_ids or coupon.discount_type == DiscountType.BOGO
    )
    return DraftAllowance(
        amount_minor=amount,
        reason=f"Cupon {coupon.code}: {coupon.name}"[:100],
        source=SOURCE,
        reason_code="95",
        percent=coupon.percent
        if coupon.discount_type == DiscountType.PERCENTAGE and not restricted
        else None,
        applies_to_product_ids=tuple(
            sorted({line.product_id for line in covered if line.product_id})
        )
        if restricted
        else (),
        details={
            "redemption_id": redemption.id,
            "coupon": coupon.code,
            "reserved_minor": amount,
            **extra,
        },
    )


def renewal_allowances(session: Session, subscription: Any, invoice: Any) -> list[DraftAllowance]:
    """Allowances of the subscription's active redemptions for one renewal document."""
    if subscription.id not in discounted_subscriptions(session):
        return []
    redemptions = (
        session.execute(
            select(Redemption)
            .where(
                Redemption.subscription_id == subscription.id,
                Redemption.status == RedemptionStatus.ACTIVE,
            )
            .order_by(Redemption.id)
        )
        .scalars()
        .all()
    )
    allowances = []
    for redemption in redemptions:
        if redemption.currency != invoice.currency:
            continue
        coupon = session.get(Coupon, redemption.coupon_id)
        assert coupon is not None
        allowance = _allowance(
            session,
            coupon,
            redemption,
            invoice.lines,
            invoice.currency,
            subscription.billing_cycle_months,
        )
        if allowance is not None:
            allowances.append(allowance)
    if allowances:
        mark(session, subscription_id=subscription.id)
    return allowances


def apply_coupon_to_invoice(
    session: Session,
    invoice: Invoice,
    code: str,
    *,
    actor: Actor | None = None,
    key: str | None = None,
    now: datetime | None = None,
) -> list[InvoiceAllowance]:
    """Redeem ``code`` for a draft one-off invoice and apply its discount as an allowance.

    Raises the coupon's typed refusal (nothing written then). Returns the allowance
    records (one per VAT group); an empty list when the budget is spent.
    """
    moment = resolve_now(now)
    customer = session.get(Customer, invoice.customer_id)
    assert customer is not None
    with session.begin_nested():
        redemption = redeem_coupon(
            session, code, customer=customer, invoice=invoice, actor=actor, key=key, now=moment
        )
        coupon = session.get(Coupon, redemption.coupon_id)
        assert coupon is not None
        allowance = _allowance(session, coupon, redemption, invoice.lines, invoice.currency, 1)
        records = apply_allowance(session, invoice, allowance) if allowance else []
        if allowance is not None:
            unused = allowance.amount_minor - sum(r.amount_minor for r in records)
            _give_back(session, coupon.campaign_id, unused)
    return records


def _give_back(session: Session, campaign_id: int | None, amount: int) -> None:
    if campaign_id is None or amount <= 0:
        return
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.budget_minor.is_not(None))
        .values(spent_minor=Campaign.spent_minor - amount)
        .execution_options(synchronize_session=False)
    )


def _exhausted(coupon: Coupon, redemption: Redemption) -> bool:
    if redemption.invoice_id is not None:
        return True
    if coupon.discount_type == DiscountType.FREE_MONTHS:
        return redemption.months_used >= (coupon.free_months or 0)
    if coupon.duration == Duration.ONCE:
        return redemption.cycles_used >= 1
    if coupon.duration == Duration.REPEATING:
        return redemption.cycles_used >= (coupon.duration_cycles or 0)
    return False


def record_uses(
    session: Session, invoice: Invoice, *, now: datetime | None = None
) -> list[RedemptionUse]:
    """After issue: one use per redemption the document applied; idempotent per document.

    ``now`` defaults to the document's issue instant (the hook passes none).
    """
    moment = resolve_now(now or invoice.issued_at)
    by_redemption: dict[int, list[InvoiceAllowance]] = defaultdict(list)
    for allowance in invoice.allowances:
        if (
            allowance.source == SOURCE
            and not allowance.is_charge
            and "redemption_id" in allowance.details
        ):
            by_redemption[int(allowance.details["redemption_id"])].append(allowance)
    uses = []
    for redemption_id, records in sorted(by_redemption.items()):
        redemption = session.get(Redemption, redemption_id)
        if (
            redemption is None
            or session.execute(
                select(RedemptionUse.id).where(
                    RedemptionUse.redemption_id == redemption_id,
                    RedemptionUse.invoice_id == invoice.id,
                )
            ).first()
        ):
            continue
        coupon = session.get(Coupon, redemption.coupon_id)
        assert coupon is not None
        amount = sum(r.amount_minor for r in records)
        reserved = int(records[0].details.get("reserved_minor", amount))
        months = int(records[0].details.get("months", 0))
        use = RedemptionUse(
            redemption_id=redemption_id,
            invoice_id=invoice.id,
            amount_minor=amount,
            currency=invoice.currency,
            months=months,
            applied_at=moment,
            created_at=moment,
        )
        try:
            with session.begin_nested():
                session.add(use)
                session.flush()
        except IntegrityError:
            continue  # another worker recorded this document first
        if (
            invoice.id is not None
            and redemption.invoice_id is None
            and redemption.subscription_id is None
        ):
            redemption.invoice_id = invoice.id
        _give_back(session, coupon.campaign_id, reserved - amount)
        redemption.cycles_used += 1
        redemption.months_used += months
        redemption.discount_total_minor += amount
        if _exhausted(coupon, redemption):
            redemption.status = RedemptionStatus.EXHAUSTED
        session.flush()
        record_audit(
            session,
            actor=None,
            action="coupon.applied",
            object_type="invoice",
            object_id=invoice.full_number or invoice.id,
            amount_minor=amount,
            currency=invoice.currency,
            now=moment,
            data={
                "coupon": coupon.code,
                "redemption_id": redemption_id,
                "cycles_used": redemption.cycles_used,
            },
        )
        uses.append(use)
    return uses
