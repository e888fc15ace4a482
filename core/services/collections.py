"""Collection runs: use waiting credit, open cases for overdue invoices, chase the cases.

A run is started by :func:`start_collection_run` (one transaction): the customers'
waiting credit pays their unpaid invoices, cases open for invoices past their due date
(and reopen, for a fresh round, on invoices owed again after their case closed paid),
and the open cases are split into chunks (``PRAHO_COLLECTION_CHUNK_SIZE``). Each chunk
is chased by :func:`chase_run_chunk`, by whichever worker receives it (the Celery tasks
of :mod:`praho.plugins.receivables.tasks` on any number of machines) or in-process by
:func:`run_collections`, which the time simulation, ``praho collections run --date`` and
the tests call. :func:`finish_collection_run` stores the summary when the last chunk is
done. Every case step is recorded once per case and key, and the case row is locked
while it is worked on (see :mod:`.dunning_steps`), so a redelivered or duplicated chunk
takes no step twice. Retries commit: the payment layer commits the attempt before it
calls the gateway, so a chunk's transaction is committed at each retry.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from praho.core.clock import business_date, resolve_now
from praho.core.db import is_postgres
from praho.core.errors import NotFound, PrahoError
from praho.core.models.billing_runs import ChunkStatus
from praho.core.models.collections import (
    OPEN_CASE_STATUSES,
    ActionKind,
    ActionOutcome,
    CollectionAction,
    CollectionRun,
    CollectionRunChunk,
    DunningCase,
    DunningCaseStatus,
)
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice, PaymentStatus
from praho.core.models.payments import PaymentAllocation
from praho.core.services.audit import Actor, record_audit
from praho.core.services.billing_run import chunk_size_to_use
from praho.core.services.customer_credit import apply_waiting_credit
from praho.core.services.dunning import open_case
from praho.core.services.dunning_steps import chase_case
from praho.core.services.payment_allocation import CHARGEBACK
from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

UNPAID = (PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_PAID)


def overdue_not_chased(session: Session, today: date) -> list[tuple[Invoice, bool]]:
    """Issued invoices and proformas past their due date and unpaid that no case chases.

    That is: no case yet, or a case that closed ``paid`` although the invoice owes money
    again - a payment behind it was taken back, so it is chased in a fresh round. Cases
    ended for any other reason (terminated, closed by hand) stay ended: a person or the
    policy decided those. Each invoice comes with True when a payment on it was charged
    back (a lost dispute, see :func:`praho.core.services.disputes.charge_back`).
    """
    charged_back = (
        select(PaymentAllocation.id)
        .where(PaymentAllocation.invoice_id == Invoice.id,
               PaymentAllocation.source == CHARGEBACK)
        .exists()
    )
    rows = session.execute(
        select(Invoice, charged_back)
        .outerjoin(DunningCase, DunningCase.invoice_id == Invoice.id)
        .where(
            Invoice.kind.in_([DocumentKind.INVOICE, DocumentKind.PROFORMA]),
            Invoice.status == DocumentStatus.ISSUED,
            Invoice.payment_status.in_(UNPAID),
            Invoice.converted_to_id.is_(None),
            Invoice.payable_minor > 0,
            Invoice.due_date < today,
            or_(DunningCase.id.is_(None), DunningCase.status == DunningCaseStatus.PAID),
        )
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    return [(invoice, bool(taken_back)) for invoice, taken_back in rows]


def start_collection_run(
    session: Session, *, now: datetime | None = None, actor: Actor | None = None,
    chunk_size: int | None = None,
) -> CollectionRun:
    """Use waiting credit, open the new cases and split the open ones into chunks.

    Chases nothing yet: each chunk is then chased by :func:`chase_run_chunk`, by any
    worker, in any order, any number of times.
    """
    size = chunk_size_to_use(chunk_size, "COLLECTION_CHUNK_SIZE")
    moment = resolve_now(now)
    today = business_date(moment)
    run = CollectionRun(run_at=moment, started_by=str(actor) if actor else None,
                        created_at=moment, summary={})
    session.add(run)
    session.flush()
    failures: list[dict[str, Any]] = []
    credit_used: list[tuple[Invoice, int]] = []
    try:
        with session.begin_nested():
            credit_used = apply_waiting_credit(session, actor=actor, now=moment)
    except PrahoError as error:
        failures.append({"step": "credit", "reason": error.message})
    for invoice, charged_back in overdue_not_chased(session, today):
        reason = f"overdue since {invoice.due_date}"
        # The cardholder disputed the charge and won: charging the same card again
        # without their consent invites another dispute, so no automatic retries; the
        # customer is asked to pay (a new card saved is tried once, as after a hard
        # decline), and suspension and termination follow the policy.
        # (The reason reaches the customer's e-mail as the case's last error.)
        stop = "payment charged back after a dispute" if charged_back else None
        try:
            with session.begin_nested():
                # A case that closed paid reopens in open_case as a fresh round.
                open_case(session, invoice, reason=f"{stop}; {reason}" if stop else reason,
                          now=moment, run=run, actor=actor, hard_decline=charged_back,
                          error=stop)
        except PrahoError as error:
            failures.append({"invoice": invoice.full_number, "step": "open",
                             "reason": error.message})
    case_ids = list(session.execute(
        select(DunningCase.id).where(DunningCase.status.in_(OPEN_CASE_STATUSES))
        .order_by(DunningCase.id)
    ).scalars())
    if case_ids:
        session.execute(insert(CollectionRunChunk.__table__), [
            {"collection_run_id": run.id, "position": index,
             "case_ids": case_ids[start:start + size], "status": str(ChunkStatus.PENDING),
             "attempts": 0, "failures": []}
            for index, start in enumerate(range(0, len(case_ids), size))
        ])
    # Kept until the run is finished, which merges them into the summary.
    run.summary = {
        "preparation_failures": failures,
        "credit_applied": {str(i.full_number): amount for i, amount in credit_used},
        "cases": len(case_ids),
    }
    session.flush()
    if not case_ids:
        finish_collection_run(session, run.id, actor=actor)
    return run


def pending_chunk_ids(session: Session, run_id: int) -> list[int]:
    """Ids of a run's chunks not chased yet, in order."""
    return list(session.execute(
        select(CollectionRunChunk.id)
        .where(CollectionRunChunk.collection_run_id == run_id,
               CollectionRunChunk.status == ChunkStatus.PENDING)
        .order_by(CollectionRunChunk.position)
    ).scalars())


