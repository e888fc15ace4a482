"""What the Virtualmin plugin stores: accounts, provisioning actions, attempts, reconciliation.

A :class:`VirtualminAction` is written by a subscription hook inside the billing
transaction, keyed by ``(subscription, action, cause)`` so a hook that fires twice records
one action. The HTTP call happens later, in a Celery task, and each call is one
:class:`VirtualminAttempt` row with its outcome. Reconciliation never changes billing: it
writes :class:`VirtualminFinding` rows for the back office.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from praho.core.db import Base, JSONDocument, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class ActionKind(StrEnum):
    """The Virtualmin program an action runs."""

    CREATE = "create"
    DISABLE = "disable"
    ENABLE = "enable"
    DELETE = "delete"


class ActionStatus(StrEnum):
    """Where an action is; ``failed`` waits for a person (``retry_action``)."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # A later action on the same account made this one moot (a failed disable, then enable).
    SUPERSEDED = "superseded"


UNFINISHED = (ActionStatus.PENDING, ActionStatus.RUNNING)


class AccountState(StrEnum):
    """What billing wants the hosting account to be (and what the server last confirmed)."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETED = "deleted"
    UNKNOWN = "unknown"


class FindingKind(StrEnum):
    """A difference between billing and a server that a person should look at."""

    MISSING_ON_SERVER = "missing_on_server"
    STATE_MISMATCH = "state_mismatch"
    UNKNOWN_DOMAIN = "unknown_domain"


class VirtualminAccount(IdMixin, TimestampMixin, Base):
    """The hosting account a subscription owns on one Virtualmin server."""

    __tablename__ = "virtualmin_accounts"
    # Not unique: a domain comes back on a new subscription after the old account was
    # deleted; record_provisioning refuses a second live account for the same domain.
    __table_args__ = (Index("ix_virtualmin_accounts_server_domain", "server", "domain"),)

    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), unique=True)
    server: Mapped[str] = mapped_column(String(60))
    domain: Mapped[str] = mapped_column(String(253))
    username: Mapped[str | None] = mapped_column(String(60))
    plan: Mapped[str | None] = mapped_column(String(100))
    template: Mapped[str | None] = mapped_column(String(100))
    # Set by the hooks: the state billing wants; confirmed_state: the last successful action's.
    expected_state: Mapped[AccountState] = mapped_column(String(10))
    confirmed_state: Mapped[AccountState] = mapped_column(String(10), default=AccountState.UNKNOWN)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class VirtualminAction(IdMixin, TimestampMixin, Base):
    """One thing to do on a server for a subscription, idempotent by ``idempotency_key``."""

    __tablename__ = "virtualmin_actions"
    __table_args__ = (Index("ix_virtualmin_actions_due", "status", "next_attempt_at"),)

    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("virtualmin_accounts.id"))
    kind: Mapped[ActionKind] = mapped_column(String(10))
    cause: Mapped[str] = mapped_column(String(60))
    server: Mapped[str] = mapped_column(String(60))
    domain: Mapped[str] = mapped_column(String(253))
    status: Mapped[ActionStatus] = mapped_column(String(10), default=ActionStatus.PENDING)
    # Attempts in the current round; a manual retry starts a new round from zero.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Not run before this instant (backoff, or the grace period of a deletion).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    params: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class VirtualminAttempt(IdMixin, Base):
    """One call to the server for an action and what came of it."""

    __tablename__ = "virtualmin_attempts"

    action_id: Mapped[int] = mapped_column(ForeignKey("virtualmin_actions.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # started | succeeded | retry | failed
    outcome: Mapped[str] = mapped_column(String(10))
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))


class VirtualminReconcileRun(IdMixin, Base):
    """One comparison of a server's domain list with the accounts billing expects."""

    __tablename__ = "virtualmin_reconcile_runs"

    server: Mapped[str] = mapped_column(String(60))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(String(500))
    domains_on_server: Mapped[int] = mapped_column(Integer, default=0)
    open_findings: Mapped[int] = mapped_column(Integer, default=0)


class VirtualminFinding(IdMixin, Base):
    """A difference seen by reconciliation; resolved when a later run no longer sees it."""

    __tablename__ = "virtualmin_findings"
    __table_args__ = (UniqueConstraint("server", "domain", "kind"),)

    server: Mapped[str] = mapped_column(String(60))
    domain: Mapped[str] = mapped_column(String(253))
    kind: Mapped[FindingKind] = mapped_column(String(20))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    expected: Mapped[str] = mapped_column(String(20))
    actual: Mapped[str] = mapped_column(String(20))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


__all__ = [
    "AccountState",
    "ActionKind",
    "ActionStatus",
    "FindingKind",
    "UNFINISHED",
    "VirtualminAccount",
    "VirtualminAction",
    "VirtualminAttempt",
    "VirtualminFinding",
    "VirtualminReconcileRun",
]
