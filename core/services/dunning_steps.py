"""The steps of one dunning case on one day: close, remind or retry, past due, suspend, end.

:func:`chase_case` is what a collection run does for each open case (in whichever worker
holds the case's chunk): the retry first (outside any savepoint: the payment layer
commits the attempt before it calls the gateway), then :func:`process_case` in a
savepoint. Every step is recorded once per case and key, and the case row is locked
while it is worked on, so the same case chased twice on the same day, by a rerun or
by two workers at once, takes each step once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from praho.core.clock import business_date
from praho.core.errors import PrahoError
from praho.core.models.collections import (
    ActionKind,
    ActionOutcome,
    CollectionRun,
    DunningCase,
    DunningCaseStatus,
    DunningPolicy,
)
from praho.core.models.invoices import Invoice
from praho.core.models.subscriptions import Subscription, SubscriptionStatus, SuspensionReason
from praho.core.services.audit import Actor
from praho.core.services.dunning import (
    close_case,
    due_date_reached,
    email,
    is_settled,
    record_action,
    schedule_next_step,
    step_done,
    why_not_suspend,
)
from praho.core.services.dunning_retries import take_retry
from praho.core.services.subscriptions import (
    mark_past_due,
    suspend_subscription,
    terminate_subscription,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

S = SubscriptionStatus
C = DunningCaseStatus


def chase_case(
    session: Session, case_id: int, *, now: datetime, run: CollectionRun,
    actor: Actor | None = None,
) -> list[dict[str, Any]]:
    """Today's retry and steps of one case; returns the failures (the others go on)."""
    failures: list[dict[str, Any]] = []
    try:
        # Not in a savepoint: the payment layer commits the attempt before the charge.
        take_retry(session, case_id, now=now, run=run, actor=actor)
    except PrahoError as error:
        failures.append({"case": case_id, "step": "retry", "reason": error.message})
    try:
        with session.begin_nested():
            process_case(session, case_id, now=now, run=run, actor=actor)
    except PrahoError as error:
        case = session.get(DunningCase, case_id)
        assert case is not None
        key = f"error:{run.id}"
        # Once per run: a redelivered chunk meets the same error again.
        if not step_done(session, case, key):
            record_action(session, case, key, ActionKind.STOPPED, ActionOutcome.FAILED,
                          now=now, run=run, reason=error.message)
        failures.append({"case": case_id, "invoice_id": case.invoice_id, "step": "process",
                         "reason": error.message})
    return failures


