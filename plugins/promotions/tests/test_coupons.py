"""Coupons: creation, codes, redemption rules, renewal and one-off discounts, bad input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from praho.core.errors import FieldError, ValidationFailed
from praho.core.models import AuditEvent
from praho.core.services.issuing import issue_document
from praho.core.testing import at
from praho.plugins.grandfathering.testing import Clock, renewals
from praho.plugins.promotions.coupons import (
    CouponSpec,
    create_campaign,
    create_coupon,
    generate_codes,
)
from praho.plugins.promotions.discounts import apply_coupon_to_invoice
from praho.plugins.promotions.errors import (
    CampaignBudgetSpent,
    CouponExpired,
    CouponLimitReached,
    CouponNotApplicable,
    CouponNotFound,
    CouponWrongCurrency,
)
from praho.plugins.promotions.models import Campaign, Coupon, CouponCode, Redemption, RedemptionUse
from praho.plugins.promotions.redemption import redeem_coupon
from sqlalchemy import func, select


def _coupon(session, code="SAVE20", **overrides):
    values = {
        "code": code,
        "name": "Save 20%",
        "discount_type": "percentage",
        "percent": Decimal("20"),
    }
    values.update(overrides)
    return create_coupon(session, CouponSpec(**values), now=at("2026-01-01"))


def _state(session):
    """Everything a refused redemption must leave untouched."""
    return (
        session.execute(select(func.count(Redemption.id))).scalar_one(),
        session.execute(select(func.coalesce(func.sum(Coupon.times_redeemed), 0))).scalar_one(),
        session.execute(select(func.coalesce(func.sum(CouponCode.uses), 0))).scalar_one(),
        session.execute(select(func.count(AuditEvent.id))).scalar_one(),
    )


def test_coupon_for_three_cycles_discounts_three_renewals(praho_factory, praho_session):
    customer = praho_factory.customer()
    subscription = praho_factory.subscription(customer=customer, start="2026-01-31")
    _coupon(praho_session, duration="repeating", duration_cycles=3)
    redemption = redeem_coupon(
        praho_session, "save20", customer=customer, subscription=subscription, now=at("2026-02-01")
    )
    Clock(praho_session).run("2026-02-01", "2026-06-01", batch=False)
    assert renewals(praho_session, subscription) == [
        (date(2026, 1, 31), 5000, 1050, 6050),
        (date(2026, 2, 28), 4000, 840, 4840),
        (date(2026, 3, 31), 4000, 840, 4840),
        (date(2026, 4, 30), 4000, 840, 4840),
        (date(2026, 5, 31), 5000, 1050, 6050),
    ]
    assert (redemption.status, redemption.cycles_used, redemption.discount_total_minor) == (
        "exhausted",
        3,
        3000,
    )
    assert praho_session.execute(select(func.count(RedemptionUse.id))).scalar_one() == 3
    applied = (
        praho_session.execute(select(AuditEvent).where(AuditEvent.action == "coupon.applied"))
        .scalars()
        .all()
    )
    assert [a.amount_minor for a in applied] == [1000, 1000, 1000]


def test_fixed_free_months_and_bogo(praho_factory, praho_session):
    customer = praho_factory.customer()
    product = praho_factory.product()
    monthly = praho_factory.subscription(
        praho_factory.price(product), customer, start="2026-01-31", quantity=3
    )
    _coupon(
        praho_session,
        "TENOFF",
        discount_type="fixed",
        percent=None,
        amounts={"RON": 1000, "EUR": 200},
        duration="forever",
    )
    _coupon(praho_session, "TWOFREE", discount_type="free_months", percent=None, free_months=2)
    _coupon(
        praho_session,
        "BOGO",
        discount_type="bogo",
        percent=None,
        bogo_product=product,
        duration="once",
    )
    for code in ("tenoff", "twofree", "bogo"):
        redeem_coupon(
            praho_session, code, customer=customer, subscription=monthly, now=at("2026-02-01")
        )
    Clock(praho_session).run("2026-02-01", "2026-04-30", batch=False)
    # 3 x 50.00. Feb and Mar: 10.00 off, then two free months take the rest, so the BOGO
    # offer gives nothing and is not used up; Apr: 10.00 off and one unit of three free.
    assert [r[1] for r in renewals(praho_session, monthly)] == [15000, 0, 0, 9000]
    used = {
        r.coupon_id: (r.status, r.cycles_used, r.months_used, r.discount_total_minor)
        for r in praho_session.execute(select(Redemption)).scalars()
    }
    assert sorted(used.values()) == [
        ("active", 3, 0, 3000),
        ("exhausted", 1, 0, 5000),
        ("exhausted", 2, 2, 28000),
    ]


def test_one_off_invoice_discount_is_capped_and_never_negative(praho_factory, praho_session):
    customer = praho_factory.customer()
    draft = praho_factory.draft(customer, lines=[("Setup", "1", "30.00")])
    _coupon(praho_session, "BIG", discount_type="fixed", percent=None, amounts={"RON": 10000})
    records = apply_coupon_to_invoice(praho_session, draft, "big", now=at("2026-03-02"))
    assert [r.amount_minor for r in records] == [3000]
    invoice = issue_document(praho_session, draft, now=at("2026-03-02"))
    assert (invoice.taxable_minor, invoice.vat_minor, invoice.total_minor) == (0, 0, 0)
    redemption = praho_session.execute(select(Redemption)).scalar_one()
    assert (redemption.invoice_id, redemption.status, redemption.discount_total_minor) == (
        invoice.id,
        "exhausted",
        3000,
    )


def test_campaign_budget_caps_discounts(praho_factory, praho_session):
    campaign = create_campaign(
        praho_session,
        code="SPRING",
        name="Spring",
        starts_on=date(2026, 1, 1),
        budget_minor=1500,
        currency="RON",
        now=at("2026-01-01"),
    )
    _coupon(praho_session, "SPRING20", campaign=campaign, duration="forever")
    customer = praho_factory.customer()
    subscription = praho_factory.subscription(customer=customer, start="2026-01-31")
    redeem_coupon(
        praho_session,
        "spring20",
        customer=customer,
        subscription=subscription,
        now=at("2026-02-01"),
    )
    Clock(praho_session).run("2026-02-01", "2026-03-31", batch=False)
    assert [r[1] for r in renewals(praho_session, subscription)] == [5000, 4000, 4500]
    assert praho_session.get(Campaign, campaign.id).spent_minor == 1500
    other = praho_factory.customer()
    with pytest.raises(CampaignBudgetSpent):
        redeem_coupon(
            praho_session,
            "spring20",
            customer=other,
            subscription=praho_factory.subscription(customer=other, start="2026-03-31"),
            now=at("2026-04-01"),
        )


def test_generated_batch_codes_are_unique_and_single_use(praho_factory, praho_session):
    coupon = _coupon(praho_session, "WELCOME")
    codes = generate_codes(praho_session, coupon, count=50, prefix="W-", now=at("2026-01-02"))
    assert len({c.code for c in codes}) == 50 and all(c.code.startswith("W-") for c in codes)
    first, second = praho_factory.customer(), praho_factory.customer()
    redeem_coupon(
        praho_session,
        codes[0].code.lower(),
        customer=first,
        subscription=praho_factory.subscription(customer=first),
        now=at("2026-02-01"),
    )
    before = _state(praho_session)
    with pytest.raises(CouponLimitReached, match="already been used"):
        redeem_coupon(
            praho_session,
            codes[0].code,
            customer=second,
            subscription=praho_factory.subscription(customer=second),
            now=at("2026-02-01"),
        )
    assert _state(praho_session)[:3] == before[:3]


@pytest.mark.parametrize(
    "overrides, error, reason",
    [
        ({"valid_until": date(2026, 1, 31)}, CouponExpired, "expired on 2026-01-31"),
        (
            {"discount_type": "fixed", "percent": None, "amounts": {"EUR": 500}},
            CouponWrongCurrency,
            "no amount in RON",
        ),
        ({"max_redemptions": 1}, CouponLimitReached, "redeemed 1 of 1 times"),
        ({"max_per_customer": 1}, CouponLimitReached, "most allowed per customer"),
        ({"countries": ["DE"]}, CouponNotApplicable, "customers in DE"),
        ({"customer_type": "b2c"}, CouponNotApplicable, "private customers"),
        ({"customer_tag": "reseller"}, CouponNotApplicable, "tagged 'reseller'"),
        ({"min_order": {"RON": 10000}}, CouponNotApplicable, "at least 10000"),
        ({"new_customers_only": True}, CouponNotApplicable, "new customers only"),
    ],
)
def test_refusals_are_typed_and_write_nothing(
    praho_factory, praho_session, overrides, error, reason
):
    customer = praho_factory.customer()
    # An earlier purchase: not a new customer any more.
    praho_factory.invoice(customer, now=at("2026-01-15", 9))
    first = praho_factory.subscription(customer=customer, start="2026-01-31")
    _coupon(praho_session, "DEAL", **overrides)
    if "max_redemptions" in overrides or "max_per_customer" in overrides:
        redeem_coupon(
            praho_session, "deal", customer=customer, subscription=first, now=at("2026-02-01")
        )
    target = praho_factory.subscription(customer=customer, start="2026-01-31")
    before = _state(praho_session)
    with pytest.raises(error, match=reason) as caught:
        redeem_coupon(
            praho_session, "DEAL", customer=customer, subscription=target, now=at("2026-02-01")
        )
    assert isinstance(caught.value, FieldError) and caught.value.field
    assert _state(praho_session) == before


def test_unknown_code_and_bad_coupon_definitions(praho_factory, praho_session):
    customer = praho_factory.customer()
    subscription = praho_factory.subscription(customer=customer)
    before = _state(praho_session)
    with pytest.raises(CouponNotFound, match="no coupon 'NOPE'"):
        redeem_coupon(
            praho_session,
            "NOPE",
            customer=customer,
            subscription=subscription,
            now=at("2026-02-01"),
        )
    with pytest.raises(ValidationFailed) as failed:
        create_coupon(
            praho_session,
            CouponSpec(
                code="BAD CODE",
                name="",
                discount_type="percentage",
                percent="120",
                duration="repeating",
            ),
            now=at("2026-01-01"),
        )
    assert {e.field for e in failed.value.errors} == {"code", "name", "percent", "duration_cycles"}
    assert _state(praho_session) == before


def test_same_key_returns_the_same_redemption(praho_factory, praho_session):
    customer = praho_factory.customer()
    subscription = praho_factory.subscription(customer=customer)
    _coupon(praho_session, "ONCE", max_redemptions=5)
    first = redeem_coupon(
        praho_session,
        "once",
        customer=customer,
        subscription=subscription,
        key="checkout-42",
        now=at("2026-02-01"),
    )
    again = redeem_coupon(
        praho_session,
        "once",
        customer=customer,
        subscription=subscription,
        key="checkout-42",
        now=at("2026-02-01"),
    )
    assert first.id == again.id
    assert praho_session.get(Coupon, first.coupon_id).times_redeemed == 1


def _draft_with_products(praho_factory, praho_session, customer, products):
    from praho.core.pricing import DraftLine
    from praho.core.services.invoicing import create_draft

    lines = [
        DraftLine(
            item_name=product.name,
            quantity=Decimal(1),
            unit_price=Decimal(price),
            product_id=product.id,
        )
        for product, price in products
    ]
    return create_draft(praho_session, customer=customer, lines=lines, now=at("2026-03-02"))


def test_a_coupon_for_some_products_discounts_only_their_lines_and_is_audited(
    praho_factory, praho_session
):
    customer = praho_factory.customer()
    hosting = praho_factory.product(code="HOST-PRO", name="Web Hosting Pro")
    domain = praho_factory.product(code="DOMAIN-RO", name="Domeniu .ro")
    create_coupon(
        praho_session,
        CouponSpec(
            code="DOMAIN50",
            name="Domains half price",
            discount_type="percentage",
            percent=Decimal("50"),
            products=[domain],
        ),
        now=at("2026-01-01"),
    )
    draft = _draft_with_products(
        praho_factory, praho_session, customer, [(hosting, "100.00"), (domain, "40.00")]
    )
    records = apply_coupon_to_invoice(praho_session, draft, "domain50", now=at("2026-03-02"))
    assert sum(r.amount_minor for r in records) == 2000  # half of the 40.00 domain, not more
    audit = praho_session.execute(
        select(AuditEvent).where(AuditEvent.action == "coupon.redeemed")
    ).scalar_one()
    assert (audit.object_id, audit.data["code"], audit.data["customer_id"]) == (
        "DOMAIN50",
        "DOMAIN50",
        customer.id,
    )

    only_hosting = _draft_with_products(
        praho_factory, praho_session, customer, [(hosting, "100.00")]
    )
    before = _state(praho_session)
    with pytest.raises(CouponNotApplicable, match="does not apply to these products"):
        apply_coupon_to_invoice(praho_session, only_hosting, "domain50", now=at("2026-03-02"))
    assert _state(praho_session) == before and only_hosting.allowances == []


def test_a_coupon_outside_its_dates_is_refused_and_writes_nothing(praho_factory, praho_session):
    from praho.plugins.promotions.errors import CouponNotYetValid

    customer = praho_factory.customer()
    subscription = praho_factory.subscription(customer=customer, start="2026-01-31")
    _coupon(praho_session, "SPRING", valid_from=date(2026, 4, 1), valid_until=date(2026, 4, 30))
    before = _state(praho_session)
    with pytest.raises(CouponNotYetValid):
        redeem_coupon(
            praho_session,
            "spring",
            customer=customer,
            subscription=subscription,
            now=at("2026-03-15"),
        )
    with pytest.raises(CouponExpired):
        redeem_coupon(
            praho_session,
            "spring",
            customer=customer,
            subscription=subscription,
            now=at("2026-05-02"),
        )
    assert _state(praho_session) == before
    assert (
        redeem_coupon(
            praho_session,
            "spring",
            customer=customer,
            subscription=subscription,
            now=at("2026-04-10"),
        ).status
        == "active"
    )
