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

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
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
from sqlalchemy import func, select
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


def mrr_series(session: Session, today: date, count: int = 12) -> dict[str, list[int]]:
    """MRR per currency on the first day of each of the last ``count`` months."""
    days = month_starts(today, count)
    rows = session.execute(
        select(
            Invoice.currency,
            Invoice.taxable_minor,
            Invoice.period_start,
            Invoice.period_end,
            Subscription.billing_cycle_months,
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
    ).all()
    series: dict[str, list[int]] = {}
    for currency, taxable, start, end, cycle in rows:
        cycle = max(int(cycle or 1), 1)
        if _months_between(start, end) < cycle and (end - start).days < 27 * cycle:
            continue  # a proration document, not a full recurring period
        values = series.setdefault(currency, [0] * len(days))
        for i, day in enumerate(days):
            if start <= day < end or (start <= day <= end and start == end):
                values[i] += taxable // cycle
    return dict(sorted(series.items()))


def revenue_by_month(session: Session, today: date, count: int = 12) -> dict[str, list[int]]:
    """Net revenue per currency for each of the last ``count`` months (credit notes subtract)."""
    days = month_starts(today, count)
    rows = session.execute(
        select(Invoice.kind, Invoice.currency, Invoice.issue_date, Invoice.taxable_minor).where(
            Invoice.status == DocumentStatus.ISSUED,
            Invoice.kind.in_([DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE]),
            Invoice.issue_date >= days[0],
        )
    ).all()
    index = {(d.year, d.month): i for i, d in enumerate(days)}
    series: dict[str, list[int]] = {}
    for kind, currency, issued, taxable in rows:
        i = index.get((issued.year, issued.month))
        if i is None:
            continue
        values = series.setdefault(currency, [0] * len(days))
        # Credit notes are stored with positive amounts; they reduce revenue.
        values[i] += -abs(taxable) if kind == DocumentKind.CREDIT_NOTE else taxable
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
    """Amount still due per currency and bucket, on issued invoices."""
    open_invoices = session.execute(
        select(Invoice).where(
            Invoice.status == DocumentStatus.ISSUED,
            Invoice.kind == DocumentKind.INVOICE,
            Invoice.payment_status.in_([PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_PAID]),
        )
    ).scalars()
    result: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(AGEING_BUCKETS, 0))
    for invoice in open_invoices:
        due = invoice.balance_due_minor
        if due <= 0:
            continue
        overdue = (today - (invoice.due_date or invoice.issue_date or today)).days
        result[invoice.currency][ageing_bucket(overdue)] += due
    return dict(sorted(result.items()))


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
