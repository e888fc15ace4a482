"""The dashboard figures computed in SQL equal a plain computation over the same documents.

``receivables_ageing``, ``revenue_by_month`` and ``mrr_series`` aggregate in the database
(they used to load every open invoice). Here a varied set of documents is written straight
into the tables and the functions are compared with a deliberately naive Python reading of
the definitions in ``admin/metrics.py``, document by document. Runs on SQLite, and on
PostgreSQL when ``PRAHO_TEST_DATABASE_URL`` is set (where sums come back as numeric).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from praho.admin.metrics import AGEING_BUCKETS, mrr_series, receivables_ageing, revenue_by_month
from praho.core.models import (
    DocumentKind,
    DocumentStatus,
    Invoice,
    PaymentStatus,
    Subscription,
    SubscriptionStatus,
)

INVOICE, PROFORMA, CREDIT_NOTE = (
    DocumentKind.INVOICE,
    DocumentKind.PROFORMA,
    DocumentKind.CREDIT_NOTE,
)
ISSUED, VOID, DRAFT = DocumentStatus.ISSUED, DocumentStatus.VOID, DocumentStatus.DRAFT
UNPAID, PARTIAL = PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_PAID
PAID, OVERPAID = PaymentStatus.PAID, PaymentStatus.OVERPAID


@dataclass
class Doc:
    """What the figures read from one document (the test's own record of it)."""

    kind: str
    status: str = ISSUED
    currency: str = "RON"
    issue_date: date | None = None
    due_date: date | None = None
    payable: int = 0
    paid: int = 0
    credited: int = 0
    payment_status: str = UNPAID
    taxable: int = 0
    cycle: int | None = None  # the subscription's cycle in months; None: no subscription
    period_start: date | None = None
    period_end: date | None = None
    converted: bool = False  # an invoice converted from a proforma


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months (the tests only use days 1-28)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, day.day)


def edge_cases(today: date) -> list[Doc]:
    """Documents on every boundary the three figures have."""
    first = today.replace(day=1)

    def overdue(days: int, **kw: Any) -> Doc:
        due = today - timedelta(days=days)
        return Doc(INVOICE, issue_date=due - timedelta(days=14), due_date=due, **kw)

    docs = [
        overdue(n, payable=1000 + n, currency=cur)
        for n in (-20, -1, 0, 1, 30, 31, 45, 60, 61, 75, 90, 91, 400)
        for cur in ("RON", "EUR")
    ]
    docs += [
        overdue(10, payable=5000, paid=1200, payment_status=PARTIAL),
        overdue(70, payable=5000, paid=1200, credited=800, payment_status=PARTIAL),
        overdue(35, payable=5000, credited=5000),  # credited in full: nothing due
        overdue(35, payable=5000, paid=6000, payment_status=PARTIAL),  # negative due
        overdue(95, payable=5000, paid=5000, payment_status=PAID),
        overdue(95, payable=5000, paid=100, payment_status=OVERPAID),
        overdue(50, payable=7000, status=VOID),
        overdue(50, payable=7000, status=DRAFT),
        Doc(PROFORMA, issue_date=today - timedelta(days=50), due_date=today, payable=900),
        Doc(CREDIT_NOTE, issue_date=today - timedelta(days=50), payable=900),
        Doc(INVOICE, issue_date=today - timedelta(days=65), payable=333),  # no due date
        Doc(INVOICE, payable=444, currency="USD"),  # no dates at all: due today
        # revenue: month boundaries, credit notes (stored positive, sometimes negative)
        Doc(INVOICE, issue_date=first, taxable=10_000),
        Doc(INVOICE, issue_date=first - timedelta(days=1), taxable=20_000),
        Doc(CREDIT_NOTE, issue_date=first, taxable=3_000),
        Doc(CREDIT_NOTE, issue_date=first, taxable=-2_000),
        Doc(INVOICE, issue_date=add_months(first, -11), taxable=700, currency="EUR"),
        Doc(INVOICE, issue_date=add_months(first, -11) - timedelta(days=1), taxable=800),
        Doc(INVOICE, issue_date=add_months(first, 1), taxable=900, currency="GBP"),  # next month
        Doc(INVOICE, issue_date=first, taxable=5_000, currency="HUF", status=VOID),
        Doc(PROFORMA, issue_date=first, taxable=5_000, currency="CHF"),
        # MRR: cycles, proration, conversion, one-day and non-covering periods
        Doc(INVOICE, cycle=1, taxable=5000, period_start=first, period_end=add_months(first, 1)),
        Doc(
            INVOICE,
            cycle=3,
            taxable=10_000,
            period_start=add_months(first, -2),
            period_end=add_months(first, 1),
        ),
        Doc(
            PROFORMA,
            cycle=12,
            taxable=120_001,
            period_start=add_months(first, -5),
            period_end=add_months(first, 7),
        ),
        Doc(
            INVOICE,
            cycle=12,
            taxable=120_001,
            period_start=add_months(first, -5),
            period_end=add_months(first, 7),
            converted=True,
        ),
        Doc(
            INVOICE,
            cycle=3,
            taxable=-1_001,
            period_start=add_months(first, -1),
            period_end=add_months(first, 2),
        ),  # negative: Python floors, SQL truncates
        Doc(
            INVOICE,
            cycle=1,
            taxable=1_700,
            period_start=first + timedelta(days=3),
            period_end=add_months(first, 1),
        ),  # proration: shorter than a cycle
        Doc(INVOICE, cycle=1, taxable=2_900, period_start=first, period_end=first, currency="EUR"),
        Doc(
            INVOICE,
            cycle=1,
            taxable=3_100,
            currency="USD",  # covers no first day
            period_start=add_months(first, -1) + timedelta(days=1),
            period_end=first,
        ),
        Doc(
            INVOICE,
            cycle=1,
            taxable=4_100,
            period_start=add_months(first, -13),
            period_end=add_months(first, -12),
        ),  # before the window
        Doc(
            INVOICE,
            cycle=1,
            taxable=4_200,
            period_start=today + timedelta(days=1),
            period_end=add_months(today + timedelta(days=1), 1),
        ),  # starts after today
        Doc(
            INVOICE,
            cycle=1,
            taxable=4_300,
            status=VOID,
            period_start=first,
            period_end=add_months(first, 1),
        ),
        Doc(
            CREDIT_NOTE, cycle=1, taxable=4_400, period_start=first, period_end=add_months(first, 1)
        ),
    ]
    return docs


