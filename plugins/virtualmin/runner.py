"""Running provisioning actions: one attempt = claim (commit), call the server, record (commit).

No database lock or transaction is held while the server is called. An attempt is
recorded as ``started`` before the call, so a worker killed mid-call leaves a trace; the
action stays ``running`` until ``stale_running_seconds`` pass and the sweeper runs it
again, which is safe because every action is idempotent on the server:
disabling a disabled domain, enabling an enabled one, deleting a missing one and creating
one that already exists with our ownership marker all count as success.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from praho.core.clock import resolve_now
from praho.plugins.virtualmin.actions import ownership_marker
from praho.plugins.virtualmin.client import (
    VirtualminClient,
    VirtualminCommandFailed,
    VirtualminError,
)
from praho.plugins.virtualmin.models import (
    UNFINISHED,
    AccountState,
    ActionKind,
    ActionStatus,
    VirtualminAccount,
    VirtualminAction,
    VirtualminAttempt,
)
from praho.plugins.virtualmin.settings import VirtualminSettings
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

logger = logging.getLogger("praho.virtualmin")
CONFIRMED = {ActionKind.CREATE: AccountState.ENABLED, ActionKind.ENABLE: AccountState.ENABLED,
             ActionKind.DISABLE: AccountState.DISABLED, ActionKind.DELETE: AccountState.DELETED}


@dataclass(frozen=True)
class Ticket:
    """A claimed attempt: everything the call needs, detached from the session."""

    action_id: int
    attempt_id: int
    number: int
    subscription_id: int
    kind: ActionKind
    server: str
    domain: str
    username: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What one call achieved."""

    ok: bool
    retryable: bool = False
    error: str | None = None
    http_status: int | None = None


def backoff(settings: VirtualminSettings, attempts: int) -> timedelta:
    """Exponential: base, 2 x base, 4 x base ... capped at ``retry_max_seconds``."""
    seconds = min(settings.retry_base_seconds * (2 ** max(attempts - 1, 0)),
                  settings.retry_max_seconds)
    return timedelta(seconds=seconds)


