"""Collections: dunning policies as data, dunning cases per overdue invoice, collection runs.

A :class:`DunningPolicy` says when to retry a failed charge (days after the first
failure), how many retries at most, after how many days overdue the service is
suspended and terminated, and whether and with which template set the customer is
e-mailed. One policy is the default; :class:`DunningPolicyAssignment` gives a customer
or a plan (the product of a subscription's plan item) its own policy (a VIP policy with
longer grace). A :class:`DunningCase` follows one unpaid invoice from its first failure
to its end (paid, stopped, terminated); a :class:`CollectionRun` records what a run
tried, and every step it took is a :class:`CollectionAction`.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from praho.core.db import Base, JSONDocument, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from praho.core.models.billing_runs import ChunkStatus
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

DEFAULT_RETRY_INTERVALS = (1, 3, 7, 14, 30)


class DunningPolicy(IdMixin, TimestampMixin, Base):
    """How an unpaid invoice is chased. Days count from the first failure (retries) or
    from the due date (suspension, termination)."""

    __tablename__ = "dunning_policies"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # Days after the first failure at which retry 1, 2, ... is made.
    retry_intervals_days: Mapped[list[int]] = mapped_column(
        JSONDocument, default=lambda: list(DEFAULT_RETRY_INTERVALS)
    )
    max_attempts: Mapped[int] = mapped_column(Integer, default=len(DEFAULT_RETRY_INTERVALS))
    # NULL: never suspend (or terminate) automatically.
    suspend_after_days: Mapped[int | None] = mapped_column(Integer, default=14)
    terminate_after_days: Mapped[int | None] = mapped_column(Integer, default=60)
    send_emails: Mapped[bool] = mapped_column(Boolean, default=True)
    # Templates are email/<template_set>_<step>.<language>.txt.
    template_set: Mapped[str] = mapped_column(String(40), default="dunning")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<DunningPolicy {self.code} {self.retry_intervals_days}>"


class DunningPolicyAssignment(IdMixin, TimestampMixin, Base):
    """A policy for one customer or one plan; a customer's wins over its plan's."""

    __tablename__ = "dunning_policy_assignments"
    __table_args__ = (
        CheckConstraint(
            "(customer_id IS NULL) <> (product_id IS NULL)", name="one_target"
        ),
    )

    policy_id: Mapped[int] = mapped_column(ForeignKey("dunning_policies.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), unique=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), unique=True)


class DunningCaseStatus(StrEnum):
    """Where a case is: still chased, or ended (and why)."""

    OPEN = "open"
    PAID = "paid"  # paid (by card, transfer, credit) or credited to zero
    ACTION_REQUIRED = "action_required"  # hard decline: no more retries, customer must act
    EXHAUSTED = "exhausted"  # every retry failed; suspension/termination still follow
    TERMINATED = "terminated"  # the service was terminated; the debt stays on the ledger
    CLOSED = "closed"  # closed by hand (written off, settled outside)


OPEN_CASE_STATUSES = (
    DunningCaseStatus.OPEN, DunningCaseStatus.ACTION_REQUIRED, DunningCaseStatus.EXHAUSTED
)


class DunningCase(IdMixin, TimestampMixin, Base):
    """One unpaid invoice being chased, from its first failure to its end."""

    __tablename__ = "dunning_cases"

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("dunning_policies.id"))
    status: Mapped[DunningCaseStatus] = mapped_column(
        String(16), default=DunningCaseStatus.OPEN, index=True
    )
    # The failed charge (or the due date passing unpaid) that opened the case.
    first_failure_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_because: Mapped[str] = mapped_column(String(300))
    # Step n (a retry, or a reminder when retrying cannot help) falls on the day of the
    # first failure plus the policy's n-th interval.
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    # 1, then 2... when a settled invoice becomes unpaid again and the case reopens;
    # every step key of a later round carries it, so each round takes its own steps.
    round: Mapped[int] = mapped_column(Integer, default=1)
    retries_made: Mapped[int] = mapped_column(Integer, default=0)
    next_step_on: Mapped[date | None] = mapped_column(Date, index=True)
    last_error: Mapped[str | None] = mapped_column(String(300))
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CollectionRun(IdMixin, TimestampMixin, Base):
    """One pass over the open cases (beat, CLI, simulation); ``summary`` has the counts."""

    __tablename__ = "collection_runs"

    run_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    started_by: Mapped[str | None] = mapped_column(String(100))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


class CollectionRunChunk(IdMixin, Base):
    """A slice of a run's open cases, chased by one worker (see services.collections).

    ``failures`` keeps what went wrong outside the recorded actions (a retry step that
    raised), merged into the run's summary when the last chunk is done.
    """

    __tablename__ = "collection_run_chunks"
    __table_args__ = (UniqueConstraint("collection_run_id", "position"),)

    collection_run_id: Mapped[int] = mapped_column(ForeignKey("collection_runs.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    case_ids: Mapped[list[int]] = mapped_column(JSONDocument)
    status: Mapped[ChunkStatus] = mapped_column(String(8), default=ChunkStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    worker: Mapped[str | None] = mapped_column(String(200))


class ActionKind(StrEnum):
    """What a collection step did."""

    OPENED = "opened"
    RETRY = "retry"
    PAST_DUE = "past_due"
    EMAIL = "email"
    SUSPEND = "suspend"
    TERMINATE = "terminate"
    REACTIVATE = "reactivate"
    STOPPED = "stopped"
    CLOSED = "closed"


class ActionOutcome(StrEnum):
    """How the step ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"  # a retry whose result the gateway reports later
    SKIPPED = "skipped"  # deliberately not done; ``reason`` says why


class CollectionAction(IdMixin, Base):
    """One step of a case: a retry, an e-mail, a suspension... with its outcome and reason.

    ``step_key`` makes every step happen once per case: two runs on the same day (or a
    run retried after a crash) find the step done and skip it.
    """

    __tablename__ = "collection_actions"
    __table_args__ = (UniqueConstraint("case_id", "step_key"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("dunning_cases.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("collection_runs.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    step_key: Mapped[str] = mapped_column(String(60))
    kind: Mapped[ActionKind] = mapped_column(String(12))
    outcome: Mapped[ActionOutcome] = mapped_column(String(10))
    attempt_number: Mapped[int | None] = mapped_column(Integer)
    # The payment attempt a retry created (payments' table; a plain id keeps the two
    # capabilities' migrations independent).
    payment_attempt_id: Mapped[int | None] = mapped_column(BigInteger)
    email_message_id: Mapped[int | None] = mapped_column(ForeignKey("email_messages.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    reason: Mapped[str | None] = mapped_column(String(300))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


__all__ = [
    "DEFAULT_RETRY_INTERVALS",
    "OPEN_CASE_STATUSES",
    "ActionKind",
    "ActionOutcome",
    "CollectionAction",
    "CollectionRun",
    "DunningCase",
    "DunningCaseStatus",
    "DunningPolicy",
    "DunningPolicyAssignment",
]
