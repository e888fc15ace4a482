"""Collecting the invoices a billing chunk issued: one short transaction per invoice.

Called by :func:`praho.core.billing_runner.after_chunk_committed` once the chunk's
documents are committed, so a declined card can never roll back an issued invoice.
Invoices of customers with a default method are charged (customer credit first);
invoices of customers without one are paid from their credit when they have some.
Every charge is attempt 1 of its invoice, so running this twice charges nothing twice;
a chunk delivered again after its collection died collects what was left
(:func:`uncollected_documents`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from praho.core.db import Database
from praho.core.errors import PrahoError
from praho.core.models.billing_runs import BillingOutcome, OutcomeKind
from praho.core.models.invoices import DocumentKind, Invoice, PaymentStatus
from praho.core.models.ledger import AccountCode, JournalLine
from praho.core.models.payments import AttemptStatus, MethodStatus, PaymentAttempt, PaymentMethod
from praho.core.services.audit import Actor
from praho.core.services.billing_issue import IssuedDocument
from praho.core.services.payments import (
    SettleReport,
    apply_customer_credit,
    attempts_to_settle,
    charge_invoice,
    settle_attempt,
)
from sqlalchemy import func, select

log = logging.getLogger("praho.payments")


@dataclass
class CollectionSummary:
    """What collecting a chunk's invoices did."""

    charged: int = 0
    declined: int = 0
    unknown: int = 0
    from_credit: int = 0
    failed: int = 0
    dispatched: int = 0  # sent to the workers as collection tasks


# Invoices per collection task when workers collect: small, so the gateway latency of
# a chunk's charges is spread over every worker.
COLLECT_TASK_BATCH = 25


def collect_issued_documents(database: Database, documents: Iterable[IssuedDocument], *,
                             now: datetime, actor: Actor | None = None) -> CollectionSummary:
    """Collect a chunk's invoices: here, or on the Celery workers when a broker is set.

    Charging waits on the gateway (hundreds of milliseconds per card), so with workers
    the invoices to collect are sent as ``praho.payments.collect_invoices`` tasks in
    batches of :data:`COLLECT_TASK_BATCH` and the chunk's worker goes on; the summary
    then only counts what was dispatched. Without a broker (the embedded default,
    tests) they are collected here, one transaction each.
    """
    ids = [d.invoice_id for d in documents if d.kind == DocumentKind.INVOICE and d.total_minor > 0]
    plan = _plan(database, ids)
    if not plan or not _workers_collect():
        return _collect(database, plan, now=now, actor=actor)
    from praho.core.payment_tasks import collect_invoices_task

    invoice_ids = [invoice_id for invoice_id, _how in plan]
    for start in range(0, len(invoice_ids), COLLECT_TASK_BATCH):
        collect_invoices_task.delay(invoice_ids[start:start + COLLECT_TASK_BATCH], now.isoformat())
    return CollectionSummary(dispatched=len(invoice_ids))


def collect_invoice_ids(database: Database, invoice_ids: list[int], *, now: datetime,
                        actor: Actor | None = None) -> CollectionSummary:
    """Collect these invoices here (what a collection task does); safe to repeat."""
    return _collect(database, _plan(database, invoice_ids), now=now, actor=actor)


def _workers_collect() -> bool:
    from flask import current_app, has_app_context

    if not has_app_context() or "celery" not in current_app.extensions:
        return False
    return not current_app.extensions["celery"].conf.task_always_eager


def _plan(database: Database, ids: list[int]) -> list[tuple[int, str]]:
    """(invoice id, "charge" or "credit") for the invoices there is a way to collect."""
    if not ids:
        return []
    with database.transaction() as session:
        rows = session.execute(select(Invoice.id, Invoice.customer_id, Invoice.currency)
                               .where(Invoice.id.in_(ids)).order_by(Invoice.id)).all()
        customers = {customer_id for _id, customer_id, _currency in rows}
        with_method = set(session.execute(select(PaymentMethod.customer_id).where(
            PaymentMethod.customer_id.in_(customers), PaymentMethod.is_default.is_(True),
            PaymentMethod.status == MethodStatus.ACTIVE)).scalars())
        with_credit = {(c, cur) for c, cur, balance in session.execute(
            select(JournalLine.customer_id, JournalLine.currency,
                   func.sum(JournalLine.amount_minor))
            .where(JournalLine.account_code == str(AccountCode.CUSTOMER_CREDIT),
                   JournalLine.customer_id.in_(customers))
            .group_by(JournalLine.customer_id, JournalLine.currency)) if balance < 0}
    plan = []
    for invoice_id, customer_id, currency in rows:
        if customer_id in with_method:
            plan.append((invoice_id, "charge"))
        elif (customer_id, currency) in with_credit:
            plan.append((invoice_id, "credit"))
    return plan