def chase_run_chunk(
    session: Session, chunk_id: int, *, worker: str | None = None, actor: Actor | None = None
) -> int | None:
    """Take today's steps of a chunk's cases; returns how many, None if already done.

    The chunk is marked done in the transaction of its last case; a chunk delivered
    again after that does nothing, and one redelivered before that (its worker died)
    chases its cases again, each of which takes only the steps it has not taken yet.
    """
    chunk = session.execute(
        select(CollectionRunChunk).where(CollectionRunChunk.id == chunk_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if chunk is None:
        raise NotFound(f"no collection chunk {chunk_id}")
    if chunk.status == ChunkStatus.DONE:
        return None
    run = session.get(CollectionRun, chunk.collection_run_id)
    assert run is not None
    case_ids, run_at = list(chunk.case_ids), run.run_at
    failures: list[dict[str, Any]] = []
    for case_id in case_ids:
        failures += chase_case(session, case_id, now=run_at, run=run, actor=actor)
    chunk = session.get(CollectionRunChunk, chunk_id)  # reloaded: retries commit
    assert chunk is not None
    chunk.status = ChunkStatus.DONE
    chunk.attempts += 1
    # Merged, not replaced: a duplicate delivery finishing second keeps the first's.
    chunk.failures = list(chunk.failures or []) + [
        f for f in failures if f not in (chunk.failures or [])
    ]
    chunk.finished_at = resolve_now(None)
    chunk.worker = worker[:200] if worker else None
    session.flush()
    return len(case_ids)


def collection_progress(session: Session, run_id: int) -> tuple[int, int]:
    """(chunks done, chunks in total) of a run."""
    rows = {status: count for status, count in session.execute(
        select(CollectionRunChunk.status, func.count(CollectionRunChunk.id))
        .where(CollectionRunChunk.collection_run_id == run_id)
        .group_by(CollectionRunChunk.status)
    )}
    return int(rows.get(ChunkStatus.DONE, 0)), int(sum(rows.values()))


def finish_collection_run(
    session: Session, run_id: int, *, actor: Actor | None = None
) -> CollectionRun | None:
    """Close the run when every chunk is done: summary and audit. Idempotent.

    Returns the run once finished, None while chunks are still pending.
    """
    query = (select(CollectionRun).where(CollectionRun.id == run_id)
             .execution_options(populate_existing=True))
    if is_postgres(session):
        query = query.with_for_update()
    run = session.execute(query).scalar_one_or_none()
    if run is None:
        raise NotFound(f"no collection run {run_id}")
    if run.finished_at is not None:
        return run
    done, total = collection_progress(session, run_id)
    if done < total:
        return None
    chunk_failures = [
        failure
        for chunk in session.execute(
            select(CollectionRunChunk).where(CollectionRunChunk.collection_run_id == run_id)
            .order_by(CollectionRunChunk.position)
        ).scalars()
        for failure in chunk.failures
    ]
    prepared = dict(run.summary or {})
    summary = summarize(session, run, prepared.get("preparation_failures", []) + chunk_failures)
    summary["chunks"] = total
    if prepared.get("credit_applied"):
        summary["credit_applied"] = prepared["credit_applied"]
    run.summary = summary
    run.finished_at = run.run_at
    session.flush()
    record_audit(session, actor=actor, action="collections.run", object_type="collection_run",
                 object_id=run.id, now=run.run_at, data=run.summary)
    return run


def run_collections(
    session: Session, *, now: datetime | None = None, actor: Actor | None = None,
    chunk_size: int | None = None,
) -> CollectionRun:
    """Chase every unpaid invoice as of ``now`` here; returns the finished run.

    The same chunks as the distributed run, chased one after the other in the caller's
    session (which retries commit, see the module docstring).
    """
    run = start_collection_run(session, now=now, actor=actor, chunk_size=chunk_size)
    for chunk_id in pending_chunk_ids(session, run.id):
        chase_run_chunk(session, chunk_id, actor=actor)
    finished = finish_collection_run(session, run.id, actor=actor)
    assert finished is not None
    return finished


def summarize(
    session: Session, run: CollectionRun, failures: list[dict[str, Any]]
) -> dict[str, Any]:
    """Counts per (action, outcome) of the run, and the failures with their reasons."""
    actions = session.execute(
        select(CollectionAction).where(CollectionAction.run_id == run.id)
    ).scalars().all()
    counts = Counter(f"{a.kind}:{a.outcome}" for a in actions)
    failed = [{"invoice_id": a.invoice_id, "step": a.step_key, "reason": a.reason}
              for a in actions if a.outcome == ActionOutcome.FAILED]
    return {
        "counts": dict(sorted(counts.items())),
        "tried": sum(1 for a in actions if a.kind == ActionKind.RETRY),
        "succeeded": counts.get(f"{ActionKind.RETRY}:{ActionOutcome.SUCCEEDED}", 0),
        "failed": failed + [f for f in failures if f.get("step") != "process"],
    }
