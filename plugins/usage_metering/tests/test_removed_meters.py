"""Usage of a meter the subscription stops being charged for is still billed, once.

A plan change to a price without the meter, or a removed metered add-on, used to drop
the usage recorded while the meter was charged: only the meters of the current items
were rated, and late events for the meter were refused. The usage up to the day the
charge stopped goes on the next document, at the price that charged it; late events
dated before then are accepted and adjusted; later ones are refused.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from praho.core.models import Invoice
from praho.core.services.billing import bill_subscriptions
from praho.core.services.billing_run import run_billing
from praho.core.services.subscription_changes import change_plan, remove_addon
from praho.core.services.subscriptions import cancel_subscription
from praho.core.testing import at
from praho.plugins.usage_metering import record_usage_events
from praho.plugins.usage_metering.meters import define_charge
from praho.plugins.usage_metering.models import MeterCharge, UsageRating
from praho.plugins.usage_metering.tests.conftest import RENEWAL
from sqlalchemy import func, select

CHANGED = at("2026-03-20", 12)
MARCH_RUN = at("2026-03-31", 3)
APRIL_RUN = at("2026-04-30", 3)


def _documents(session, subscription):
    query = select(Invoice).where(Invoice.subscription_id == subscription.id)
    return session.execute(query.order_by(Invoice.id)).scalars().all()


def _lines_of(session, subscription, meter):
    """(document period start, line kind, quantity, amount) of the meter's lines."""
    return [
        (document.period_start, line.kind, line.quantity, line.net_amount_minor)
        for document in _documents(session, subscription)
        for line in document.lines
        if (line.details or {}).get("usage", {}).get("meter_id") == meter.id
    ]


def _ratings(session, subscription, meter):
    query = select(UsageRating).where(
        UsageRating.subscription_id == subscription.id, UsageRating.meter_id == meter.id
    )
    return [
        (r.period_start, r.period_end, r.revision, r.quantity, r.amount_minor)
        for r in session.execute(query.order_by(UsageRating.id)).scalars()
    ]


def _charges_of(session, price):
    return (
        session.execute(select(MeterCharge).where(MeterCharge.price_id == price.id)).scalars().all()
    )


def _storage_only_plan(session, metered):
    """A price that charges storage only, then the plan moved to it on 20 March."""
    storage_only = metered.factory.price(unit_amount_minor=5000)
    define_charge(
        session,
        meter=metered.storage,
        price=storage_only,
        now=at("2026-03-01"),
        data={"model": "per_unit", "unit_price": "0.10"},
    )
    change_plan(session, metered.subscription, storage_only, proration="none", now=CHANGED)
    return storage_only


def _twelve_mailboxes_then_plan_change(session, metered):
    """Renewed 28 February; 12 mailboxes on 5 March (5 included, 2.00 each: 14.00 owed)."""
    bill_subscriptions(session, [metered.subscription.id], now=RENEWAL)
    event = metered.event("mb-5-mar", 12, meter="mailboxes", when=at("2026-03-05"))
    assert record_usage_events(session, [event], now=at("2026-03-05", 13)).accepted == 1
    return _storage_only_plan(session, metered)


def test_plan_change_bills_the_dropped_meter_once_on_the_next_renewal(praho_session, metered):
    _twelve_mailboxes_then_plan_change(praho_session, metered)
    bill_subscriptions(praho_session, [metered.subscription.id], now=MARCH_RUN)
    bill_subscriptions(praho_session, [metered.subscription.id], now=APRIL_RUN)
    cancel_subscription(
        praho_session, metered.subscription, at_period_end=False, now=at("2026-05-10")
    )
    # Billed on the 31 March renewal, at the old plan's terms, and on no other document.
    assert _lines_of(praho_session, metered.subscription, metered.mailboxes) == [
        (date(2026, 3, 31), "usage", Decimal(12), 1400)
    ]
    march = _documents(praho_session, metered.subscription)[2]
    [line] = [line for line in march.lines if line.item_name == "Căsuțe e-mail"]
    # Up to and including the day of the change.
    assert (line.period_start, line.period_end) == (date(2026, 2, 28), date(2026, 3, 20))
    old_charge = next(
        c for c in _charges_of(praho_session, metered.price) if c.meter_id == metered.mailboxes.id
    )
    assert line.details["usage"]["meter_charge_id"] == old_charge.id
    assert _ratings(praho_session, metered.subscription, metered.mailboxes) == [
        (date(2026, 1, 31), date(2026, 2, 28), 0, Decimal(0), 0),
        (date(2026, 2, 28), date(2026, 3, 21), 0, Decimal(12), 1400),
    ]


def test_plan_change_then_cancellation_bills_the_dropped_meter_on_the_final_invoice(
    praho_session, metered
):
    _twelve_mailboxes_then_plan_change(praho_session, metered)
    cancel_subscription(
        praho_session, metered.subscription, at_period_end=False, now=at("2026-03-25")
    )
    final = _documents(praho_session, metered.subscription)[-1]
    assert final.attributes["final"]
    assert _lines_of(praho_session, metered.subscription, metered.mailboxes) == [
        (final.period_start, "usage", Decimal(12), 1400)
    ]