def random_docs(today: date, count: int, seed: int) -> list[Doc]:
    """Many plausible and implausible documents, reproducible from ``seed``."""
    rng = random.Random(seed)
    docs = []
    for _ in range(count):
        issue = today - timedelta(days=rng.randint(-15, 420))
        payable = rng.randint(1, 500_000)
        cycle = rng.choice([None, 1, 1, 3, 12])
        start = end = None
        if cycle is not None:
            start = date(issue.year, issue.month, rng.randint(1, 28))
            end = rng.choice(
                [
                    add_months(start, cycle),
                    start + timedelta(days=rng.randint(0, 40)),
                    add_months(start, cycle + 1),
                ]
            )
        docs.append(
            Doc(
                kind=rng.choice([INVOICE, INVOICE, INVOICE, PROFORMA, CREDIT_NOTE]),
                status=rng.choice([ISSUED, ISSUED, ISSUED, VOID, DRAFT]),
                currency=rng.choice(["RON", "RON", "EUR", "USD"]),
                issue_date=issue,
                due_date=rng.choice([None, issue + timedelta(days=rng.randint(0, 30))]),
                payable=payable,
                paid=rng.choice([0, 0, rng.randint(0, payable), payable, payable + 5]),
                credited=rng.choice([0, 0, 0, rng.randint(0, payable), payable]),
                payment_status=rng.choice([UNPAID, UNPAID, PARTIAL, PARTIAL, PAID, OVERPAID]),
                taxable=rng.randint(-1_000, 400_000),
                cycle=cycle,
                period_start=start,
                period_end=end,
                converted=rng.random() < 0.1,
            )
        )
    return docs


def store(session: Any, factory: Any, docs: list[Doc]) -> None:
    """Write the documents as invoice rows (and one subscription per cycle)."""
    customer = factory.customer()
    subscriptions = {}
    for cycle in (1, 3, 12):
        subscriptions[cycle] = Subscription(
            customer_id=customer.id,
            seller_id=customer_seller_id(session),
            currency="RON",
            status=SubscriptionStatus.ACTIVE,
            billing_cycle_months=cycle,
            anchor_day=1,
            start_date=date(2020, 1, 1),
            current_period_start=date(2020, 1, 1),
            current_period_end=date(2020, 2, 1),
        )
    session.add_all(subscriptions.values())
    session.flush()
    proforma = Invoice(
        kind=PROFORMA,
        status=ISSUED,
        customer_id=customer.id,
        seller_id=customer_seller_id(session),
        currency="RON",
    )
    session.add(proforma)
    session.flush()
    session.add_all(
        Invoice(
            kind=doc.kind,
            status=doc.status,
            customer_id=customer.id,
            seller_id=customer_seller_id(session),
            currency=doc.currency,
            issue_date=doc.issue_date,
            due_date=doc.due_date,
            payable_minor=doc.payable,
            total_minor=doc.payable,
            amount_paid_minor=doc.paid,
            credited_minor=doc.credited,
            payment_status=doc.payment_status,
            taxable_minor=doc.taxable,
            subscription_id=subscriptions[doc.cycle].id if doc.cycle else None,
            period_start=doc.period_start,
            period_end=doc.period_end,
            converted_from_id=proforma.id if doc.converted else None,
        )
        for doc in docs
    )
    session.flush()


