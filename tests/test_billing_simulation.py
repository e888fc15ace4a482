"""Time simulation: months of billing replayed on a copy of the data, live data untouched."""

from datetime import date

import pytest
from praho.core.billing_simulation import check_range, copy_database, drop_copy, simulate
from praho.core.db import Database
from praho.core.errors import FieldError
from praho.core.models import Invoice, Subscription
from praho.core.payments.testing import customer_with_card
from praho.core.services import ledger
from praho.core.services.subscriptions import cancel_subscription
from praho.core.testing import PrahoFactory, at
from sqlalchemy import func, select


def _scenario(database):
    """Four customers with different cycles, a trial and a cancellation, billed on 31 January."""
    with database.transaction() as session:
        factory = PrahoFactory(session)
        monthly = factory.price(unit_amount_minor=5000)
        quarterly = factory.price(unit_amount_minor=14000, interval_months=3)
        yearly = factory.price(unit_amount_minor=50000, interval_months=12)
        factory.subscription(monthly, start="2026-01-31")
        factory.subscription(quarterly, start="2026-01-31", trial_days=14)
        factory.subscription(yearly, start="2026-01-31")
        leaving = factory.subscription(monthly, start="2026-01-31")
        cancel_subscription(session, leaving, reason="closing the shop", now=at("2026-01-31", 15))


def test_five_months_replayed_on_a_copy(praho_committing):
    _scenario(praho_committing)
    with praho_committing.transaction() as session:
        live_documents = session.execute(select(func.count(Invoice.id))).scalar_one()
    assert live_documents == 3  # monthly, yearly, leaving; the trial is not billed yet
    copy_url = copy_database(praho_committing.url)
    copy = Database(copy_url)
    seen = []
    try:
        report = simulate(copy, date(2026, 2, 1), date(2026, 6, 30), on_day=seen.append,
                          collect=False)  # billing only: nobody here pays
        with copy.transaction() as session:
            periods = session.execute(
                select(Invoice.period_start, Invoice.total_minor).order_by(Invoice.id)
            ).all()
            statuses = sorted(
                str(s) for s in session.execute(select(Subscription.status)).scalars()
            )
    finally:
        copy.dispose()
        drop_copy(copy_url)
    busy = {day.day: (day.issued, day.ended) for day in report.days if day.issued or day.ended}
    assert busy == {
        date(2026, 2, 14): (1, 0),  # the trial ends, first quarter billed
        date(2026, 2, 28): (1, 1),  # the cancellation takes effect at the end of the period
        date(2026, 3, 31): (1, 0),
        date(2026, 4, 30): (1, 0),
        date(2026, 5, 14): (1, 0),  # second quarter
        date(2026, 5, 31): (1, 0),
        date(2026, 6, 30): (1, 0),
    }
    assert len(seen) == len(report.days) == 150
    assert report.documents_issued == 7
    assert report.amounts_by_currency() == {"RON": 5 * 6050 + 2 * 16940}
    assert [p for p, _ in periods][3:] == [
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 14),
        date(2026, 5, 31),
        date(2026, 6, 30),
    ]
    assert statuses == ["active", "active", "active", "cancelled"]
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count(Invoice.id))).scalar_one() == live_documents


def test_simulation_range_is_checked():
    with pytest.raises(FieldError, match="before"):
        check_range(date(2026, 3, 1), date(2026, 2, 1))
    with pytest.raises(FieldError, match="at most"):
        check_range(date(2020, 1, 1), date(2031, 1, 1))


def test_the_simulation_charges_cards_and_chases_what_is_declined(praho_committing):
    """A test clock with money: renewals charged, a declining card chased into suspension."""
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        monthly = factory.price(unit_amount_minor=5000)
        good = customer_with_card(factory, "tok_success")
        bad = customer_with_card(factory, "tok_decline")
        factory.subscription(monthly, good, start="2026-01-31")
        factory.subscription(monthly, bad, start="2026-01-31")
        good_id, bad_id = good.id, bad.id
    copy_url = copy_database(praho_committing.url)
    copy = Database(copy_url)
    try:
        report = simulate(copy, date(2026, 2, 1), date(2026, 4, 30))
        with copy.transaction() as session:
            invoices = session.execute(select(Invoice).where(
                Invoice.period_start >= date(2026, 2, 28)).order_by(Invoice.id)).scalars().all()
            paid = {(i.customer_id, str(i.payment_status)) for i in invoices}
            statuses = {s.customer_id: str(s.status)
                        for s in session.execute(select(Subscription)).scalars()}
            assert ledger.unbalanced_currencies(ledger.trial_balance(session).items()) == {}
    finally:
        copy.dispose()
        drop_copy(copy_url)
    assert (good_id, "paid") in paid and (good_id, "unpaid") not in paid
    assert statuses[good_id] == "active"
    assert statuses[bad_id] in ("suspended", "terminated")
    assert sum(day.charged for day in report.days) >= 2  # the good card, each renewal
    assert sum(day.declined for day in report.days) >= 1
    chased = [day.collection_counts for day in report.days if day.collection_counts]
    assert any("suspend:succeeded" in counts for counts in chased)
    # The live data is untouched.
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count(Invoice.id))).scalar_one() == 2
