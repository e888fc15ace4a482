"""Driving collection runs: one transaction to start, one per chunk, one to finish.

The services (:mod:`praho.core.services.collections`) only flush; this module owns the
transactions, so the Celery tasks and ``praho collections run`` share one
implementation. A chunk commits on its own (and at each of its retries, which the
payment layer commits before calling the gateway): a crash loses at most the case in
flight, whose steps the next delivery of the chunk takes once.
"""

from __future__ import annotations

from datetime import datetime

from praho.core.billing_runner import worker_name
from praho.core.db import Database
from praho.core.models.collections import CollectionRun, CollectionRunChunk
from praho.core.services.audit import Actor
from praho.core.services.collections import (
    chase_run_chunk,
    finish_collection_run,
    pending_chunk_ids,
    start_collection_run,
)


def start_run(
    database: Database, *, now: datetime, actor: Actor | None = None,
    chunk_size: int | None = None,
) -> tuple[int, list[int]]:
    """Create a run, its new cases and its chunks in one transaction; (run id, chunk ids)."""
    with database.transaction() as session:
        run = start_collection_run(session, now=now, actor=actor, chunk_size=chunk_size)
        return run.id, pending_chunk_ids(session, run.id)


def chase_chunk(
    database: Database, chunk_id: int, *, actor: Actor | None = None
) -> int | None:
    """Chase one chunk, then close the run if it was the last; cases chased or None."""
    with database.transaction() as session:
        chased = chase_run_chunk(session, chunk_id, worker=worker_name(), actor=actor)
        chunk = session.get(CollectionRunChunk, chunk_id)
        assert chunk is not None
        run_id = chunk.collection_run_id
    with database.transaction() as session:
        finish_collection_run(session, run_id, actor=actor)
    return chased


def run_in_process(
    database: Database, *, now: datetime, actor: Actor | None = None,
    chunk_size: int | None = None,
) -> CollectionRun:
    """Start a run and chase every chunk here, one transaction each; returns the run."""
    run_id, chunk_ids = start_run(database, now=now, actor=actor, chunk_size=chunk_size)
    for chunk_id in chunk_ids:
        chase_chunk(database, chunk_id, actor=actor)
    with database.transaction() as session:
        run = finish_collection_run(session, run_id, actor=actor)
        assert run is not None
        session.expunge(run)
        return run
