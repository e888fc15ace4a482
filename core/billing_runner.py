"""Driving billing runs: one short transaction per chunk, in-process or on Celery workers.

The services in :mod:`praho.core.services.billing_run` only flush; this module owns
the transactions around them, so the Celery tasks and the ``praho billing`` commands
share one implementation. Each chunk commits on its own: a crash loses at most the
chunk in flight, which is then billed again from scratch by whoever runs it next.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import datetime

from praho.core.db import Database
from praho.core.models.billing_runs import BillingRun, BillingRunChunk
from praho.core.payment_runner import collect_issued_documents, uncollected_documents
from praho.core.services.audit import Actor
from praho.core.services.billing import BillingReport
from praho.core.services.billing_run import (
    bill_run_chunk,
    finish_billing_run,
    pending_chunk_ids,
    run_progress,
    start_billing_run,
)

ProgressCallback = Callable[[int, int], None]


def worker_name() -> str:
    """``host:pid``, recorded on the chunks a process billed."""
    return f"{socket.gethostname()}:{os.getpid()}"


def start_run(
    database: Database, *, now: datetime, actor: Actor | None = None, chunk_size: int | None = None
) -> tuple[int, list[int]]:
    """Create a run and its chunks in one transaction; returns (run id, chunk ids)."""
    with database.transaction() as session:
        run = start_billing_run(session, now=now, actor=actor, chunk_size=chunk_size)
        return run.id, pending_chunk_ids(session, run.id)


def bill_chunk(
    database: Database, chunk_id: int, *, actor: Actor | None = None
) -> BillingReport | None:
    """Bill one chunk in its own transaction, then run :func:`after_chunk_committed`."""
    with database.transaction() as session:
        report = bill_run_chunk(session, chunk_id, worker=worker_name(), actor=actor)
        chunk = session.get(BillingRunChunk, chunk_id)
        assert chunk is not None
        run_id = chunk.billing_run_id
    after_chunk_committed(database, run_id, report, actor=actor, chunk_id=chunk_id)
    return report


def after_chunk_committed(
    database: Database, run_id: int, report: BillingReport | None, *, actor: Actor | None = None,
    chunk_id: int | None = None,
) -> BillingRun | None:
    """What follows a chunk once its documents are committed; the run's single seam.

    Payment collection joins the billing run here, and only here: every invoice in
    ``report.issued`` is collected (:func:`praho.core.payment_runner.collect_issued_documents`),
    each in its own transaction, after the documents are safely committed (a declined
    card must never roll back an issued invoice, and a retried chunk finds its documents
    already issued and collects nothing twice, because a renewal charge is attempt 1 of
    its invoice). ``report`` is None when the chunk had already been billed by an earlier
    delivery: that delivery may have died before collecting, so the chunk's invoices not
    yet collected (``chunk_id``) are collected now. Then it closes the run when its last
    chunk is done (summary, status, audit).
    """
    documents = report.issued if report is not None else (
        uncollected_documents(database, chunk_id) if chunk_id is not None else [])
    if documents:
        with database.transaction() as session:
            run = session.get(BillingRun, run_id)
            assert run is not None
            now = run.now
        collect_issued_documents(database, documents, now=now, actor=actor)
    with database.transaction() as session:
        return finish_billing_run(session, run_id)


def run_in_process(
    database: Database,
    *,
    now: datetime,
    actor: Actor | None = None,
    chunk_size: int | None = None,
    progress: ProgressCallback | None = None,
) -> int:
    """Start a run and bill every chunk here, one transaction each; returns the run id."""
    run_id, chunk_ids = start_run(database, now=now, actor=actor, chunk_size=chunk_size)
    total = len(chunk_ids)
    if progress:
        progress(0, total)
    for done, chunk_id in enumerate(chunk_ids, start=1):
        bill_chunk(database, chunk_id, actor=actor)
        if progress:
            progress(done, total)
    with database.transaction() as session:
        finish_billing_run(session, run_id)
    return run_id


def progress_of(database: Database, run_id: int) -> tuple[int, int, bool]:
    """(chunks done, chunks total, finished) of a run, read in a short transaction."""
    with database.transaction() as session:
        done, total = run_progress(session, run_id)
        run = session.get(BillingRun, run_id)
        assert run is not None
        return done, total, run.finished_at is not None
