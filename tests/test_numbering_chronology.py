"""Numbers follow dates: no document dated before the previous number of its series."""

from datetime import UTC, datetime

import pytest
from praho.core.models import DocumentStatus, SeriesCounter
from praho.core.services.issuing import issue_document
from praho.core.services.numbering import OutOfOrderIssueDate
from praho.core.testing import at
from sqlalchemy import select


def _counters(session) -> list[tuple[int, int, int]]:
    rows = session.execute(select(SeriesCounter).order_by(SeriesCounter.id)).scalars()
    return [(c.series_id, c.year, c.last_number) for c in rows]


def test_a_document_dated_before_the_previous_number_is_refused(praho_factory, praho_session):
    first = praho_factory.invoice(now=at("2026-03-10", 9))
    assert first.full_number.endswith("-000001")
    before = _counters(praho_session)
    backdated = praho_factory.draft(now=at("2026-03-02", 9))
    with pytest.raises(OutOfOrderIssueDate) as refused:
        issue_document(praho_session, backdated, now=at("2026-03-02", 9))
    assert "2026-03-02" in str(refused.value) and first.full_number in str(refused.value)
    # Nothing numbered: the draft is still a draft and the counter did not move.
    assert backdated.status == DocumentStatus.DRAFT and backdated.number is None
    assert _counters(praho_session) == before


def test_same_day_and_later_documents_take_the_next_numbers(praho_factory, praho_session):
    dates = ["2026-03-10", "2026-03-10", "2026-03-11", "2026-04-01"]
    issued = [praho_factory.invoice(now=at(day, 9)) for day in dates]
    assert [i.number for i in issued] == [1, 2, 3, 4]
    assert [i.issue_date.isoformat() for i in issued] == dates


def test_each_series_and_year_keeps_its_own_order(praho_factory, praho_session):
    praho_factory.invoice(now=at("2026-03-10", 9))
    # Another series (proformas) has its own order.
    proforma = praho_factory.draft(now=at("2026-03-02", 9), kind="proforma")
    assert issue_document(praho_session, proforma, now=at("2026-03-02", 9)).number == 1
    # A yearly series restarts: January's first invoice does not constrain December's last.
    january = praho_factory.invoice(now=datetime(2027, 1, 4, 9, tzinfo=UTC))
    december = praho_factory.invoice(now=at("2026-12-31", 9))
    assert (january.fiscal_year, january.number) == (2027, 1)
    assert (december.fiscal_year, december.number) == (2026, 2)


def test_a_billing_run_dated_before_the_last_invoice_issues_nothing(
    praho_factory, praho_session
):
    from praho.core.services.billing_run import run_billing

    price = praho_factory.price(unit_amount_minor=10000)
    subscription = praho_factory.subscription(price, start="2026-01-01")
    run_billing(praho_session, now=at("2026-02-01", 2))
    praho_factory.invoice(now=at("2026-03-05", 9))  # a manual invoice, dated later
    report = run_billing(praho_session, now=at("2026-03-01", 2))
    counts = report.summary["counts"]
    assert counts.get("issued", 0) == 0 and counts.get("failed") == 1
    # Still due, in the database and on the loaded object (the rolled-back write's dates
    # are forgotten, not kept on the object).
    assert subscription.next_billing_date.isoformat() == "2026-03-01"
    praho_session.refresh(subscription)
    assert subscription.next_billing_date.isoformat() == "2026-03-01"
    # Run on a date that keeps the order, it bills the period.
    assert run_billing(praho_session, now=at("2026-03-05", 10)).summary["counts"]["issued"] == 1