def test_removed_addon_usage_is_billed_at_the_addon_charge(praho_session, metered):
    factory = metered.factory
    addon = factory.price(unit_amount_minor=1000)
    define_charge(
        praho_session,
        meter=metered.mailboxes,
        price=addon,
        now=at("2026-01-31"),
        data={"model": "per_unit", "unit_price": "3.00"},
    )
    subscription = factory.subscription(factory.price(), metered.customer, addons=[addon])
    bill_subscriptions(praho_session, [subscription.id], now=RENEWAL)
    event = {**metered.event("addon-mb", 4, meter="mailboxes"), "subscription": subscription.id}
    event["timestamp"] = at("2026-03-05").isoformat()
    assert record_usage_events(praho_session, [event], now=at("2026-03-05", 13)).accepted == 1
    [item] = [i for i in subscription.active_items if i.price_id == addon.id]
    remove_addon(praho_session, subscription, item, proration="none", now=CHANGED)

    # A late event dated before the removal is billable; one after it is not.
    late = {**event, "id": "addon-late", "timestamp": at("2026-03-19").isoformat()}
    after = {**event, "id": "addon-after", "timestamp": at("2026-03-21").isoformat()}
    result = record_usage_events(praho_session, [late, after], now=at("2026-03-25"))
    assert result.accepted == 1
    assert [(r.event_id, r.reason) for r in result.rejected] == [
        ("addon-after", "meter_not_in_plan")
    ]

    bill_subscriptions(praho_session, [subscription.id], now=MARCH_RUN)
    bill_subscriptions(praho_session, [subscription.id], now=APRIL_RUN)
    # max 4 mailboxes x 3.00, nothing included; on the March renewal only.
    assert _lines_of(praho_session, subscription, metered.mailboxes) == [
        (date(2026, 3, 31), "usage", Decimal(4), 1200)
    ]


def test_late_event_inside_the_charged_window_is_adjusted_and_after_it_refused(
    praho_session, metered
):
    _twelve_mailboxes_then_plan_change(praho_session, metered)
    bill_subscriptions(praho_session, [metered.subscription.id], now=MARCH_RUN)
    customer_code = metered.customer.code
    by_code = {
        key: value
        for key, value in metered.event(
            "mb-by-code", 13, meter="mailboxes", when=at("2026-03-19")
        ).items()
        if key != "subscription"
    }
    events = [
        metered.event("mb-late", 15, meter="mailboxes", when=at("2026-03-18")),
        {**by_code, "customer": customer_code},
        # Half an hour after the plan change, and a few days after.
        metered.event("mb-after", 20, meter="mailboxes", when=at("2026-03-20", 12, 30)),
        metered.event("mb-later", 20, meter="mailboxes", when=at("2026-03-25")),
    ]
    result = record_usage_events(praho_session, events, now=at("2026-04-05"))
    assert result.accepted == 2
    assert [(r.event_id, r.reason) for r in result.rejected] == [
        ("mb-after", "meter_not_in_plan"),
        ("mb-later", "meter_not_in_plan"),
    ]
    assert "stopped being charged for mailboxes" in result.rejected[0].message

    bill_subscriptions(praho_session, [metered.subscription.id], now=APRIL_RUN)
    # max 15 now: 10 x 2.00 = 20.00, of which 14.00 was billed in March.
    assert _lines_of(praho_session, metered.subscription, metered.mailboxes) == [
        (date(2026, 3, 31), "usage", Decimal(12), 1400),
        (date(2026, 4, 30), "adjustment", Decimal(3), 600),
    ]
    assert _ratings(praho_session, metered.subscription, metered.mailboxes)[1:] == [
        (date(2026, 2, 28), date(2026, 3, 21), 0, Decimal(12), 1400),
        (date(2026, 2, 28), date(2026, 3, 21), 1, Decimal(15), 600),
    ]


def test_rerunning_the_billing_run_does_not_rate_twice(praho_session, metered):
    _twelve_mailboxes_then_plan_change(praho_session, metered)
    run_billing(praho_session, now=MARCH_RUN)
    rated = _ratings(praho_session, metered.subscription, metered.mailboxes)
    documents = len(_documents(praho_session, metered.subscription))
    again = run_billing(praho_session, now=at("2026-03-31", 22))
    assert again.subscriptions_due == 0
    report = bill_subscriptions(praho_session, [metered.subscription.id], now=MARCH_RUN)
    assert not report.issued
    run_billing(praho_session, now=APRIL_RUN)
    run_billing(praho_session, now=at("2026-04-30", 22))
    assert len(_documents(praho_session, metered.subscription)) == documents + 1
    assert _ratings(praho_session, metered.subscription, metered.mailboxes) == rated
    assert _lines_of(praho_session, metered.subscription, metered.mailboxes) == [
        (date(2026, 3, 31), "usage", Decimal(12), 1400)
    ]
    total = praho_session.execute(
        select(func.sum(UsageRating.amount_minor)).where(
            UsageRating.meter_id == metered.mailboxes.id
        )
    ).scalar_one()
    assert total == 1400
