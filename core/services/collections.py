"""Collection runs: use waiting credit, open cases for overdue invoices, take their steps.

``run_collections(session, now=...)`` is what the nightly beat task, ``praho
collections run --date`` and the time simulation call. First the customers' waiting
credit pays their unpaid invoices; then cases open for invoices past their due date;
then every open case takes its due steps. Each case is handled inside its own
savepoint, so one case that fails (a refused transition, a template error) is recorded
with its reason and the others go on. Retries are the exception: the payment layer
commits the attempt before calling the gateway, so the caller's transaction is
committed at each retry (everything before it is complete and consistent). The run row
keeps the counts of what was tried, what succeeded and what failed, and every step is
a :class:`CollectionAction` with the run's id.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from praho.core.clock import business_date, resolve_now
from praho.core.errors import PrahoError
from praho.core.models.collections import (
    OPEN_CASE_STATUSES,
    ActionKind,
    ActionOutcome,
    CollectionAction,
    CollectionRun,
    DunningCase,
    DunningCaseStatus,
    DunningPolicy,
)
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice, PaymentStatus
from praho.core.models.subscriptions import Subscription, SubscriptionStatus, SuspensionReason
from praho.core.services.audit import Actor, record_audit
from praho.core.services.customer_credit import apply_waiting_credit
from praho.core.services.dunning import (
    close_case,
    due_date_reached,
    email,
    is_settled,
    open_case,
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
UNPAID = (PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_PAID)


def overdue_without_case(session: Session, today: date) -> list[Invoice]:
    """Issued invoices and proformas past their due date, unpaid, with no case yet."""
    return list(session.execute(
        select(Invoice)
        .outerjoin(DunningCase, DunningCase.invoice_id == Invoice.id)
        .where(
            Invoice.kind.in_([DocumentKind.INVOICE, DocumentKind.PROFORMA]),
            Invoice.status == DocumentStatus.ISSUED,
            Invoice.payment_status.in_(UNPAID),
            Invoice.converted_to_id.is_(None),
            Invoice.payable_minor > 0,
            Invoice.due_date < today,
            DunningCase.id.is_(None),
        )
        .order_by(Invoice.due_date, Invoice.id)
    ).scalars())


def run_collections(
    session: Session, *, now: datetime | None = None, actor: Actor | None = None
) -> CollectionRun:
    """Chase every unpaid invoice as of ``now``; returns the run with its summary."""
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
    for invoice in overdue_without_case(session, today):
        try:
            with session.begin_nested():
                open_case(session, invoice, reason=f"overdue since {invoice.due_date}",
                          now=moment, run=run, actor=actor)
        except PrahoError as error:
            failures.append({"invoice": invoice.full_number, "step": "open",
                             "reason": error.message})
    case_ids = list(session.execute(
        select(DunningCase.id).where(DunningCase.status.in_(OPEN_CASE_STATUSES))
        .order_by(DunningCase.id)
    ).scalars())
    for case_id in case_ids:
        try:
            # Not in a savepoint: the payment layer commits the attempt before the charge.
            take_retry(session, case_id, now=moment, run=run, actor=actor)
        except PrahoError as error:
            failures.append({"case": case_id, "step": "retry", "reason": error.message})
        try:
            with session.begin_nested():
                process_case(session, case_id, now=moment, run=run, actor=actor)
        except PrahoError as error:
            case = session.get(DunningCase, case_id)
            assert case is not None
            record_action(session, case, f"error:{run.id}", ActionKind.STOPPED,
                          ActionOutcome.FAILED, now=moment, run=run, reason=error.message)
            failures.append({"case": case_id, "invoice_id": case.invoice_id, "step": "process",
                             "reason": error.message})
    run.summary = summarize(session, run, failures)
    if credit_used:
        run.summary["credit_applied"] = {str(i.full_number): amount for i, amount in credit_used}
    run.finished_at = moment
    session.flush()
    record_audit(session, actor=actor, action="collections.run", object_type="collection_run",
                 object_id=run.id, now=moment, data=run.summary)
    return run


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
