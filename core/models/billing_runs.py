"""Billing runs: one record per run, its chunks, and one outcome per subscription-period.

A run snapshots the subscriptions due on its date and splits them into chunks; each
chunk is billed in its own short transaction by whichever worker picks it up. Progress
is the share of chunks done. Outcomes say what happened to every subscription, with the
reason when it failed, so the finance team can fix the data and let the next run retry.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from praho.core.db import Base, JSONDocument, MinorUnits, UTCDateTime
from praho.core.models.base import IdMixin
from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class BillingRunStatus(StrEnum):
    """Lifecycle of a run."""

    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_FAILURES = "completed_with_failures"


class ChunkStatus(StrEnum):
    """A chunk is pending until one worker committed it."""

    PENDING = "pending"
    DONE = "done"


class OutcomeKind(StrEnum):
    """What the run did with one subscription."""

    ISSUED = "issued"  # a document was issued for the period
    ENDED = "ended"  # cancellation at period end took effect; nothing billed
    SKIPPED = "skipped"  # no longer due, or another worker holds it right now
    ALREADY_BILLED = "already_billed"  # the period's claim exists (rerun, retry)
    FAILED = "failed"  # recorded with a reason; the next run tries again


class BillingRun(IdMixin, Base):
    """One billing run for a business date."""

    __tablename__ = "billing_runs"

    run_date: Mapped[date] = mapped_column(Date, index=True)
    now: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[BillingRunStatus] = mapped_column(String(24), default=BillingRunStatus.RUNNING)
    triggered_by: Mapped[str] = mapped_column(String(100))
    chunk_size: Mapped[int] = mapped_column(Integer)
    subscriptions_due: Mapped[int] = mapped_column(Integer, default=0)
    chunks_total: Mapped[int] = mapped_column(Integer, default=0)
    # Filled when the last chunk finishes: counts per outcome and totals per currency.
    summary: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


class BillingRunChunk(IdMixin, Base):
    """A slice of a run's due subscriptions, billed in one transaction."""

    __tablename__ = "billing_run_chunks"
    __table_args__ = (UniqueConstraint("billing_run_id", "position"),)

    billing_run_id: Mapped[int] = mapped_column(ForeignKey("billing_runs.id"))
    position: Mapped[int] = mapped_column(Integer)
    subscription_ids: Mapped[list[int]] = mapped_column(JSONDocument)
    status: Mapped[ChunkStatus] = mapped_column(String(8), default=ChunkStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    worker: Mapped[str | None] = mapped_column(String(200))


class BillingOutcome(IdMixin, Base):
    """What happened to one subscription in one run (and for which period)."""

    __tablename__ = "billing_outcomes"

    billing_run_id: Mapped[int] = mapped_column(ForeignKey("billing_runs.id"), index=True)
    chunk_id: Mapped[int | None] = mapped_column(ForeignKey("billing_run_chunks.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    period_start: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[OutcomeKind] = mapped_column(String(16))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    document_number: Mapped[str | None] = mapped_column(String(200))
    total_minor: Mapped[int | None] = mapped_column(MinorUnits)
    currency: Mapped[str | None] = mapped_column(String(3))
    error_code: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(500))