def begin_attempt(session: Session, action_id: int, *, now: datetime | None = None,
                  ) -> Ticket | None:
    """Claim a due pending action (None when it is not due, not pending, or waits its turn)."""
    moment = resolve_now(now)
    action = session.execute(
        select(VirtualminAction).where(VirtualminAction.id == action_id)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if action is None or action.status != ActionStatus.PENDING:
        return None
    if action.next_attempt_at is not None and action.next_attempt_at > moment:
        return None
    # Actions on one account run in the order billing recorded them (suspend, then reactivate).
    earlier = session.execute(
        select(VirtualminAction.id).where(
            VirtualminAction.subscription_id == action.subscription_id,
            VirtualminAction.id < action.id, VirtualminAction.status.in_(UNFINISHED),
        ).limit(1)
    ).scalar_one_or_none()
    if earlier is not None:
        return None
    account = session.get(VirtualminAccount, action.account_id) if action.account_id else None
    action.status = ActionStatus.RUNNING
    action.attempts += 1
    action.started_at = moment
    action.updated_at = moment
    number = session.execute(
        select(VirtualminAttempt.number).where(VirtualminAttempt.action_id == action.id)
        .order_by(VirtualminAttempt.number.desc()).limit(1)
    ).scalar_one_or_none() or 0
    attempt = VirtualminAttempt(action_id=action.id, number=number + 1, started_at=moment,
                                outcome="started")
    session.add(attempt)
    session.flush()
    return Ticket(action.id, attempt.id, attempt.number, action.subscription_id,
                  ActionKind(action.kind), action.server, action.domain,
                  (account.username if account else None) or "", dict(action.params or {}))


def perform(ticket: Ticket, settings: VirtualminSettings) -> Outcome:
    """Call the server for one attempt; translate Virtualmin's answers into an outcome."""
    server = settings.servers.get(ticket.server)
    if server is None:
        return Outcome(False, error=f"server {ticket.server!r} is not configured")
    client = VirtualminClient(server)
    try:
        _run(client, ticket)
    except VirtualminError as error:
        return Outcome(False, retryable=error.retryable, error=error.message[:500],
                       http_status=error.http_status_code)
    return Outcome(True)


def _run(client: VirtualminClient, ticket: Ticket) -> None:
    domain, marker = ticket.domain, ownership_marker(ticket.subscription_id)
    if ticket.kind == ActionKind.CREATE:
        try:
            # The initial password is random and not kept: the customer sets theirs
            # through Virtualmin's password reset (or a welcome mail from another plugin).
            client.create_domain(domain, password=secrets.token_urlsafe(18), description=marker,
                                 plan=ticket.params.get("plan", ""),
                                 template=ticket.params.get("template", ""),
                                 username=ticket.username)
        except VirtualminCommandFailed as failed:
            if "already hosting" not in failed.error.lower():
                raise
            # A timeout after the server created it, or a retry: ours if it carries our marker.
            owner = _described_as(client, domain)
            if owner != marker:
                raise VirtualminCommandFailed(
                    "create-domain", f"{domain} already exists on the server and is not ours "
                    f"(description {owner!r})") from None
    elif ticket.kind == ActionKind.DISABLE:
        try:
            client.disable_domain(domain, why=ticket.params.get("why", "suspended in billing"))
        except VirtualminCommandFailed as failed:
            if "already disabled" not in failed.error.lower():
                raise
    elif ticket.kind == ActionKind.ENABLE:
        try:
            client.enable_domain(domain)
        except VirtualminCommandFailed as failed:
            if "not disabled" not in failed.error.lower():
                raise
    elif ticket.kind == ActionKind.DELETE:
        owner = _described_as(client, domain)
        if owner is None:
            return
        if owner != marker:
            raise VirtualminCommandFailed(
                "delete-domain", f"refusing to delete {domain}: its description is {owner!r}, "
                f"not {marker!r}")
        try:
            client.delete_domain(domain)
        except VirtualminCommandFailed as failed:
            if "does not exist" not in failed.error.lower():
                raise


def _described_as(client: VirtualminClient, domain: str) -> str | None:
    """The server's description of ``domain``, or None when the server does not have it."""
    try:
        found = [d for d in client.list_domains(domain) if d.name == domain]
    except VirtualminCommandFailed as failed:
        if "does not exist" in failed.error.lower():
            return None
        raise
    return found[0].description if found else None


def finish_attempt(session: Session, ticket: Ticket, outcome: Outcome, *,
                   settings: VirtualminSettings, now: datetime | None = None) -> list[int]:
    """Record the outcome; returns the account's next actions that are due now."""
    moment = resolve_now(now)
    action = session.execute(
        select(VirtualminAction).where(VirtualminAction.id == ticket.action_id).with_for_update()
    ).scalar_one()
    attempt = session.get(VirtualminAttempt, ticket.attempt_id)
    assert attempt is not None
    attempt.finished_at = moment
    attempt.http_status = outcome.http_status
    attempt.error = outcome.error
    action.updated_at = moment
    if outcome.ok:
        attempt.outcome = "succeeded"
        action.status = ActionStatus.SUCCEEDED
        action.completed_at = moment
        action.last_error = None
        action.next_attempt_at = None
        if action.account_id:
            account = session.get(VirtualminAccount, action.account_id)
            if account is not None:
                account.confirmed_state = CONFIRMED[ActionKind(action.kind)]
                account.updated_at = moment
        if action.kind in (ActionKind.DISABLE, ActionKind.ENABLE):
            # A failed disable followed by a successful enable (or the reverse) is moot now.
            session.execute(
                update(VirtualminAction).where(
                    VirtualminAction.subscription_id == action.subscription_id,
                    VirtualminAction.id < action.id,
                    VirtualminAction.status == ActionStatus.FAILED,
                    VirtualminAction.kind.in_([ActionKind.DISABLE, ActionKind.ENABLE]),
                ).values(status=ActionStatus.SUPERSEDED, updated_at=moment)
            )
    elif outcome.retryable and action.attempts < settings.max_attempts:
        attempt.outcome = "retry"
        action.status = ActionStatus.PENDING
        action.last_error = outcome.error
        action.next_attempt_at = moment + backoff(settings, action.attempts)
    else:
        attempt.outcome = "failed"
        action.status = ActionStatus.FAILED
        action.last_error = outcome.error
        action.next_attempt_at = None
        logger.warning("Virtualmin action %s (%s %s) failed: %s", action.id, action.kind,
                       action.domain, outcome.error)
    session.flush()
    if action.status == ActionStatus.PENDING:
        return []
    return list(session.execute(
        select(VirtualminAction.id).where(
            VirtualminAction.subscription_id == action.subscription_id,
            VirtualminAction.id > action.id,
            VirtualminAction.status == ActionStatus.PENDING,
            or_(VirtualminAction.next_attempt_at.is_(None),
                VirtualminAction.next_attempt_at <= moment),
        ).order_by(VirtualminAction.id)
    ).scalars())


def run_action(database: Any, action_id: int, *, settings: VirtualminSettings,
               now: datetime | None = None) -> list[int]:
    """One attempt of one action, in two short transactions around the call.

    Returns the ids of the account's actions that became runnable (the caller runs them).
    """
    with database.transaction() as session:
        ticket = begin_attempt(session, action_id, now=now)
    if ticket is None:
        return []
    outcome = perform(ticket, settings)
    with database.transaction() as session:
        return finish_attempt(session, ticket, outcome, settings=settings, now=now)


def run_actions(database: Any, ids: list[int], *, settings: VirtualminSettings,
                now: datetime | None = None) -> int:
    """Run these actions (and the ones each unblocks); returns how many attempts were made."""
    queue, done = list(ids), set()
    while queue:
        action_id = queue.pop(0)
        if action_id in done:
            continue
        done.add(action_id)
        queue.extend(run_action(database, action_id, settings=settings, now=now))
    return len(done)


def due_action_ids(session: Session, *, settings: VirtualminSettings,
                   now: datetime | None = None, limit: int = 200) -> list[int]:
    """Pending actions whose time has come; RUNNING ones of a dead worker become pending."""
    moment = resolve_now(now)
    stale_before = moment - timedelta(seconds=settings.stale_running_seconds)
    session.execute(
        update(VirtualminAction).where(
            VirtualminAction.status == ActionStatus.RUNNING,
            VirtualminAction.started_at < stale_before,
        ).values(status=ActionStatus.PENDING, next_attempt_at=moment, updated_at=moment)
    )
    return list(session.execute(
        select(VirtualminAction.id).where(
            VirtualminAction.status == ActionStatus.PENDING,
            or_(VirtualminAction.next_attempt_at.is_(None),
                VirtualminAction.next_attempt_at <= moment),
        ).order_by(VirtualminAction.id).limit(limit)
    ).scalars())


def run_due(database: Any, *, settings: VirtualminSettings, now: datetime | None = None) -> int:
    """The sweeper: retries whose backoff ended, deletions whose grace ended, stale claims."""
    with database.transaction() as session:
        ids = due_action_ids(session, settings=settings, now=now)
    return run_actions(database, ids, settings=settings, now=now) if ids else 0