def _collect(database: Database, plan: list[tuple[int, str]], *, now: datetime,
             actor: Actor | None) -> CollectionSummary:
    summary = CollectionSummary()
    for invoice_id, how in plan:
        if how == "charge":
            _charge(database, invoice_id, now=now, actor=actor, summary=summary)
        else:
            _pay_from_credit(database, invoice_id, now=now, actor=actor, summary=summary)
    return summary


def uncollected_documents(database: Database, chunk_id: int | None = None, *,
                          run_id: int | None = None) -> list[IssuedDocument]:
    """Invoices a chunk (or a whole run) issued that are unpaid and were never charged."""
    scope = (BillingOutcome.chunk_id == chunk_id if chunk_id is not None
             else BillingOutcome.billing_run_id == run_id)
    with database.transaction() as session:
        attempted = select(PaymentAttempt.id).where(PaymentAttempt.invoice_id == Invoice.id)
        rows = session.execute(
            select(BillingOutcome.subscription_id, BillingOutcome.period_start, Invoice)
            .join(Invoice, Invoice.id == BillingOutcome.invoice_id)
            .where(scope,
                   # A final document (the run ended the subscription) is collected too.
                   BillingOutcome.outcome.in_([OutcomeKind.ISSUED, OutcomeKind.ENDED]),
                   Invoice.kind == DocumentKind.INVOICE,
                   Invoice.payment_status == PaymentStatus.UNPAID,
                   ~attempted.exists())
        ).all()
        return [IssuedDocument(subscription_id, period_start, invoice.id, str(invoice.full_number),
                               invoice.kind, invoice.total_minor, invoice.currency)
                for subscription_id, period_start, invoice in rows]


def _charge(database: Database, invoice_id: int, *, now: datetime, actor: Actor | None,
            summary: CollectionSummary) -> None:
    try:
        with database.transaction() as session:
            invoice = session.get(Invoice, invoice_id)
            assert invoice is not None
            attempt = charge_invoice(session, invoice, now=now, reason="renewal", actor=actor)
            status = attempt.status
    except PrahoError as exc:
        log.warning("collecting invoice %s: %s", invoice_id, exc)
        summary.failed += 1
        return
    except Exception:  # a gateway plugin's bug must not stop the run; the attempt stays
        log.exception("collecting invoice %s failed", invoice_id)  # unknown and is settled
        summary.failed += 1
        return
    if status == AttemptStatus.PROCESSED:
        summary.charged += 1
    elif status in (AttemptStatus.ERROR, AttemptStatus.CANCELED):
        summary.declined += 1
    else:
        summary.unknown += 1


def _pay_from_credit(database: Database, invoice_id: int, *, now: datetime, actor: Actor | None,
                     summary: CollectionSummary) -> None:
    try:
        with database.transaction() as session:
            invoice = session.get(Invoice, invoice_id)
            assert invoice is not None
            if apply_customer_credit(session, invoice, now=now, actor=actor):
                summary.from_credit += 1
    except PrahoError as exc:
        log.warning("paying invoice %s from credit: %s", invoice_id, exc)
        summary.failed += 1


def settle_in_transactions(database: Database, *, now: datetime, actor: Actor | None = None,
                           limit: int = 500) -> SettleReport:
    """Settle unknown and pending attempts, each in its own short transaction.

    No row lock is held while a gateway is asked, and one attempt's failure (or a
    plugin's crash) does not roll back the others.
    """
    report = SettleReport()
    with database.transaction() as session:
        ids = [a.id for a in attempts_to_settle(session, now=now, limit=limit)]
    for attempt_id in ids:
        report.checked += 1
        try:
            with database.transaction() as session:
                attempt = session.get(PaymentAttempt, attempt_id)
                assert attempt is not None
                report.add(settle_attempt(session, attempt, now=now, actor=actor))
        except Exception:  # a plugin's bug: log, count, and go on with the others
            log.exception("settling attempt %s failed", attempt_id)
            report.add("failed")
    return report
