"""Items that go onto a price after its rise took effect pay the risen price, like new customers.

The notice guard protects what a customer was already paying: an item on the price before
the rise keeps the old price until its notice has run. An item moved onto the price later
(a plan change, an add-on) chose the current price knowing it. A lock still wins over both.
"""

from __future__ import annotations

from datetime import date

from praho.core.services.catalog import add_price_version
from praho.core.services.subscription_changes import change_plan, change_quantity
from praho.core.testing import at
from praho.plugins.grandfathering.locks import grant_lock
from praho.plugins.grandfathering.models import MigrationStatus, PriceMigration, PriceNotice
from praho.plugins.grandfathering.testing import renewals
from sqlalchemy import select


def _rise(session, price):
    """50.00 -> 60.00, announced 10 Feb, effective 1 Mar."""
    return add_price_version(
        session,
        price,
        unit_amount_minor=6000,
        effective_from=date(2026, 3, 1),
        now=at("2026-02-10", 10),
    )


def _billed(session, subscription):
    return [(r[0], r[1]) for r in renewals(session, subscription)]


def test_plan_change_onto_a_risen_price_pays_it_from_the_change_on(
    praho_factory, praho_session, clock
):
    p = praho_factory.price(unit_amount_minor=5000)
    q = praho_factory.price(unit_amount_minor=4000)
    x = praho_factory.subscription(q, start="2026-01-31")
    _rise(praho_session, p)
    clock.run("2026-02-10", "2026-04-14")
    change_plan(praho_session, x, p, proration="none", now=at("2026-04-15", 10))
    y = praho_factory.subscription(p, start="2026-04-15")
    clock.run("2026-04-15", "2026-08-31")
    assert _billed(praho_session, x) == [
        (date(2026, 1, 31), 4000),
        (date(2026, 2, 28), 4000),
        (date(2026, 3, 31), 4000),
        (date(2026, 4, 30), 6000),
        (date(2026, 5, 31), 6000),
        (date(2026, 6, 30), 6000),
        (date(2026, 7, 31), 6000),
        (date(2026, 8, 31), 6000),
    ]
    assert {amount for _day, amount in _billed(praho_session, y)} == {6000}
    # Nothing to announce to either: both chose 60.00.
    assert praho_session.execute(select(PriceNotice)).scalars().all() == []


def test_prorated_plan_change_onto_a_risen_price_charges_the_risen_price(
    praho_factory, praho_session, clock
):
    p = praho_factory.price(unit_amount_minor=5000)
    q = praho_factory.price(unit_amount_minor=4000)
    x = praho_factory.subscription(q, start="2026-01-31")
    _rise(praho_session, p)
    clock.run("2026-02-10", "2026-04-14")
    result = change_plan(praho_session, x, p, now=at("2026-04-15", 10))
    assert result.plan.new_unit_amounts == {0: 6000}
    assert x.items[0].billed_unit_amount_minor == 6000
    clock.run("2026-04-15", "2026-04-30")
    assert _billed(praho_session, x)[-1] == (date(2026, 4, 30), 6000)


def test_plan_change_shortly_after_the_rise_is_planned_as_skipped(
    praho_factory, praho_session, clock
):
    p = praho_factory.price(unit_amount_minor=5000)
    q = praho_factory.price(unit_amount_minor=4000)
    x = praho_factory.subscription(q, start="2026-01-31")
    _rise(praho_session, p)
    clock.run("2026-02-10", "2026-03-02")
    # Within the batch's refresh window, so the batch plans it: skipped, no notice.
    change_plan(praho_session, x, p, proration="none", now=at("2026-03-03", 10))
    clock.run("2026-03-03", "2026-04-30")
    plan = praho_session.execute(select(PriceMigration)).scalar_one()
    assert (plan.subscription_id, plan.status) == (x.id, MigrationStatus.SKIPPED)
    assert praho_session.execute(select(PriceNotice)).scalars().all() == []
    assert _billed(praho_session, x)[-2:] == [(date(2026, 3, 31), 6000), (date(2026, 4, 30), 6000)]


def test_items_on_the_price_before_the_rise_keep_their_notice_period(
    praho_factory, praho_session, clock
):
    p = praho_factory.price(unit_amount_minor=5000)
    q = praho_factory.price(unit_amount_minor=4000)
    since_january = praho_factory.subscription(p, start="2026-01-31")
    # Moved onto P after the announcement but before the rise took effect: protected too.
    moved_in_february = praho_factory.subscription(q, start="2026-01-31")
    _rise(praho_session, p)
    clock.run("2026-02-10", "2026-02-19")
    change_plan(praho_session, moved_in_february, p, proration="none", now=at("2026-02-20", 10))
    clock.run("2026-02-20", "2026-02-28")
    # From 1 Mar the batch stops until 1 May: no notice, so nobody on P before the rise pays more.
    clock.run("2026-03-01", "2026-03-04", batch=False)
    # A quantity change after the rise does not put the item onto the price again.
    item = since_january.items[0]
    change_quantity(
        praho_session, since_january, item, 2, proration="none", now=at("2026-03-05", 10)
    )
    clock.run("2026-03-05", "2026-04-30", batch=False)
    assert [a for _d, a in _billed(praho_session, since_january)] == [5000, 5000, 10000, 10000]
    assert [a for _d, a in _billed(praho_session, moved_in_february)] == [4000, 5000, 5000, 5000]
    # The batch runs again on 1 May: notices go out, 30 days later the 31 May renewals move.
    clock.run("2026-05-01", "2026-05-31")
    notices = praho_session.execute(select(PriceNotice).order_by(PriceNotice.id)).scalars().all()
    assert sorted((n.subscription_id, n.applies_from) for n in notices) == [
        (since_january.id, date(2026, 5, 31)),
        (moved_in_february.id, date(2026, 5, 31)),
    ]
    assert _billed(praho_session, since_january)[-1] == (date(2026, 5, 31), 12000)
    assert _billed(praho_session, moved_in_february)[-1] == (date(2026, 5, 31), 6000)


def test_a_loyal_customer_lock_still_wins_after_moving_onto_the_price(
    praho_factory, praho_session, clock
):
    p = praho_factory.price(unit_amount_minor=5000)
    q = praho_factory.price(unit_amount_minor=4000)
    customer = praho_factory.customer()
    x = praho_factory.subscription(q, customer, start="2026-01-31")
    _rise(praho_session, p)
    grant_lock(
        praho_session,
        customer=customer,
        price=p,
        unit_amount_minor=4500,
        reason="loyal customer",
        now=at("2026-04-01"),
    )
    clock.run("2026-02-10", "2026-04-14")
    change_plan(praho_session, x, p, proration="none", now=at("2026-04-15", 10))
    clock.run("2026-04-15", "2026-06-30")
    assert _billed(praho_session, x)[-3:] == [
        (date(2026, 4, 30), 4500),
        (date(2026, 5, 31), 4500),
        (date(2026, 6, 30), 4500),
    ]
