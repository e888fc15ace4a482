"""The subscription state machine: one transition table, one place that moves status.

Every move goes through :func:`transition`, which checks
:data:`praho.core.models.subscriptions.SUBSCRIPTION_TRANSITIONS`, writes the history
row, records the audit event and fires the matching hook. A refused move raises
:class:`InvalidTransition` before anything is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from praho.core.errors import InvalidTransition, NotFound
from praho.core.models.subscriptions import (
    SUBSCRIPTION_TRANSITIONS,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)
from praho.core.plugins import get_registry
from praho.core.services.audit import Actor, record_audit
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload


def get_subscription(session: Session, subscription_id: int, *, lock: bool = False) -> Subscription:
    """Load a subscription with its items; ``lock`` takes its row lock (SELECT ... FOR UPDATE).

    Services that change a subscription lock it first, so an admin change and a billing
    worker never interleave on the same row.
    """
    query = (
        select(Subscription)
        .where(Subscription.id == subscription_id)
        .options(selectinload(Subscription.items))
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    subscription = session.execute(query).scalar_one_or_none()
    if subscription is None:
        raise NotFound(f"no subscription {subscription_id}")
    return subscription


def lock_subscription(session: Session, subscription: Subscription) -> Subscription:
    """Take the row lock of a loaded subscription and refresh it from the database."""
    return get_subscription(session, subscription.id, lock=True)


def check_transition(subscription: Subscription, to_status: SubscriptionStatus) -> None:
    """Raise :class:`InvalidTransition` unless the table allows the move."""
    current = SubscriptionStatus(subscription.status)
    if to_status not in SUBSCRIPTION_TRANSITIONS[current]:
        allowed = ", ".join(sorted(SUBSCRIPTION_TRANSITIONS[current])) or "nothing (final status)"
        raise InvalidTransition(
            f"subscription {subscription.id} is {current}; it cannot become {to_status} "
            f"(allowed from {current}: {allowed})"
        )


def record_event(
    session: Session,
    subscription: Subscription,
    event: str,
    *,
    now: datetime,
    actor: Actor | None = None,
    reason: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    data: dict[str, Any] | None = None,
) -> SubscriptionEvent:
    """Append one history row (transitions and changes alike)."""
    row = SubscriptionEvent(
        subscription_id=subscription.id,
        occurred_at=now,
        event=event,
        from_status=from_status,
        to_status=to_status,
        reason=reason[:300] if reason else None,
        actor=str(actor) if actor else None,
        data=data or {},
    )
    session.add(row)
    return row


def transition(
    session: Session,
    subscription: Subscription,
    to_status: SubscriptionStatus,
    *,
    event: str,
    now: datetime,
    actor: Actor | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> SubscriptionEvent:
    """Move a subscription to ``to_status``: check, write history, audit. Hooks are the caller's.

    The caller fires the hook because only it knows the hook's arguments (a reason, a
    document, whether the cancellation waits for the period end).
    """
    check_transition(subscription, to_status)
    from_status = str(subscription.status)
    subscription.status = to_status
    subscription.updated_at = now
    row = record_event(
        session,
        subscription,
        event,
        now=now,
        actor=actor,
        reason=reason,
        from_status=from_status,
        to_status=str(to_status),
        data=data,
    )
    record_audit(
        session,
        actor=actor,
        action=f"subscription.{event}",
        object_type="subscription",
        object_id=subscription.id,
        now=now,
        data={"from": from_status, "to": str(to_status), "reason": reason, **(data or {})},
    )
    session.flush()
    return row


def hooks() -> Any:
    """The hook relay of the current application."""
    return get_registry().hook


def has_implementations(hook_name: str) -> bool:
    """True when at least one loaded plugin implements ``hook_name``.

    The billing run uses this to skip work (loading documents for ``invoice_issued``,
    savepoints around hooks that may write) that no plugin would observe.
    """
    caller = getattr(get_registry().hook, hook_name)
    return bool(caller.get_hookimpls())