def process_case(
    session: Session, case_id: int, *, now: datetime, run: CollectionRun,
    actor: Actor | None = None,
) -> None:
    """Take the due steps of one case: close, step (retry or remind), past due, suspend, end."""
    case = session.execute(
        select(DunningCase).where(DunningCase.id == case_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    invoice = session.get(Invoice, case.invoice_id)
    assert invoice is not None
    policy = session.get(DunningPolicy, case.policy_id)
    assert policy is not None
    if is_settled(invoice):
        close_case(session, case, invoice, now=now, run=run, actor=actor)
        return
    today = business_date(now)
    take_scheduled_step(session, case, invoice, policy, now=now, run=run)
    subscription = session.get(Subscription, case.subscription_id) if case.subscription_id else None
    if invoice.due_date is not None and today > invoice.due_date:
        _past_due(session, case, invoice, subscription, now=now, run=run, actor=actor)
    if case.suspended_at is None and due_date_reached(invoice, policy.suspend_after_days, today):
        _suspend(session, case, invoice, policy, subscription, now=now, run=run, actor=actor)
    if (case.suspended_at is not None and case.terminated_at is None
            and due_date_reached(invoice, policy.terminate_after_days, today)):
        _terminate(session, case, invoice, policy, subscription, now=now, run=run, actor=actor)


def take_scheduled_step(
    session: Session, case: DunningCase, invoice: Invoice, policy: DunningPolicy, *,
    now: datetime, run: CollectionRun,
) -> None:
    """The step that falls today: retry the charge where that can help, else a reminder."""
    today = business_date(now)
    if case.next_step_on is None or case.next_step_on > today:
        return
    number = case.steps_done + 1
    case.steps_done = number
    case.updated_at = now
    email(session, policy, case, invoice, "reminder", f"email:step:{number}", now=now, run=run)
    schedule_next_step(case, policy)
    if case.next_step_on is None and case.status == C.OPEN:
        case.status = C.EXHAUSTED
    session.flush()


def _past_due(
    session: Session, case: DunningCase, invoice: Invoice, subscription: Subscription | None, *,
    now: datetime, run: CollectionRun, actor: Actor | None,
) -> None:
    if subscription is None or subscription.status != S.ACTIVE or step_done(session, case,
                                                                            "past_due"):
        return
    why_not = why_not_suspend(session, subscription, invoice)
    if why_not is not None:
        return
    mark_past_due(session, subscription, reason=f"invoice {invoice.full_number} is overdue",
                  actor=actor, now=now)
    record_action(session, case, "past_due", ActionKind.PAST_DUE, ActionOutcome.SUCCEEDED,
                  now=now, run=run, subscription_id=subscription.id,
                  reason="marked past due; suspension follows the policy")


def _suspend(
    session: Session, case: DunningCase, invoice: Invoice, policy: DunningPolicy,
    subscription: Subscription | None, *, now: datetime, run: CollectionRun,
    actor: Actor | None,
) -> None:
    today = business_date(now)
    why_not = why_not_suspend(session, subscription, invoice)
    if subscription is not None and subscription.status == S.SUSPENDED:
        why_not = None if subscription.suspension_reason == SuspensionReason.NON_PAYMENT else (
            f"subscription {subscription.id} is already suspended "
            f"({subscription.suspension_reason})")
        if why_not is None:
            case.suspended_at = now  # suspended by another case of the same subscription
            return
    if why_not is not None:
        key = f"suspend-skipped:{today.isoformat()}"
        if not step_done(session, case, key):
            record_action(session, case, key, ActionKind.SUSPEND, ActionOutcome.SKIPPED, now=now,
                          run=run, reason=why_not,
                          subscription_id=subscription.id if subscription else None)
        return
    assert subscription is not None
    suspend_subscription(session, subscription, reason=SuspensionReason.NON_PAYMENT,
                         note=f"invoice {invoice.full_number} unpaid "
                              f"{(today - invoice.due_date).days} days after its due date",
                         actor=actor, now=now)
    case.suspended_at = now
    case.updated_at = now
    record_action(session, case, "suspended", ActionKind.SUSPEND, ActionOutcome.SUCCEEDED, now=now,
                  run=run, subscription_id=subscription.id,
                  reason=f"{policy.suspend_after_days} days overdue ({policy.code})")
    email(session, policy, case, invoice, "suspended", "email:suspended", now=now, run=run)


def _terminate(
    session: Session, case: DunningCase, invoice: Invoice, policy: DunningPolicy,
    subscription: Subscription | None, *, now: datetime, run: CollectionRun,
    actor: Actor | None,
) -> None:
    if subscription is None or subscription.is_final:
        case.terminated_at = now
        case.status = C.TERMINATED
        return
    if subscription.status != S.SUSPENDED or subscription.suspension_reason != (
            SuspensionReason.NON_PAYMENT):
        return
    terminate_subscription(session, subscription,
                           reason=f"non-payment of {invoice.full_number}", actor=actor, now=now)
    case.terminated_at = now
    case.status = C.TERMINATED
    case.next_step_on = None
    case.updated_at = now
    record_action(session, case, "terminated", ActionKind.TERMINATE, ActionOutcome.SUCCEEDED,
                  now=now, run=run, subscription_id=subscription.id,
                  reason=f"{policy.terminate_after_days} days overdue ({policy.code})")
    email(session, policy, case, invoice, "terminated", "email:terminated", now=now, run=run)
