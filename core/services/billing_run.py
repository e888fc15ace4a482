"""Billing runs: snapshot what is due, split it into chunks, bill each chunk once, summarise.

A run is started by :func:`start_billing_run` (one short transaction), then each chunk
is billed by :func:`bill_run_chunk` in its own transaction by whichever worker receives
it: the Celery tasks of :mod:`praho.core.billing_tasks` on any number of machines, or
``praho billing run`` in-process. A chunk is locked while billed and marked done in the
same transaction, so a redelivered or duplicated chunk task does nothing. When the last
chunk is done, :func:`finish_billing_run` stores the summary: documents issued, amounts
per currency, and every failure with its reason.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from praho.core.clock import business_date, resolve_now
from praho.core.config import configured
from praho.core.db import is_postgres
from praho.core.errors import FieldError, NotFound
from praho.core.models.billing_runs import (
    BillingOutcome,
    BillingRun,
    BillingRunChunk,
    BillingRunStatus,
    ChunkStatus,
    OutcomeKind,
)
from praho.core.models.subscriptions import BILLABLE_STATUSES, Subscription
from praho.core.services.audit import Actor, record_audit
from praho.core.services.billing import BillingReport, bill_subscriptions
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

MAX_FAILURES_IN_SUMMARY = 1000


def find_due_subscription_ids(session: Session, run_date: date) -> list[int]:
    """Ids of the subscriptions due on ``run_date``, in id order."""
    return list(
        session.execute(
            select(Subscription.id)
            .where(
                Subscription.status.in_([str(s) for s in BILLABLE_STATUSES]),
                Subscription.next_billing_date <= run_date,
            )
            .order_by(Subscription.id)
        ).scalars()
    )


def chunk_size_to_use(chunk_size: int | None, setting: str) -> int:
    """``chunk_size``, or the app's ``setting`` (PRAHO_BILLING_CHUNK_SIZE, ...) when None.

    Shared by the billing and collection runs; anything but 1 to 100000 is refused.
    """
    size = int(configured(setting)) if chunk_size is None else chunk_size
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 100_000:
        raise FieldError("chunk_size", "must be a whole number from 1 to 100000")
    return size


def start_billing_run(
    session: Session,
    *,
    now: datetime | None = None,
    actor: Actor | None = None,
    chunk_size: int | None = None,
) -> BillingRun:
    """Snapshot the subscriptions due at ``now`` and split them into chunks; bills nothing yet.

    Each chunk is then billed by :func:`bill_run_chunk` in its own transaction, by any
    worker, in any order, any number of times.
    """
    moment = resolve_now(now)
    size = chunk_size_to_use(chunk_size, "BILLING_CHUNK_SIZE")
    run_date = business_date(moment)
    due = find_due_subscription_ids(session, run_date)
    run = BillingRun(
        run_date=run_date,
        now=moment,
        started_at=resolve_now(None),
        status=BillingRunStatus.RUNNING,
        triggered_by=str(actor) if actor else "system",
        chunk_size=size,
        subscriptions_due=len(due),
        chunks_total=(len(due) + size - 1) // size,
        summary={},
    )
    session.add(run)
    session.flush()
    if due:
        session.execute(
            insert(BillingRunChunk.__table__),
            [
                {
                    "billing_run_id": run.id,
                    "position": index,
                    "subscription_ids": due[start : start + size],
                    "status": str(ChunkStatus.PENDING),
                    "attempts": 0,
                }
                for index, start in enumerate(range(0, len(due), size))
            ],
        )
    record_audit(
        session,
        actor=actor,
        action="billing_run.started",
        object_type="billing_run",
        object_id=run.id,
        now=moment,
        data={"run_date": run_date.isoformat(), "due": len(due), "chunks": run.chunks_total},
    )
    if not due:
        finish_billing_run(session, run.id)
    return run


def bill_run_chunk(
    session: Session, chunk_id: int, *, worker: str | None = None, actor: Actor | None = None
) -> BillingReport | None:
    """Bill one chunk of a run; None when it was already done (a redelivered task).

    The chunk row is locked for the duration, so the same chunk delivered twice at once
    is billed by one worker while the other waits and then finds it done.
    """
    query = (
        select(BillingRunChunk)
        .where(BillingRunChunk.id == chunk_id)
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        query = query.with_for_update()
    chunk = session.execute(query).scalar_one_or_none()
    if chunk is None:
        raise NotFound(f"no billing chunk {chunk_id}")
    if chunk.status == ChunkStatus.DONE:
        return None
    run = session.get(BillingRun, chunk.billing_run_id)
    assert run is not None
    report = bill_subscriptions(
        session,
        list(chunk.subscription_ids),
        now=run.now,
        actor=actor,
        billing_run_id=run.id,
        chunk_id=chunk.id,
    )
    chunk.status = ChunkStatus.DONE
    chunk.attempts += 1
    chunk.finished_at = resolve_now(None)
    chunk.worker = worker[:200] if worker else None
    session.flush()
    return report


def run_progress(session: Session, run_id: int) -> tuple[int, int]:
    """(chunks done, chunks in total) of a run."""
    run = session.get(BillingRun, run_id)
    if run is None:
        raise NotFound(f"no billing run {run_id}")
    done = session.execute(
        select(func.count(BillingRunChunk.id)).where(
            BillingRunChunk.billing_run_id == run_id, BillingRunChunk.status == ChunkStatus.DONE
        )
    ).scalar_one()
    return int(done), run.chunks_total


def finish_billing_run(session: Session, run_id: int) -> BillingRun | None:
    """Close the run when every chunk is done: summary, status, audit. Idempotent.

    Returns the run once finished, None while chunks are still pending.
    """
    query = (
        select(BillingRun).where(BillingRun.id == run_id).execution_options(populate_existing=True)
    )
    if is_postgres(session):
        query = query.with_for_update()
    run = session.execute(query).scalar_one()
    if run.finished_at is not None:
        return run
    done, total = run_progress(session, run_id)
    if done < total:
        return None
    run.summary = run_summary(session, run_id)
    run.status = (
        BillingRunStatus.COMPLETED_WITH_FAILURES
        if run.summary["counts"].get("failed")
        else BillingRunStatus.COMPLETED
    )
    run.finished_at = resolve_now(None)
    session.flush()
    record_audit(
        session,
        actor=None,
        action="billing_run.finished",
        object_type="billing_run",
        object_id=run.id,
        now=run.now,
        data={"counts": run.summary["counts"], "amounts": run.summary["amounts"]},
    )
    return run


def run_summary(session: Session, run_id: int) -> dict[str, Any]:
    """Counts per outcome, issued totals per currency and every failure with its reason."""
    counts = Counter(
        {
            str(kind): int(n)
            for kind, n in session.execute(
                select(BillingOutcome.outcome, func.count(BillingOutcome.id))
                .where(BillingOutcome.billing_run_id == run_id)
                .group_by(BillingOutcome.outcome)
            )
        }
    )
    amounts = {
        currency: int(total)
        for currency, total in session.execute(
            select(BillingOutcome.currency, func.sum(BillingOutcome.total_minor))
            .where(
                BillingOutcome.billing_run_id == run_id,
                # Renewal documents and the final documents of subscriptions that ended.
                BillingOutcome.outcome.in_([OutcomeKind.ISSUED, OutcomeKind.ENDED]),
                BillingOutcome.invoice_id.is_not(None),
            )
            .group_by(BillingOutcome.currency)
        )
    }
    failures = [
        {
            "subscription_id": o.subscription_id,
            "period_start": o.period_start.isoformat() if o.period_start else None,
            "error": o.error_code,
            "reason": o.reason,
        }
        for o in session.execute(
            select(BillingOutcome)
            .where(
                BillingOutcome.billing_run_id == run_id,
                BillingOutcome.outcome == OutcomeKind.FAILED,
            )
            .order_by(BillingOutcome.subscription_id)
            .limit(MAX_FAILURES_IN_SUMMARY)
        ).scalars()
    ]
    # Every failure stays in billing_outcomes; the summary lists the first ones.
    return {"counts": dict(counts), "amounts": amounts, "failures": failures}


def run_billing(
    session: Session,
    *,
    now: datetime | None = None,
    actor: Actor | None = None,
    chunk_size: int | None = None,
) -> BillingRun:
    """Run billing for ``now`` in the caller's transaction and return the finished run.

    The same chunks as the distributed run, billed one after the other; suits tests,
    the simulation and small installations. Larger ones use ``praho billing run`` or the
    Celery beat entry, which commit every chunk on its own.
    """
    run = start_billing_run(session, now=now, actor=actor, chunk_size=chunk_size)
    for chunk_id in pending_chunk_ids(session, run.id):
        bill_run_chunk(session, chunk_id, actor=actor)
    finished = finish_billing_run(session, run.id)
    assert finished is not None
    return finished


def pending_chunk_ids(session: Session, run_id: int) -> list[int]:
    """Ids of a run's chunks not done yet, in order."""
    return list(
        session.execute(
            select(BillingRunChunk.id)
            .where(
                BillingRunChunk.billing_run_id == run_id,
                BillingRunChunk.status == ChunkStatus.PENDING,
            )
            .order_by(BillingRunChunk.position)
        ).scalars()
    )
