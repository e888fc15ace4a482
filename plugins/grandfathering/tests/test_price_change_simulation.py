"""Months of billing: a price rise, a grandfathered customer, a coupon, and all together."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from praho.core.models import AuditEvent, EmailMessage, Invoice
from praho.core.plugins import get_registry
from praho.core.services.catalog import add_price_version
from praho.core.testing import at
from praho.plugins.grandfathering.locks import bulk_lock_price, grant_lock
from praho.plugins.grandfathering.models import MigrationStatus, PriceMigration, PriceNotice
from praho.plugins.grandfathering.testing import renewals
from praho.plugins.promotions.coupons import CouponSpec, create_coupon
from praho.plugins.promotions.redemption import redeem_coupon
from praho.plugins.ro_efactura.validation import errors_only
from sqlalchemy import func, select


def _rise(session, price, announced="2026-02-10", effective=date(2026, 3, 1), amount=6000):
    return add_price_version(
        session, price, unit_amount_minor=amount, effective_from=effective, now=at(announced, 10)
    )


def test_price_rise_is_billed_only_after_30_days_notice(praho_factory, praho_session, clock):
    price = praho_factory.price()
    customer = praho_factory.customer(language="en")
    subscription = praho_factory.subscription(price, customer, start="2026-01-31")
    _rise(praho_session, price)
    plan = praho_session.execute(select(PriceMigration)).scalar_one()
    # Announced 10 Feb, effective 1 Mar: 30 days' notice reaches 12 Mar; the 31 Mar renewal moves.
    assert (plan.status, plan.move_on, plan.notice_due_on) == (
        "planned",
        date(2026, 3, 31),
        date(2026, 3, 1),
    )
    clock.run("2026-02-10", "2026-05-01")
    assert [(r[0], r[1]) for r in renewals(praho_session, subscription)] == [
        (date(2026, 1, 31), 5000),
        (date(2026, 2, 28), 5000),
        (date(2026, 3, 31), 6000),
        (date(2026, 4, 30), 6000),
    ]
    notice = praho_session.execute(select(PriceNotice)).scalar_one()
    assert (notice.sent_at, notice.applies_from) == (at("2026-03-01", 6, 15), date(2026, 3, 31))
    mail = praho_session.get(EmailMessage, notice.email_message_id)
    assert mail.to_address == customer.email and mail.language == "en"
    assert (
        "from 50.00 RON to 60.00 RON per month" in mail.body_text and "31.03.2026" in mail.body_text
    )
    assert praho_session.get(PriceMigration, plan.id).status == MigrationStatus.MIGRATED
    kinds = [a.kind for a in clock.actions]
    assert kinds == ["notify", "migrate"]  # idempotent: nothing repeated on later days


def test_no_higher_price_without_notice_even_when_the_batch_never_ran(
    praho_factory, praho_session, clock
):
    price = praho_factory.price()
    subscription = praho_factory.subscription(price, start="2026-01-31")
    _rise(praho_session, price)
    clock.run("2026-02-10", "2026-04-30", batch=False)
    assert [r[1] for r in renewals(praho_session, subscription)] == [5000, 5000, 5000, 5000]
    assert praho_session.execute(select(func.count(PriceNotice.id))).scalar_one() == 0
    # The batch runs again on 1 May: the notice goes out, 30 days later the 31 May renewal moves.
    clock.run("2026-05-01", "2026-06-01")
    assert [r[1] for r in renewals(praho_session, subscription)] == [5000] * 4 + [6000]
    assert [a.kind for a in clock.actions] == ["notify", "migrate"]


def test_short_notice_moves_the_first_renewal_later(praho_factory, praho_session, clock):
    price = praho_factory.price()
    subscription = praho_factory.subscription(
        price, customer=praho_factory.customer(language="ro"), start="2026-01-31"
    )
    # Announced 25 Feb for 1 Mar: 30 days from the notice is 27 Mar, so 31 Mar is the first renewal.
    _rise(praho_session, price, announced="2026-02-25")
    clock.run("2026-02-25", "2026-04-01")
    assert [r[1] for r in renewals(praho_session, subscription)] == [5000, 5000, 6000]
    mail = praho_session.execute(select(EmailMessage)).scalar_one()
    assert mail.subject.startswith("Modificare de preț pentru Web Hosting")
    assert "de la 50,00 RON la 60,00 RON pe lună" in mail.body_text


def test_grandfathered_customer_keeps_the_old_price_until_the_lock_expires(
    praho_factory, praho_session, clock
):
    price = praho_factory.price()
    kept = praho_factory.subscription(price, start="2026-01-31")
    moved = praho_factory.subscription(price, start="2026-01-31")
    _rise(praho_session, price)
    result = bulk_lock_price(
        praho_session,
        price,
        reason="loyal customers keep the old price",
        months=3,
        now=at("2026-02-10", 11),
    )
    assert len(result.created) == 2 and result.created[0].expires_on == date(2026, 5, 10)
    # Only the first keeps the lock in this scenario; the second's lock is revoked at once.
    from praho.plugins.grandfathering.locks import revoke_lock

    revoke_lock(praho_session, result.created[1], reason="not eligible", now=at("2026-02-10", 12))
    again = bulk_lock_price(
        praho_session,
        price,
        reason="loyal customers keep the old price",
        months=3,
        now=at("2026-02-10", 13),
    )
    assert again.created == [] and len(again.already_locked) == 2
    clock.run("2026-02-10", "2026-07-01")
    assert [r[1] for r in renewals(praho_session, kept)] == [5000, 5000, 5000, 5000, 6000, 6000]
    assert [r[1] for r in renewals(praho_session, moved)] == [5000, 5000, 6000, 6000, 6000, 6000]
    expiry = praho_session.execute(
        select(PriceNotice).where(PriceNotice.kind == "lock_expiry")
    ).scalar_one()
    assert (expiry.subscription_id, expiry.sent_at.date(), expiry.applies_from) == (
        kept.id,
        date(2026, 4, 10),
        date(2026, 5, 10),
    )
    actions = {(a.kind, a.subscription_id) for a in clock.actions}
    assert {
        ("protect", kept.id),
        ("unprotect", kept.id),
        ("migrate", kept.id),
        ("lock_expired", kept.id),
        ("notify", moved.id),
        ("migrate", moved.id),
    } <= actions
    audited = set(
        praho_session.execute(
            select(AuditEvent.action).where(AuditEvent.object_type == "price_lock")
        ).scalars()
    )
    assert audited == {"price_lock.granted", "price_lock.revoked", "price_lock.expired"}


def test_lock_coupon_and_price_rise_together(praho_factory, praho_session, clock):
    """The lock fixes the unit price, the coupon discounts that price, the rise waits for both."""
    price = praho_factory.price()
    customer = praho_factory.customer()
    subscription = praho_factory.subscription(price, customer, start="2026-01-31")
    create_coupon(
        praho_session,
        CouponSpec(
            code="LOYAL10",
            name="Loyalty 10%",
            discount_type="percentage",
            percent=Decimal("10"),
            duration="repeating",
            duration_cycles=3,
        ),
        now=at("2026-02-01"),
    )
    redeem_coupon(
        praho_session, "loyal10", customer=customer, subscription=subscription, now=at("2026-02-01")
    )
    grant_lock(
        praho_session,
        customer=customer,
        price=price,
        unit_amount_minor=4800,
        reason="migrated from old panel",
        expires_on=date(2026, 4, 15),
        now=at("2026-02-05"),
    )
    _rise(praho_session, price)
    clock.run("2026-02-05", "2026-06-01")
    assert renewals(praho_session, subscription) == [
        (date(2026, 1, 31), 5000, 1050, 6050),
        (date(2026, 2, 28), 4320, 907, 5227),  # lock 48.00 - 10%
        (date(2026, 3, 31), 4320, 907, 5227),  # lock still covers; rise held
        (
            date(2026, 4, 30),
            5400,
            1134,
            6534,
        ),  # lock over, expiry notice ran, 60.00 - 10% (3rd cycle)
        (date(2026, 5, 31), 6000, 1260, 7260),  # coupon used up
    ]
    # Each document with its coupon allowance is a valid CIUS-RO e-invoice (EN 16931 rules).
    cius_ro = get_registry().objects("register_einvoice_formats")["ubl_cius_ro"]
    documents = (
        praho_session.execute(
            select(Invoice).where(Invoice.allowance_total_minor > 0).order_by(Invoice.id)
        )
        .scalars()
        .all()
    )
    assert len(documents) == 3
    for document in documents:
        assert errors_only(cius_ro.validate(cius_ro.render(document))) == []
