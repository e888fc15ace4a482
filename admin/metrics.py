"""The dashboard's figures, read from documents, subscriptions and webhook events.

Definitions (so finance can check them by hand):

- MRR on the first day of a month: the net (taxable) amount of every issued recurring
  invoice or proforma whose billed period covers that day, divided by the subscription's
  cycle in months; proration documents (periods shorter than a cycle) are left out and a
  proforma converted into an invoice counts once. ARR is 12 x MRR. Per currency.
- Revenue by month: net amount of issued invoices minus issued credit notes, by issue
  month (Bucharest date) and currency; void documents and proformas are not revenue.
- Receivables ageing: what is still due on issued invoices, by days past the due date
  (0-30 includes invoices not yet due), per currency.
- Dunning pipeline: subscriptions past due or suspended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from praho.core.models import (
    Customer,
    DocumentKind,
    DocumentStatus,
    Invoice,
    PaymentStatus,
    Subscription,
    SubscriptionStatus,
    WebhookEvent,
    WebhookStatus,
)
from praho.core.services.billing_cycles import add_months
from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

AGEING_BUCKETS = ("0-30", "31-60", "61-90", "90+")


def month_starts(today: date, count: int = 12) -> list[date]:
    """The first days of the last ``count`` months, oldest first, ending with this month."""
    year, month = today.year, today.month
    days = []
    for _ in range(count):
        days.append(date(year, month, 1))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return list(reversed(days))


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def _billing_cycle(cycle: Any) -> Any:
    """A subscription's cycle in months as SQL, never below one (as :func:`mrr_series` reads it)."""
    return case((or_(cycle.is_(None), cycle < 1), literal(1)), else_=cycle)


