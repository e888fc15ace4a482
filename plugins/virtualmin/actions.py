"""Recording provisioning actions from subscription events, and the back office's services.

The hooks call :func:`record_provisioning` inside the billing transaction. It only writes
rows (an account, one or two actions with an idempotency key per subscription, action
and cause) and asks for a Celery task after the transaction commits: billing never waits
for a server and never fails because of one. The HTTP work is in
:mod:`praho.plugins.virtualmin.runner`.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from praho.core.clock import resolve_now
from praho.core.errors import InvalidTransition, NotFound
from praho.core.models.catalog import Price, Product
from praho.core.models.subscriptions import (
    ItemRole,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)
from praho.core.services.audit import Actor, record_audit
from praho.plugins.virtualmin.models import (
    AccountState,
    ActionKind,
    ActionStatus,
    VirtualminAccount,
    VirtualminAction,
)
from praho.plugins.virtualmin.settings import PlanMapping, VirtualminSettings, current_settings
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

logger = logging.getLogger("praho.virtualmin")
QUEUED_KEY = "praho.virtualmin.queued"
DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Which subscription event leads to which actions and to what state billing wants.
EVENT_PLAN: dict[str, tuple[tuple[ActionKind, ...], AccountState]] = {
    "activated": ((ActionKind.CREATE,), AccountState.ENABLED),
    "suspended": ((ActionKind.DISABLE,), AccountState.DISABLED),
    "reactivated": ((ActionKind.ENABLE,), AccountState.ENABLED),
    "terminated": ((ActionKind.DISABLE, ActionKind.DELETE), AccountState.DELETED),
    "cancelled": ((ActionKind.DISABLE, ActionKind.DELETE), AccountState.DELETED),
}


def ownership_marker(subscription_id: int) -> str:
    """The description we give a virtual server; deleting requires it (never delete others')."""
    return f"PRAHO subscription {subscription_id}"


def plan_for(session: Session, subscription: Subscription,
             settings: VirtualminSettings) -> PlanMapping | None:
    """The Virtualmin plan of the subscription's plan item (price code first, then product)."""
    for item in subscription.active_items:
        if item.role != ItemRole.PLAN:
            continue
        row = session.execute(
            select(Price.code, Product.code).join(Product, Product.id == Price.product_id)
            .where(Price.id == item.price_id)
        ).one_or_none()
        if row is None:
            continue
        price_code, product_code = row
        mapping = settings.plans.get(price_code) or settings.plans.get(product_code)
        if mapping is not None:
            return mapping
    return None


def _cause(session: Session, subscription: Subscription, event_name: str) -> str:
    """What caused the event: the subscription history row, so a repeated hook is the same cause.

    Activation, termination and cancellation happen once in a subscription's life: the
    event's name is cause enough (a cancellation at period end is recorded in the history
    as ``cancellation_effective``, a cancellation now as ``cancelled``).
    """
    if event_name in ("activated", "terminated", "cancelled"):
        return event_name
    row_id = session.execute(
        select(SubscriptionEvent.id)
        .where(SubscriptionEvent.subscription_id == subscription.id,
               SubscriptionEvent.event == event_name)
        .order_by(SubscriptionEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    return f"{event_name}-{row_id}" if row_id is not None else event_name


def _account(session: Session, subscription: Subscription, settings: VirtualminSettings,
             mapping: PlanMapping, moment: datetime) -> tuple[VirtualminAccount | None, str | None]:
    """The subscription's account, created on first sight; or why it cannot be."""
    account = session.execute(
        select(VirtualminAccount).where(VirtualminAccount.subscription_id == subscription.id)
    ).scalar_one_or_none()
    if account is not None:
        return account, None
    attributes = subscription.attributes or {}
    domain = str(attributes.get("domain") or "").strip().lower().rstrip(".")
    server_name = str(attributes.get("virtualmin_server") or settings.default_server)
    if not DOMAIN_RE.match(domain):
        return None, f"subscription attribute 'domain' is missing or not a domain name: {domain!r}"
    if settings.server(server_name) is None:
        return None, f"subscription attribute 'virtualmin_server': no server named {server_name!r}"
    holder = session.execute(
        select(VirtualminAccount.subscription_id).where(
            VirtualminAccount.server == server_name, VirtualminAccount.domain == domain,
            VirtualminAccount.expected_state != AccountState.DELETED,
        ).limit(1)
    ).scalar_one_or_none()
    if holder is not None:
        return None, f"{domain} is already provisioned on {server_name} for subscription {holder}"
    account = VirtualminAccount(
        subscription_id=subscription.id, server=server_name, domain=domain,
        username=str(attributes.get("virtualmin_user") or "") or None,
        plan=mapping.plan, template=mapping.template or None,
        expected_state=AccountState.ENABLED, confirmed_state=AccountState.UNKNOWN,
        created_at=moment, updated_at=moment,
    )
    session.add(account)
    session.flush()
    return account, None


def record_provisioning(session: Session, subscription: Subscription, event_name: str, *,
                        settings: VirtualminSettings, now: datetime | None = None,
                        ) -> list[VirtualminAction]:
    """Record the actions a subscription event asks of its server (idempotent per cause).

    Returns the actions now on record for this event (the existing ones when the hook
    fired before). A subscription whose plan maps to no Virtualmin plan is not ours: it
    gets nothing. One that should be provisioned but cannot (no domain) gets a failed
    action, so the back office sees it.
    """
    if not settings.enabled or event_name not in EVENT_PLAN:
        return []
    mapping = plan_for(session, subscription, settings)
    if mapping is None:
        return []
    moment = resolve_now(now)
    kinds, wanted = EVENT_PLAN[event_name]
    if event_name != "activated" and not session.execute(
        select(VirtualminAccount.id).where(VirtualminAccount.subscription_id == subscription.id)
    ).first():
        # Never provisioned by us (a trial cancelled before it converted, or a subscription
        # from before the plugin): there is no account of ours to act on.
        return []
    cause = _cause(session, subscription, event_name)
    account, problem = _account(session, subscription, settings, mapping, moment)
    recorded = []
    for kind in kinds:
        key = f"virtualmin:{subscription.id}:{kind}:{cause}"
        existing = session.execute(
            select(VirtualminAction).where(VirtualminAction.idempotency_key == key)
        ).scalar_one_or_none()
        if existing is not None:
            recorded.append(existing)
            continue
        due = moment
        if kind == ActionKind.DELETE:
            due = moment + timedelta(days=settings.termination_grace_days)
        action = VirtualminAction(
            idempotency_key=key, subscription_id=subscription.id,
            account_id=account.id if account else None, kind=kind, cause=cause[:60],
            server=account.server if account else "", domain=account.domain if account else "",
            status=ActionStatus.FAILED if problem else ActionStatus.PENDING,
            attempts=0, next_attempt_at=due, created_at=moment,
            last_error=f"{problem}; fix the subscription, then retry this action"[:500]
            if problem else None,
            updated_at=moment,
            params={"plan": mapping.plan, "template": mapping.template,
                    "why": f"{event_name} in billing"},
        )
        try:
            with session.begin_nested():
                session.add(action)
                session.flush()
        except IntegrityError:
            # Another transaction recorded the same key first: theirs is the action.
            action = session.execute(
                select(VirtualminAction).where(VirtualminAction.idempotency_key == key)
            ).scalar_one()
        else:
            if problem is None and due <= moment:
                session.info.setdefault(QUEUED_KEY, []).append(action.id)
        recorded.append(action)
    if account is not None:
        account.expected_state = wanted
        account.updated_at = moment
    session.flush()
    return recorded


# --- the back office: failed actions and retries -----------------------------------------


def list_failed_actions(session: Session, *, limit: int = 200) -> list[VirtualminAction]:
    """Actions that stopped and wait for a person, oldest first."""
    return list(session.execute(
        select(VirtualminAction).where(VirtualminAction.status == ActionStatus.FAILED)
        .order_by(VirtualminAction.id).limit(limit)
    ).scalars())


def get_action(session: Session, action_id: int, *, lock: bool = False) -> VirtualminAction:
    """One action by id, or :class:`NotFound`."""
    query = select(VirtualminAction).where(VirtualminAction.id == action_id)
    if lock:
        # Read again under the lock: another click or worker may have just changed it.
        query = query.with_for_update().execution_options(populate_existing=True)
    action = session.execute(query).scalar_one_or_none()
    if action is None:
        raise NotFound(f"no Virtualmin action {action_id}")
    return action


def retry_action(session: Session, action_id: int, *, actor: Actor | None = None,
                 settings: VirtualminSettings | None = None,
                 now: datetime | None = None) -> VirtualminAction:
    """Put a failed action back in the queue with a fresh attempt budget; it runs after commit.

    A create action that failed before any account existed (no domain, a bad server, the
    domain held by another subscription) reads the subscription's current attributes
    again and records the account now: this retry is the only way such a subscription
    gets its hosting, because activation happens once and later events act only on an
    account that exists. ``settings`` default to the current application's.
    """
    moment = resolve_now(now)
    action = get_action(session, action_id, lock=True)
    if action.status != ActionStatus.FAILED:
        raise InvalidTransition(
            f"Virtualmin action {action_id} is {action.status}; only a failed action can be retried"
        )
    follow_up: list[VirtualminAction] = []
    if action.account_id is None:
        follow_up = _attach_account(session, action, settings or current_settings(), moment)
    action.status = ActionStatus.PENDING
    action.attempts = 0
    action.next_attempt_at = moment
    action.completed_at = None
    action.updated_at = moment
    record_audit(session, actor=actor, action="virtualmin.action_retried",
                 object_type="virtualmin_action", object_id=action.id, now=moment,
                 data={"kind": str(action.kind), "domain": action.domain,
                       "last_error": action.last_error})
    session.flush()
    # The create must be queued before the disable of a suspended subscription: run_actions
    # tries each id once, and a disable tried first would only find that it is not its turn.
    later = [a.id for a in follow_up]
    queued = [i for i in session.info.get(QUEUED_KEY, []) if i not in later]
    session.info[QUEUED_KEY] = [*queued, action.id, *later]
    return action


def _attach_account(session: Session, action: VirtualminAction, settings: VirtualminSettings,
                    moment: datetime) -> list[VirtualminAction]:
    """Give a failed create action the account it could not have when it was recorded.

    Reads the subscription's domain and server as they are now. Raises
    :class:`InvalidTransition` with what the operator must change when it still cannot.
    Returns the actions recorded to bring the new account in line with the subscription
    (a disable when it was suspended meanwhile: that suspension found no account to act on).
    """
    fix = ("set the subscription's attribute 'domain' (and 'virtualmin_server' for a server "
           "other than the default), then retry this action: the retry reads them again "
           "and creates the hosting account")
    if action.kind != ActionKind.CREATE:
        raise InvalidTransition(
            f"Virtualmin action {action.id} cannot run: it has no hosting account "
            f"({action.last_error})")
    subscription = session.get(Subscription, action.subscription_id)
    if subscription is None:
        raise NotFound(f"no subscription {action.subscription_id}")
    if subscription.status in (SubscriptionStatus.CANCELLED, SubscriptionStatus.TERMINATED):
        raise InvalidTransition(
            f"Virtualmin action {action.id}: subscription {subscription.id} is "
            f"{subscription.status}; a hosting account is not created for an ended subscription")
    if not settings.enabled:
        raise InvalidTransition(
            f"Virtualmin action {action.id} cannot run: no Virtualmin server is configured")
    mapping = plan_for(session, subscription, settings)
    if mapping is None:
        raise InvalidTransition(
            f"Virtualmin action {action.id}: the plan of subscription {subscription.id} "
            "maps to no Virtualmin plan any more; nothing to create")
    account, problem = _account(session, subscription, settings, mapping, moment)
    if account is None:
        raise InvalidTransition(f"Virtualmin action {action.id} cannot run: {problem}; {fix}")
    action.account_id = account.id
    action.server = account.server
    action.domain = account.domain
    action.params = {**(action.params or {}), "plan": mapping.plan,
                     "template": mapping.template}
    session.flush()
    if subscription.status == SubscriptionStatus.SUSPENDED:
        return record_provisioning(session, subscription, "suspended", settings=settings,
                                   now=moment)
    return []


# --- sending the tasks once the recording transaction committed ------------------------------


def _dispatch_after_commit(session: Session) -> None:
    ids = session.info.pop(QUEUED_KEY, [])
    if not ids:
        return
    if session.in_nested_transaction():
        session.info[QUEUED_KEY] = ids
        return
    try:
        from praho.plugins.virtualmin.tasks import run_actions

        run_actions.delay(ids)
    except Exception:
        # Billing has committed; a broker outage must not surface there. The periodic
        # run_due task picks these actions up.
        logger.exception("Virtualmin actions %s could not be sent to the workers", ids)


def _forget(session: Session, previous: Any) -> None:
    # Only the outermost rollback forgets: a savepoint rolled back around someone else's
    # work must not drop actions recorded before it (ids rolled back with a savepoint are
    # harmless, the task finds no pending action for them).
    if previous.parent is None:
        session.info.pop(QUEUED_KEY, None)


def install_dispatch() -> None:
    """Send the run task when a transaction that recorded actions commits (idempotent)."""
    if not event.contains(Session, "after_commit", _dispatch_after_commit):
        event.listen(Session, "after_commit", _dispatch_after_commit)
        event.listen(Session, "after_soft_rollback", _forget)
