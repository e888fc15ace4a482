"""An ending subscription's last usage window goes on its final document, once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from praho.core.models import Invoice, PendingProration
from praho.core.services.billing import bill_subscriptions
from praho.core.services.subscription_changes import change_quantity
from praho.core.services.subscriptions import cancel_subscription, terminate_subscription
from praho.core.testing import at
from praho.plugins.usage_metering import record_usage_events
from praho.plugins.usage_metering.models import UsageRating
from praho.plugins.usage_metering.tests.conftest import RENEWAL
from sqlalchemy import select


def _documents(session, subscription):
    return (
        session.execute(
            select(Invoice).where(Invoice.subscription_id == subscription.id).order_by(Invoice.id)
        )
        .scalars()
        .all()
    )


def _march_usage(session, metered, gb="30"):
    """Renewed on 28 February, then 30 GB and 8 mailboxes used in March."""
    bill_subscriptions(session, [metered.subscription.id], now=RENEWAL)
    events = [
        metered.event("mar-s", gb, when=at("2026-03-10", 12)),
        metered.event("mar-m", 8, meter="mailboxes", when=at("2026-03-11", 12)),
    ]
    assert record_usage_events(session, events, now=at("2026-03-12", 12)).accepted == 2


def test_hook_collect_final_charges(praho_session, metered):
    """Cancelled at period end: the run that ends it issues the last window's usage."""
    _march_usage(praho_session, metered)
    cancel_subscription(
        praho_session, metered.subscription, at_period_end=True, now=at("2026-03-15", 12)
    )
    before = len(_documents(praho_session, metered.subscription))
    report = bill_subscriptions(praho_session, [metered.subscription.id], now=at("2026-03-31", 3))
    (outcome,) = report.outcomes
    assert outcome.outcome == "ended"
    assert metered.subscription.status == "cancelled"
    documents = _documents(praho_session, metered.subscription)
    assert len(documents) == before + 1
    final = documents[-1]
    assert final.status == "issued" and final.attributes["final"]["end_date"] == "2026-03-31"
    lines = {line.item_name: line for line in final.lines}
    # 30 GB with 10 included: 20 x 0.50; 8 mailboxes with 5 included: 3 x 2.00.
    storage, mailboxes = lines["Spațiu de stocare"], lines["Căsuțe e-mail"]
    assert (storage.kind, storage.quantity, storage.net_amount_minor) == (
        "usage",
        Decimal(30),
        1000,
    )
    assert (storage.period_start, storage.period_end) == (date(2026, 2, 28), date(2026, 3, 30))
    assert mailboxes.net_amount_minor == 600
    assert final.lines_net_minor == 1600  # usage only: the period itself was prepaid
    # The run reports the final document and hands it to payment collection.
    assert (outcome.invoice_id, outcome.document_number, outcome.total_minor) == (
        final.id,
        final.full_number,
        final.total_minor,
    )
    assert [(d.invoice_id, d.total_minor) for d in report.issued] == [(final.id, final.total_minor)]


def test_hook_subscription_final_invoiced(praho_session, metered):
    """The final document's usage is recorded as rated, against that document."""
    _march_usage(praho_session, metered)
    cancel_subscription(
        praho_session, metered.subscription, at_period_end=True, now=at("2026-03-15", 12)
    )
    bill_subscriptions(praho_session, [metered.subscription.id], now=at("2026-03-31", 3))
    final = _documents(praho_session, metered.subscription)[-1]
    rated = (
        praho_session.execute(
            select(UsageRating).where(UsageRating.invoice_id == final.id).order_by(UsageRating.id)
        )
        .scalars()
        .all()
    )
    assert [(r.meter_id, r.period_start, r.period_end, r.amount_minor) for r in rated] == [
        (metered.storage.id, date(2026, 2, 28), date(2026, 3, 31), 1000),
        (metered.mailboxes.id, date(2026, 2, 28), date(2026, 3, 31), 600),
    ]
    # A run afterwards bills nothing more for the ended subscription.
    documents = len(_documents(praho_session, metered.subscription))
    bill_subscriptions(praho_session, [metered.subscription.id], now=at("2026-04-30", 3))
    assert len(_documents(praho_session, metered.subscription)) == documents


def test_cancel_now_bills_usage_up_to_and_including_today(praho_session, metered):
    _march_usage(praho_session, metered)
    today = metered.event("today", "5", when=at("2026-03-20", 8))
    assert record_usage_events(praho_session, [today], now=at("2026-03-20", 9)).accepted == 1
    before = len(_documents(praho_session, metered.subscription))
    cancel_subscription(
        praho_session, metered.subscription, at_period_end=False, now=at("2026-03-20", 10)
    )
    final = _documents(praho_session, metered.subscription)[-1]
    assert len(_documents(praho_session, metered.subscription)) == before + 1
    storage = next(line for line in final.lines if line.item_name == "Spațiu de stocare")
    assert storage.quantity == Decimal(35)  # the event of the cancellation day counts
    assert storage.period_end == date(2026, 3, 20)


def test_termination_bills_the_last_window_with_waiting_prorations(praho_session, metered):
    _march_usage(praho_session, metered, gb="10")  # within the included 10 GB
    # A second seat from 12 March, its proration kept for the next document.
    item = metered.subscription.active_items[0]
    change_quantity(
        praho_session,
        metered.subscription,
        item,
        2,
        proration="next_invoice",
        now=at("2026-03-12", 12),
    )
    waiting = praho_session.execute(select(PendingProration)).scalars().all()
    # Credit for the unused single seat, charge for two seats: a net charge, not invoiced.
    owed = sum(row.net_amount_minor for row in waiting)
    assert owed > 0 and all(row.invoice_id is None for row in waiting)
    terminate_subscription(
        praho_session, metered.subscription, reason="abuse", now=at("2026-03-22", 10)
    )
    final = _documents(praho_session, metered.subscription)[-1]
    prorations = [line.net_amount_minor for line in final.lines if line.kind == "proration"]
    usage = sorted(line.net_amount_minor for line in final.lines if line.kind == "usage")
    assert sum(prorations) == owed and len(prorations) == len(waiting)
    assert usage == [0, 600]  # free storage (a zero line, recorded), 3 extra mailboxes
    assert all(row.invoice_id == final.id for row in waiting)
    assert metered.subscription.status == "terminated"


def test_nothing_owed_issues_no_final_document(praho_session, metered):
    bill_subscriptions(praho_session, [metered.subscription.id], now=RENEWAL)
    before = len(_documents(praho_session, metered.subscription))
    cancel_subscription(
        praho_session, metered.subscription, at_period_end=False, now=at("2026-03-05", 10)
    )
    assert len(_documents(praho_session, metered.subscription)) == before
    assert metered.subscription.status == "cancelled"
