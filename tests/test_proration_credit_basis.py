"""Credits for unused time give back what the invoice of the period charged, at its VAT.

The coupon scenarios: a 100.00 RON monthly plan with a 50% coupon for ever, so February
(1 February - 1 March 2026, 28 days = 2,419,200 s) is invoiced 50.00 + 21% VAT = 60.50.
On 15 February at 00:00 in Bucharest 14 days (1,209,600 s) are left: half the period,
so the unused time is worth 25.00 + 5.25 VAT = 30.25, not half the list price.

The VAT scenario: Romania's standard rate went from 19% to 21% on 1 August 2025. A
period invoiced at 19% in July and changed in August is credited at 19% (a reduction
of a supply's base keeps that supply's rate, Cod fiscal art. 287).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from praho.core.models import DocumentKind, Invoice, SubscriptionStatus
from praho.core.services.billing_preview import preview_change
from praho.core.services.billing_run import run_billing
from praho.core.services.credit_notes import CreditLine, issue_credit_note
from praho.core.services.subscription_changes import change_plan, remove_addon
from praho.core.services.subscriptions import cancel_subscription, pause_subscription
from praho.core.testing import at
from praho.plugins.promotions.coupons import CouponSpec, create_coupon
from praho.plugins.promotions.redemption import redeem_coupon
from sqlalchemy import select

HALF_OF_FEBRUARY = at("2026-02-15", 0)


def _documents(session, subscription):
    return list(
        session.execute(
            select(Invoice).where(Invoice.subscription_id == subscription.id).order_by(Invoice.id)
        ).scalars()
    )


@pytest.fixture
def discounted(praho_factory, praho_session):
    """Build a subscription whose February invoice got ``percent`` off by a coupon.

    With ``count`` several are built (and billed together, as numbers follow dates),
    returned as a list of (subscription, February invoice).
    """

    def one(percent, addons, quantity, unit_amount_minor):
        customer = praho_factory.customer()
        plan = praho_factory.price(unit_amount_minor=unit_amount_minor)
        subscription = praho_factory.subscription(
            plan, customer=customer, start="2026-01-01", addons=addons, quantity=quantity
        )
        code = f"OFF{percent}S{subscription.id}"
        create_coupon(
            praho_session,
            CouponSpec(
                code=code,
                name=f"{percent}% off",
                discount_type="percentage",
                percent=Decimal(percent),
                duration="forever",
            ),
            now=at("2026-01-01"),
        )
        redeem_coupon(
            praho_session, code, customer=customer, subscription=subscription, now=at("2026-01-15")
        )
        return subscription

    def build(percent="50", *, addons=(), quantity=1, unit_amount_minor=10000, count=1):
        subscriptions = [
            one(percent, addons, quantity, unit_amount_minor) for _ in range(count)
        ]
        run_billing(praho_session, now=at("2026-02-01", 3))
        built = []
        for subscription in subscriptions:
            february = _documents(praho_session, subscription)[-1]
            assert february.period_start == date(2026, 2, 1)
            built.append((subscription, february))
        return built[0] if count == 1 else built

    return build


def test_cancel_now_credits_the_discounted_price_not_the_list_price(praho_session, discounted):
    subscription, february = discounted()
    assert (february.taxable_minor, february.total_minor) == (5000, 6050)
    cancel_subscription(
        praho_session,
        subscription,
        at_period_end=False,
        credit_unused=True,
        now=HALF_OF_FEBRUARY,
    )
    credit_note = _documents(praho_session, subscription)[-1]
    assert credit_note.kind == DocumentKind.CREDIT_NOTE
    assert credit_note.original_invoice_id == february.id
    assert (credit_note.taxable_minor, credit_note.vat_minor, credit_note.total_minor) == (
        2500,
        525,
        3025,
    )
    [line] = credit_note.lines
    source = february.lines[0]
    assert (line.quantity, line.unit_price, line.net_amount_minor) == (
        Decimal(1),
        Decimal("25.000000"),
        2500,
    )
    assert (line.tax_category, line.tax_rate) == (source.tax_category, source.tax_rate)
    assert line.details["original_line_id"] == source.id
    assert line.details["basis"]["document"] == february.full_number
    assert "1 x 50.00 RON" in line.description and "1209600 secunde din 2419200" in line.description
    assert february.credited_minor == 3025
    assert subscription.status == SubscriptionStatus.CANCELLED


def test_pause_with_credit_credits_the_discounted_price(praho_session, discounted):
    subscription, february = discounted()
    pause_subscription(praho_session, subscription, credit_unused=True, now=HALF_OF_FEBRUARY)
    credit_note = _documents(praho_session, subscription)[-1]
    assert credit_note.kind == DocumentKind.CREDIT_NOTE
    assert (credit_note.taxable_minor, credit_note.total_minor) == (2500, 3025)
    assert february.credited_minor == 3025


def test_downgrade_credits_the_discounted_price_and_a_later_credit_the_new_charge(
    praho_factory, praho_session, discounted
):
    subscription, february = discounted()
    small = praho_factory.price(unit_amount_minor=2000)
    result = change_plan(praho_session, subscription, small, now=HALF_OF_FEBRUARY)
    assert (result.plan.credit_minor, result.plan.charge_minor) == (2500, 1000)
    [credit_note] = result.documents
    assert credit_note.original_invoice_id == february.id
    assert [ln.net_amount_minor for ln in credit_note.lines] == [2500, -1000]
    assert credit_note.lines[0].tax_rate == february.lines[0].tax_rate
    assert (credit_note.taxable_minor, credit_note.vat_minor, credit_note.total_minor) == (
        1500,
        315,
        1815,
    )
    # A week later the rest of February was billed at 20.00 (the credit note's charge,
    # which no coupon discounted): 7 of 28 days of it, not of the first invoice's 50.00.
    cancel_subscription(
        praho_session,
        subscription,
        at_period_end=False,
        credit_unused=True,
        now=at("2026-02-22", 0),
    )
    last = _documents(praho_session, subscription)[-1]
    assert last.kind == DocumentKind.CREDIT_NOTE and last.original_invoice_id == february.id
    assert (last.taxable_minor, last.total_minor) == (500, 605)
    assert last.lines[0].details["basis"]["document"] == credit_note.full_number


def test_removing_an_addon_credits_its_discounted_price(praho_factory, praho_session, discounted):
    backup = praho_factory.price(
        praho_factory.product(code="BACKUP", name="Backup zilnic", kind="addon"),
        unit_amount_minor=1000,
    )
    subscription, february = discounted(addons=[backup])
    assert february.taxable_minor == 5500
    addon = next(item for item in subscription.active_items if item.price_id == backup.id)
    [credit_note] = remove_addon(praho_session, subscription, addon, now=HALF_OF_FEBRUARY).documents
    assert [ln.net_amount_minor for ln in credit_note.lines] == [250]
    assert credit_note.total_minor == 303


def test_a_free_period_has_nothing_to_credit(praho_factory, praho_session, discounted):
    # Before, each of these credited the list price, more than the 0.00 invoice holds,
    # and was refused.
    (cancelled, february), (paused, _), (downgraded, _) = discounted("100", count=3)
    assert february.total_minor == 0
    cancel_subscription(
        praho_session, cancelled, at_period_end=False, credit_unused=True, now=HALF_OF_FEBRUARY
    )
    assert cancelled.status == SubscriptionStatus.CANCELLED
    pause_subscription(praho_session, paused, credit_unused=True, now=HALF_OF_FEBRUARY)
    assert paused.status == SubscriptionStatus.PAUSED
    small = praho_factory.price(unit_amount_minor=2000)
    downgrade = change_plan(praho_session, downgraded, small, now=HALF_OF_FEBRUARY)
    assert downgrade.plan.credit_minor == 0
    for subscription in (cancelled, paused, downgraded):
        kinds = [d.kind for d in _documents(praho_session, subscription)]
        assert DocumentKind.CREDIT_NOTE not in kinds
    assert february.credited_minor == 0


def test_the_credit_never_exceeds_what_the_line_can_still_be_credited(praho_factory, praho_session):
    subscription = praho_factory.subscription(
        praho_factory.price(unit_amount_minor=10000), start="2026-02-01"
    )
    [february] = _documents(praho_session, subscription)
    # Staff already credited 80.00 of the 100.00 line: half the period is worth 50.00,
    # but only 20.00 of the line is left to credit.
    issue_credit_note(
        praho_session,
        february,
        reason="goodwill",
        lines=[CreditLine(february.lines[0].id, net_amount_minor=8000)],
        now=at("2026-02-10"),
    )
    cancel_subscription(
        praho_session, subscription, at_period_end=False, credit_unused=True, now=HALF_OF_FEBRUARY
    )
    last = _documents(praho_session, subscription)[-1]
    assert last.kind == DocumentKind.CREDIT_NOTE
    assert [ln.net_amount_minor for ln in last.lines] == [2000]
    assert february.credited_minor == february.total_minor


def test_a_discounted_quantity_is_credited_exactly(praho_session, discounted):
    # 3 x 33.33 = 99.99 with 15% off (15.00): 84.99 billed, 28.33 a unit; half of it.
    subscription, february = discounted("15", quantity=3, unit_amount_minor=3333)
    assert february.taxable_minor == 8499
    cancel_subscription(
        praho_session, subscription, at_period_end=False, credit_unused=True, now=HALF_OF_FEBRUARY
    )
    [line] = _documents(praho_session, subscription)[-1].lines
    assert (line.quantity, line.unit_price, line.net_amount_minor) == (
        Decimal(3),
        Decimal("14.165000"),
        4250,
    )


def test_an_upgrade_credits_unused_time_at_the_rate_of_the_invoice_it_reduces(praho_factory):
    praho_factory.seller(tax_regime="eu_vat")
    customer = praho_factory.customer()
    basic = praho_factory.price(unit_amount_minor=10000)
    pro = praho_factory.price(unit_amount_minor=20000)
    subscription = praho_factory.subscription(basic, customer, start="2025-07-15")
    [july] = _documents(praho_factory.session, subscription)
    assert july.lines[0].tax_rate == Decimal(19)
    # The preview shows the document the change will issue, VAT rates included.
    preview = preview_change(
        praho_factory.session, subscription, new_price=pro, now=at("2025-08-05", 12)
    ).document
    assert [(ln.net_amount_minor, ln.tax_rate) for ln in preview.lines] == [
        (-3065, Decimal(19)),
        (6129, Decimal(21)),
    ]
    assert (preview.vat_minor, preview.total_minor) == (705, 3769)
    [upgrade] = change_plan(
        praho_factory.session, subscription, pro, now=at("2025-08-05", 12)
    ).documents
    credit, charge = upgrade.lines
    assert (credit.net_amount_minor, credit.tax_category, credit.tax_rate) == (
        -3065,
        "S",
        Decimal(19),
    )
    assert credit.tax_note == july.lines[0].tax_note
    assert credit.details["tax_fixed"] and credit.details["original_line_id"] == july.lines[0].id
    assert (charge.net_amount_minor, charge.tax_rate) == (6129, Decimal(21))
    assert sorted((s.tax_rate, s.taxable_minor, s.tax_minor) for s in upgrade.tax_subtotals) == [
        (Decimal(19), -3065, -582),
        (Decimal(21), 6129, 1287),
    ]
    assert (upgrade.vat_minor, upgrade.total_minor) == (705, 3769)