def _floor_divide(numerator: Any, divisor: Any) -> Any:
    """``numerator // divisor`` in SQL for a positive ``divisor``.

    SQL integer division truncates toward zero on SQLite and PostgreSQL while Python's
    floors, so a negative numerator is divided as a positive one and negated, rounding away
    from zero as Python does.
    """
    return case(
        (numerator >= 0, numerator // divisor),
        else_=-((divisor - 1 - numerator) // divisor),
    )


def mrr_series(session: Session, today: date, count: int = 12) -> dict[str, list[int]]:
    """MRR per currency on the first day of each of the last ``count`` months.

    The database sums each document's monthly share (``taxable // cycle``) per currency,
    cycle and billed period, so Python sees one row per distinct period (a few hundred a
    year), not one per invoice, and only decides which months each period covers.
    """
    days = month_starts(today, count)
    cycle = _billing_cycle(Subscription.billing_cycle_months)
    rows = session.execute(
        select(
            Invoice.currency,
            Subscription.billing_cycle_months,
            Invoice.period_start,
            Invoice.period_end,
            func.sum(_floor_divide(Invoice.taxable_minor, cycle)),
        )
        .join(Subscription, Subscription.id == Invoice.subscription_id)
        .where(
            Invoice.status == DocumentStatus.ISSUED,
            Invoice.kind.in_([DocumentKind.INVOICE, DocumentKind.PROFORMA]),
            Invoice.converted_from_id.is_(None),
            Invoice.period_start.is_not(None),
            Invoice.period_end.is_not(None),
            Invoice.period_end >= days[0],
            Invoice.period_start <= today,
        )
        .group_by(
            Invoice.currency,
            Subscription.billing_cycle_months,
            Invoice.period_start,
            Invoice.period_end,
        )
    ).all()
    series: dict[str, list[int]] = {}
    for currency, months, start, end, monthly in rows:
        months = max(int(months or 1), 1)
        if _months_between(start, end) < months and (end - start).days < 27 * months:
            continue  # a proration document, not a full recurring period
        values = series.setdefault(currency, [0] * len(days))
        for i, day in enumerate(days):
            if start <= day < end or (start <= day <= end and start == end):
                # PostgreSQL sums bigint into numeric (a Decimal); the value is whole.
                values[i] += int(monthly)
    return dict(sorted(series.items()))


def revenue_by_month(session: Session, today: date, count: int = 12) -> dict[str, list[int]]:
    """Net revenue per currency for each of the last ``count`` months (credit notes subtract).

    Summed in the database per currency and issue date (at most one row per day and
    currency); Python only files each day under its month.
    """
    days = month_starts(today, count)
    last = days[-1]
    after_last = add_months(last, 1, 1)
    # Credit notes are stored with positive amounts; they reduce revenue.
    signed = case(
        (Invoice.kind == DocumentKind.CREDIT_NOTE, -func.abs(Invoice.taxable_minor)),
        else_=Invoice.taxable_minor,
    )
    rows = session.execute(
        select(Invoice.currency, Invoice.issue_date, func.sum(signed))
        .where(
            Invoice.status == DocumentStatus.ISSUED,
            Invoice.kind.in_([DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE]),
            Invoice.issue_date >= days[0],
            Invoice.issue_date < after_last,
        )
        .group_by(Invoice.currency, Invoice.issue_date)
    ).all()
    index = {(d.year, d.month): i for i, d in enumerate(days)}
    series: dict[str, list[int]] = {}
    for currency, issued, amount in rows:
        values = series.setdefault(currency, [0] * len(days))
        values[index[(issued.year, issued.month)]] += int(amount)
    return dict(sorted(series.items()))


def ageing_bucket(days_overdue: int) -> str:
    """The ageing bucket of an invoice ``days_overdue`` past its due date (negative: not due)."""
    if days_overdue <= 30:
        return "0-30"
    if days_overdue <= 60:
        return "31-60"
    if days_overdue <= 90:
        return "61-90"
    return "90+"


def receivables_ageing(session: Session, today: date) -> dict[str, dict[str, int]]:
    """Amount still due per currency and bucket, on issued invoices.

    One aggregate query grouped by currency: what is due (payable - paid - credited, as
    :attr:`Invoice.balance_due_minor`) is summed per bucket of the due date (the issue date
    when there is none; no date at all counts as due today), the buckets being the
    :func:`ageing_bucket` bounds turned into dates. Loading the invoices themselves (with
    their JSON snapshots) took seconds once there were many open ones.
    """
    reference = func.coalesce(Invoice.due_date, Invoice.issue_date)
    due = Invoice.payable_minor - Invoice.amount_paid_minor - Invoice.credited_minor
    # "at most N days past due" is "due on or after today - N days".
    since_30, since_60, since_90 = (today - timedelta(days=n) for n in (30, 60, 90))
    bands = {
        "0-30": or_(reference.is_(None), reference >= since_30),
        "31-60": and_(reference < since_30, reference >= since_60),
        "61-90": and_(reference < since_60, reference >= since_90),
        "90+": reference < since_90,
    }
    rows = session.execute(
        select(
            Invoice.currency,
            *(func.sum(case((bands[bucket], due), else_=0)) for bucket in AGEING_BUCKETS),
        )
        .where(
            Invoice.status == DocumentStatus.ISSUED,
            Invoice.kind == DocumentKind.INVOICE,
            Invoice.payment_status.in_([PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_PAID]),
            due > 0,
        )
        .group_by(Invoice.currency)
    ).all()
    # PostgreSQL sums bigint into numeric (a Decimal); the sums are whole minor units.
    return {
        currency: {bucket: int(total) for bucket, total in zip(AGEING_BUCKETS, totals, strict=True)}
        for currency, *totals in sorted(rows, key=lambda row: row[0])
    }


@dataclass(frozen=True)
class DunningRow:
    """A subscription in the dunning pipeline."""

    subscription_id: int
    customer: str
    status: str
    since: date | None
    currency: str


def dunning_pipeline(session: Session, limit: int = 20) -> tuple[dict[str, int], list[DunningRow]]:
    """Counts of past-due and suspended subscriptions, and the oldest ones."""
    statuses = [SubscriptionStatus.PAST_DUE, SubscriptionStatus.SUSPENDED]
    counts = dict.fromkeys((str(s) for s in statuses), 0)
    for status, count in session.execute(
        select(Subscription.status, func.count())
        .where(Subscription.status.in_(statuses))
        .group_by(Subscription.status)
    ):
        counts[str(status)] = int(count)
    rows = session.execute(
        select(Subscription, Customer.legal_name)
        .join(Customer, Customer.id == Subscription.customer_id)
        .where(Subscription.status.in_(statuses))
        .order_by(Subscription.updated_at.asc().nulls_first(), Subscription.id)
        .limit(limit)
    ).all()
    listed = [
        DunningRow(
            s.id,
            name,
            str(s.status),
            (s.suspended_at or s.updated_at).date() if (s.suspended_at or s.updated_at) else None,
            s.currency,
        )
        for s, name in rows
    ]
    return counts, listed


def failed_webhooks(session: Session, limit: int = 10) -> tuple[int, list[WebhookEvent]]:
    """How many webhook events failed for good, and the latest of them."""
    total = session.execute(
        select(func.count())
        .select_from(WebhookEvent)
        .where(WebhookEvent.status == WebhookStatus.FAILED)
    ).scalar_one()
    latest = list(
        session.execute(
            select(WebhookEvent)
            .where(WebhookEvent.status == WebhookStatus.FAILED)
            .order_by(WebhookEvent.received_at.desc())
            .limit(limit)
        ).scalars()
    )
    return int(total), latest


def dashboard_figures(session: Session, today: date) -> dict[str, Any]:
    """Everything the dashboard shows, computed in one read-only pass."""
    mrr = mrr_series(session, today)
    return {
        "months": [d.strftime("%Y-%m") for d in month_starts(today)],
        "mrr": mrr,
        "arr": {currency: values[-1] * 12 for currency, values in mrr.items()},
        "revenue": revenue_by_month(session, today),
        "ageing": receivables_ageing(session, today),
        "dunning": dunning_pipeline(session),
        "failed_webhooks": failed_webhooks(session),
    }