def customer_seller_id(session: Any) -> int:
    """The default seller's id (the factory creates it with the first customer)."""
    from praho.core.models import Seller
    from sqlalchemy import select

    return session.execute(select(Seller.id).where(Seller.is_default.is_(True))).scalar_one()


def first_days(today: date) -> list[date]:
    """The first days of the twelve months ending with today's, oldest first."""
    return [add_months(today.replace(day=1), k) for k in range(-11, 1)]


def expected_ageing(docs: list[Doc], today: date) -> dict[str, dict[str, int]]:
    """Receivables ageing read off each document."""
    result: dict[str, dict[str, int]] = {}
    for doc in docs:
        if (doc.kind, doc.status) != (INVOICE, ISSUED) or doc.payment_status not in (
            UNPAID,
            PARTIAL,
        ):
            continue
        due = doc.payable - doc.paid - doc.credited
        if due <= 0:
            continue
        late = (today - (doc.due_date or doc.issue_date or today)).days
        bucket = (
            "0-30" if late <= 30 else "31-60" if late <= 60 else "61-90" if late <= 90 else "90+"
        )
        result.setdefault(doc.currency, dict.fromkeys(AGEING_BUCKETS, 0))[bucket] += due
    return dict(sorted(result.items()))


def expected_revenue(docs: list[Doc], today: date) -> dict[str, list[int]]:
    """Net revenue by issue month read off each document."""
    months = [(d.year, d.month) for d in first_days(today)]
    result: dict[str, list[int]] = {}
    for doc in docs:
        if doc.status != ISSUED or doc.kind == PROFORMA or doc.issue_date is None:
            continue
        month = (doc.issue_date.year, doc.issue_date.month)
        if month not in months:
            continue
        amount = -abs(doc.taxable) if doc.kind == CREDIT_NOTE else doc.taxable
        result.setdefault(doc.currency, [0] * 12)[months.index(month)] += amount
    return dict(sorted(result.items()))


def expected_mrr(docs: list[Doc], today: date) -> dict[str, list[int]]:
    """MRR on each first day read off each recurring document."""
    days = first_days(today)
    result: dict[str, list[int]] = {}
    for doc in docs:
        start, end, cycle = doc.period_start, doc.period_end, doc.cycle
        if (
            doc.status != ISSUED
            or doc.kind == CREDIT_NOTE
            or doc.converted
            or cycle is None
            or start is None
            or end is None
            or end < days[0]
            or start > today
        ):
            continue
        months = (end.year - start.year) * 12 + end.month - start.month
        if months < cycle and (end - start).days < 27 * cycle:
            continue  # proration
        values = result.setdefault(doc.currency, [0] * 12)
        for i, day in enumerate(days):
            if start <= day < end or start == day == end:
                values[i] += doc.taxable // cycle
    return dict(sorted(result.items()))


@pytest.mark.parametrize("today", [date(2026, 3, 20), date(2025, 12, 31), date(2026, 1, 1)])
def test_figures_match_a_document_by_document_computation(praho_session, praho_factory, today):
    docs = edge_cases(today) + random_docs(today, 400, seed=today.toordinal())
    store(praho_session, praho_factory, docs)

    ageing = receivables_ageing(praho_session, today)
    assert ageing == expected_ageing(docs, today)
    assert set(ageing) == {"RON", "EUR", "USD"}
    assert all(ageing["RON"][bucket] > 0 for bucket in AGEING_BUCKETS)

    revenue = revenue_by_month(praho_session, today)
    assert revenue == expected_revenue(docs, today)
    assert "GBP" not in revenue and "HUF" not in revenue and "CHF" not in revenue

    mrr = mrr_series(praho_session, today)
    assert mrr == expected_mrr(docs, today)
    assert {"RON", "EUR", "USD"} <= set(mrr)
    for figures in (ageing, revenue, mrr):
        values = [
            v for row in figures.values() for v in (row.values() if isinstance(row, dict) else row)
        ]
        assert all(type(v) is int for v in values)  # not PostgreSQL's Decimal


def test_empty_database_gives_empty_figures(praho_session):
    today = date(2026, 3, 20)
    assert receivables_ageing(praho_session, today) == {}
    assert revenue_by_month(praho_session, today) == {}
    assert mrr_series(praho_session, today) == {}
