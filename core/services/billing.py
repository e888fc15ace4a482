"""Billing subscriptions: each due subscription-period gets exactly one document.

:func:`bill_subscriptions` is the unit of work every entry point shares (the billing
run's chunks, the CLI, the simulation, billing the first period of a new subscription,
resuming). For each subscription it:

* locks the row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a row another worker holds is
  reported as skipped, never waited for) and re-checks that it is still due;
* ends a trial (trialing -> active) or a cancellation scheduled for the period end;
* prepares the period's invoice or proforma in memory; an error (missing price,
  invalid customer data, tax decision pending, no exchange rate) becomes that
  subscription's recorded failure and the others go on;
* writes the chunk's documents in bulk with their period claims
  (``subscription_periods`` is unique per (subscription, period start)): a rerun, a
  second worker or a retry after a crash can never bill a period twice.

Payment collection is not part of the run: documents are issued unpaid. The single
place where collection is wired in is :func:`praho.core.billing_runner.after_chunk_committed`.
Runs, chunks and their summaries are in :mod:`praho.core.services.billing_run`.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from praho.core.clock import resolve_now, start_of_business_day
from praho.core.db import is_postgres
from praho.core.errors import PrahoError
from praho.core.models.billing_runs import BillingOutcome, OutcomeKind
from praho.core.models.customers import Customer
from praho.core.models.invoices import Invoice
from praho.core.models.subscriptions import (
    BILLABLE_STATUSES,
    PendingProration,
    Subscription,
    SubscriptionItem,
    SubscriptionPeriod,
    SubscriptionStatus,
)
from praho.core.plugins import get_registry
from praho.core.services.audit import Actor
from praho.core.services.billing_issue import (
    IsolationNeeded,
    IssueContext,
    IssuedDocument,
    PreparedDocument,
    prepare_document,
)
from praho.core.services.billing_write import write_documents
from praho.core.services.bulk_sql import ids_in
from praho.core.services.renewal import pending_prorations
from praho.core.services.subscription_state import has_implementations, hooks, transition
from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

log = logging.getLogger("praho.billing")

# A subscription the run has not seen for a long time (the run was down for months) is
# caught up one period at a time, at most this many periods per run.
MAX_PERIODS_PER_RUN = 24


@dataclass(frozen=True)
class Outcome:
    """What happened to one subscription (for one period) in a run."""

    subscription_id: int
    outcome: OutcomeKind
    period_start: date | None = None
    invoice_id: int | None = None
    document_number: str | None = None
    total_minor: int | None = None
    currency: str | None = None
    error_code: str | None = None
    reason: str | None = None


@dataclass
class BillingReport:
    """The result of billing some subscriptions: documents issued and every outcome."""

    issued: list[IssuedDocument] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        """Record one outcome."""
        self.outcomes.append(outcome)

    @property
    def failures(self) -> list[Outcome]:
        """Outcomes that failed, with their reasons."""
        return [o for o in self.outcomes if o.outcome == OutcomeKind.FAILED]


def bill_subscriptions(
    session: Session,
    subscription_ids: list[int],
    *,
    now: datetime,
    actor: Actor | None = None,
    billing_run_id: int | None = None,
    chunk_id: int | None = None,
    context: IssueContext | None = None,
) -> BillingReport:
    """Bill every due period of the given subscriptions; flush, never commit.

    Subscriptions that are not due (or are locked by another worker right now) are
    reported as skipped. With ``billing_run_id`` the outcomes are stored as well.
    """
    moment = resolve_now(now)
    with _collector_paused():
        if context is None:
            optimistic = IssueContext(session, moment, actor, optimistic=True)
            if optimistic.plugins_answer:
                # Plugins take part: first without a savepoint per subscription (the
                # common case: nothing fails), inside one savepoint for the whole chunk;
                # if anything fails, the chunk is done again, isolating each subscription.
                try:
                    with session.begin_nested():
                        return _bill(
                            session,
                            subscription_ids,
                            now=moment,
                            actor=actor,
                            billing_run_id=billing_run_id,
                            chunk_id=chunk_id,
                            context=optimistic,
                        )
                except IsolationNeeded:
                    log.info(
                        "billing: a subscription failed; billing the chunk again "
                        "with one savepoint per subscription"
                    )
        return _bill(
            session,
            subscription_ids,
            now=moment,
            actor=actor,
            billing_run_id=billing_run_id,
            chunk_id=chunk_id,
            context=context,
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a batch is built.

    A chunk's thousands of objects live until it is written anyway; letting full
    collections rescan them (and the session's loaded rows) mid-chunk cost more than
    the chunk's own work in profiles. Collection resumes, and catches up, afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _bill(
    session: Session,
    subscription_ids: list[int],
    *,
    now: datetime,
    actor: Actor | None,
    billing_run_id: int | None,
    chunk_id: int | None,
    context: IssueContext | None,
) -> BillingReport:
    ctx = context or IssueContext(session, now, actor)
    report = BillingReport()
    remaining = list(dict.fromkeys(subscription_ids))
    failed: set[int] = set()
    for round_number in range(MAX_PERIODS_PER_RUN):
        subscriptions = _lock_due(session, remaining, ctx.issue_date)
        if round_number == 0:
            found = {s.id for s in subscriptions}
            for subscription_id in remaining:
                if subscription_id not in found:
                    report.add(
                        Outcome(
                            subscription_id,
                            OutcomeKind.SKIPPED,
                            reason="not due, or being billed by another worker",
                        )
                    )
        if not subscriptions:
            break
        customers = _customers(session, subscriptions)
        waiting = pending_prorations(session, [s.id for s in subscriptions])
        prepared = []
        for subscription in subscriptions:
            result = _prepare_one(
                ctx,
                subscription,
                customers[subscription.customer_id],
                waiting.get(subscription.id, []),
                billing_run_id,
            )
            if isinstance(result, PreparedDocument):
                prepared.append(result)
                continue
            report.add(result)
            if result.outcome == OutcomeKind.FAILED:
                failed.add(subscription.id)
            elif result.invoice_id is not None:  # a final document: collected like the rest
                final = session.get(Invoice, result.invoice_id)
                assert final is not None and final.full_number is not None
                report.issued.append(
                    IssuedDocument(
                        subscription.id,
                        period_start=result.period_start or ctx.issue_date,
                        invoice_id=final.id,
                        full_number=final.full_number,
                        kind=str(final.kind),
                        total_minor=final.total_minor,
                        currency=final.currency,
                    )
                )
        for outcome_or_document in _write(ctx, prepared):
            if isinstance(outcome_or_document, IssuedDocument):
                document = outcome_or_document
                report.issued.append(document)
                report.add(
                    Outcome(
                        document.subscription_id,
                        OutcomeKind.ISSUED,
                        document.period_start,
                        document.invoice_id,
                        document.full_number,
                        document.total_minor,
                        document.currency,
                    )
                )
            else:
                report.add(outcome_or_document)
                if outcome_or_document.outcome in (OutcomeKind.FAILED, OutcomeKind.ALREADY_BILLED):
                    failed.add(outcome_or_document.subscription_id)
        remaining = [
            s.id for s in subscriptions if s.id not in failed and _still_due(s, ctx.issue_date)
        ]
        if not remaining:
            break
    if billing_run_id is not None:
        _store_outcomes(session, report, billing_run_id, chunk_id)
    session.flush()
    return report


def _lock_due(session: Session, ids: list[int], run_date: date) -> list[Subscription]:
    if not ids:
        return []
    query = (
        select(Subscription)
        .where(
            ids_in(session, Subscription.id, ids),
            Subscription.status.in_([str(s) for s in BILLABLE_STATUSES]),
            Subscription.next_billing_date <= run_date,
        )
        .order_by(Subscription.id)
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True, of=Subscription)
    subscriptions = list(session.execute(query).scalars())
    # The items of the whole batch in one query (one array parameter, not an IN list).
    items: dict[int, list[SubscriptionItem]] = {s.id: [] for s in subscriptions}
    if subscriptions:
        found = session.execute(
            select(SubscriptionItem)
            .where(ids_in(session, SubscriptionItem.subscription_id, list(items)))
            .order_by(SubscriptionItem.id)
            .execution_options(populate_existing=True)
        ).scalars()
        for item in found:
            items[item.subscription_id].append(item)
    for subscription in subscriptions:
        set_committed_value(subscription, "items", items[subscription.id])
    return subscriptions


def _still_due(subscription: Subscription, run_date: date) -> bool:
    return (
        subscription.status in BILLABLE_STATUSES
        and subscription.next_billing_date is not None
        and subscription.next_billing_date <= run_date
    )


def _customers(session: Session, subscriptions: list[Subscription]) -> dict[int, Customer]:
    ids = {s.customer_id for s in subscriptions}
    return {
        c.id: c
        for c in session.execute(
            select(Customer).where(ids_in(session, Customer.id, list(ids)))
        ).scalars()
    }


def _prepare_one(
    ctx: IssueContext,
    subscription: Subscription,
    customer: Customer,
    pending: list[PendingProration],
    billing_run_id: int | None,
) -> PreparedDocument | Outcome:
    """Lifecycle moves due today, then the document in memory, or the outcome saying why not."""
    session, now = ctx.session, ctx.now
    period_start = subscription.next_billing_date
    assert period_start is not None
    if subscription.cancel_at_period_end:
        # Its final document (usage in arrears) may fail like any document: recorded for
        # this subscription, never stopping the run.
        try:
            with session.begin_nested():
                final = end_at_period_end(session, subscription, now=now, actor=ctx.actor)
        except Exception as error:  # noqa: BLE001 - becomes this subscription's failure
            return _failed(ctx, subscription.id, period_start, error, isolated=True)
        if final is None:
            return Outcome(
                subscription.id,
                OutcomeKind.ENDED,
                period_start,
                reason="cancelled at the end of the period",
            )
        return Outcome(
            subscription.id,
            OutcomeKind.ENDED,
            period_start,
            final.id,
            final.full_number,
            final.total_minor,
            final.currency,
            reason=f"cancelled at the end of the period; final document {final.full_number}",
        )
    if subscription.status == SubscriptionStatus.TRIALING:
        end_trial(session, subscription, now=now, actor=ctx.actor)
    # Plugins may write while they answer; a savepoint keeps a failure's writes out. The
    # optimistic pass skips it (two round trips per subscription) and, on any failure,
    # has the whole chunk redone with savepoints (see bill_subscriptions).
    isolate = ctx.plugins_answer and not ctx.optimistic
    try:
        if isolate:
            with session.begin_nested():
                return prepare_document(
                    ctx,
                    subscription,
                    customer,
                    period_start,
                    pending=pending,
                    billing_run_id=billing_run_id,
                )
        return prepare_document(
            ctx,
            subscription,
            customer,
            period_start,
            pending=pending,
            billing_run_id=billing_run_id,
        )
    except Exception as error:  # noqa: BLE001 - one subscription's bug must not stop the run
        return _failed(ctx, subscription.id, period_start, error, isolated=isolate)


def _failed(
    ctx: IssueContext,
    subscription_id: int,
    period_start: date,
    error: Exception,
    *,
    isolated: bool,
) -> Outcome:
    """What one subscription's failure becomes; call it from the ``except`` clause.

    In the optimistic pass any failure has the chunk redone with a savepoint per
    subscription. A database error outside a savepoint has broken the transaction and
    is raised; inside one it was rolled back and is this subscription's failure, like
    our own errors and any other exception (a plugin's bug).
    """
    if ctx.optimistic and ctx.plugins_answer:
        raise IsolationNeeded from error
    if isinstance(error, PrahoError):
        return _failure(subscription_id, period_start, error.code, error.message)
    if isinstance(error, DBAPIError):
        if not isolated:
            raise error
        log.exception("billing: subscription %s failed in a plugin", subscription_id)
        return _failure(
            subscription_id, period_start, "database", "a plugin's database work failed"
        )
    log.exception("billing: subscription %s failed", subscription_id)
    return _failure(
        subscription_id, period_start, "internal_error", f"{type(error).__name__}: {error}"
    )


def _failure(subscription_id: int, period_start: date, code: str, reason: str) -> Outcome:
    return Outcome(
        subscription_id, OutcomeKind.FAILED, period_start, error_code=code[:40], reason=reason[:500]
    )


def _write(ctx: IssueContext, prepared: list[PreparedDocument]) -> list[IssuedDocument | Outcome]:
    """Write the batch in one savepoint; if any row fails, retry one document at a time."""
    if not prepared:
        return []
    session = ctx.session
    try:
        with session.begin_nested():
            issued = write_documents(ctx, prepared)
            _fire_issue_hooks(ctx, prepared, issued)
        return list(issued)
    except Exception:  # noqa: BLE001 - isolate the faulty document below
        log.info("billing: batch of %d failed, retrying one by one", len(prepared))
        _forget_advance(session, prepared)
    results: list[IssuedDocument | Outcome] = []
    for document in prepared:
        try:
            with session.begin_nested():
                issued = write_documents(ctx, [document])
                _fire_issue_hooks(ctx, [document], issued)
            results += issued
        except Exception as error:  # noqa: BLE001 - recorded with its reason, the rest goes on
            _forget_advance(session, [document])
            results.append(_write_failure(session, document, error))
    return results


def _write_failure(session: Session, document: PreparedDocument, error: Exception) -> Outcome:
    """The outcome of a document whose write was rolled back, with its reason."""
    subscription_id, period_start = document.subscription.id, document.renewal.period.start
    if isinstance(error, IntegrityError):
        if period_claimed(session, subscription_id, period_start):
            return Outcome(
                subscription_id,
                OutcomeKind.ALREADY_BILLED,
                period_start,
                reason="this period was already billed (claim exists)",
            )
        return _failure(subscription_id, period_start, "database", str(error.orig)[:500])
    if isinstance(error, PrahoError):
        return _failure(subscription_id, period_start, error.code, error.message)
    log.error("billing: writing subscription %s failed", subscription_id, exc_info=error)
    return _failure(
        subscription_id, period_start, "internal_error", f"{type(error).__name__}: {error}"
    )


# Set by the write phase on the loaded subscription as committed state (billing_write).
_ADVANCED = ("current_period_start", "current_period_end", "next_billing_date", "updated_at")


def _forget_advance(session: Session, documents: list[PreparedDocument]) -> None:
    """Reload the period dates of subscriptions whose write was rolled back.

    The write phase moves a subscription into its billed period with one UPDATE and sets
    the same values on the loaded object as committed state; a savepoint rollback undoes
    the UPDATE but not those values, so the object would say "billed" when it is not.
    """
    for document in documents:
        session.expire(document.subscription, list(_ADVANCED))


def period_claimed(session: Session, subscription_id: int, period_start: date) -> bool:
    """True when the period starting ``period_start`` already has a billing claim."""
    return (
        session.execute(
            select(SubscriptionPeriod.id).where(
                SubscriptionPeriod.subscription_id == subscription_id,
                SubscriptionPeriod.period_start == period_start,
            )
        ).first()
        is not None
    )


def _fire_issue_hooks(
    ctx: IssueContext, prepared: list[PreparedDocument], issued: list[IssuedDocument]
) -> None:
    """The issue hooks of a chunk: ``invoices_issued`` once, then per document.

    A plugin implementing the batch hook ``invoices_issued`` gets the chunk there and is
    left out of the per-document ``invoice_issued`` calls (see the hookspec).
    """
    registry = get_registry()
    batch_plugins = [impl.plugin for impl in registry.pm.hook.invoices_issued.get_hookimpls()]
    per_document = registry.pm.subset_hook_caller("invoice_issued", remove_plugins=batch_plugins)
    wants_issued = bool(per_document.get_hookimpls())
    wants_renewed = has_implementations("subscription_renewed")
    if not (batch_plugins or wants_issued or wants_renewed):
        return
    ids = [doc.invoice_id for doc in issued]
    invoices = {
        i.id: i
        for i in ctx.session.execute(
            select(Invoice).where(ids_in(ctx.session, Invoice.id, ids))
        ).scalars()
    }
    if batch_plugins:
        registry.hook.invoices_issued(session=ctx.session, invoices=[invoices[i] for i in ids])
    relay = registry.hook
    for document, result in zip(prepared, issued, strict=True):
        invoice = invoices[result.invoice_id]
        if wants_issued:
            per_document(session=ctx.session, invoice=invoice)
        if wants_renewed:
            relay.subscription_renewed(
                session=ctx.session, subscription=document.subscription, invoice=invoice
            )


def end_trial(
    session: Session, subscription: Subscription, *, now: datetime, actor: Actor | None = None
) -> None:
    """The trial is over: the subscription becomes active (first paid period follows)."""
    transition(
        session,
        subscription,
        SubscriptionStatus.ACTIVE,
        event="trial_ended",
        now=now,
        actor=actor,
        reason="trial ended",
        data={"trial_end": subscription.trial_end.isoformat() if subscription.trial_end else None},
    )
    if subscription.activated_at is None:
        subscription.activated_at = now
        hooks().subscription_activated(session=session, subscription=subscription)


def end_at_period_end(
    session: Session, subscription: Subscription, *, now: datetime, actor: Actor | None = None
) -> Invoice | None:
    """A cancellation scheduled for the period end takes effect: nothing more is billed.

    What is still owed for the last period (usage in arrears, proration lines kept for
    the next document) goes on a final document first.
    """
    from praho.core.services.final_invoice import issue_final_invoice

    period_end = subscription.next_billing_date
    assert period_end is not None
    final = issue_final_invoice(session, subscription, end_date=period_end, now=now, actor=actor)
    transition(
        session,
        subscription,
        SubscriptionStatus.CANCELLED,
        event="cancellation_effective",
        now=now,
        actor=actor,
        reason=subscription.cancellation_reason or "cancelled at period end",
        data={"period_end": period_end.isoformat()},
    )
    subscription.ended_at = start_of_business_day(period_end)
    subscription.next_billing_date = None
    subscription.cancel_at_period_end = False
    session.flush()
    hooks().subscription_cancelled(session=session, subscription=subscription, at_period_end=False)
    return final


def _store_outcomes(
    session: Session, report: BillingReport, billing_run_id: int, chunk_id: int | None
) -> None:
    if not report.outcomes:
        return
    session.execute(
        insert(BillingOutcome.__table__),
        [
            {
                "billing_run_id": billing_run_id,
                "chunk_id": chunk_id,
                "subscription_id": o.subscription_id,
                "period_start": o.period_start,
                "outcome": str(o.outcome),
                "invoice_id": o.invoice_id,
                "document_number": o.document_number,
                "total_minor": o.total_minor,
                "currency": o.currency,
                "error_code": o.error_code,
                "reason": o.reason,
            }
            for o in report.outcomes
        ],
    )
