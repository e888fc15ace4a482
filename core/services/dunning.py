"""Dunning cases: open one per unpaid invoice, take its steps, close it when paid.

A case opens when a charge fails (``payment_failed``) or when a collection run finds an
invoice past its due date. Its policy (see :mod:`praho.core.services.dunning_policies`)
schedules steps on the day of the first failure plus each interval: a step retries the
charge (a new payment attempt with its own key) while retrying can help, and otherwise
e-mails a reminder. Independently of the steps, the subscription the invoice belongs to
is marked past due once the invoice is overdue, suspended after ``suspend_after_days``
and terminated after ``terminate_after_days`` (counted from the due date) - unless the
subscription's current period is covered by another invoice that is paid: a prepaid
period is never suspended because of another unpaid invoice.

Every step is a :class:`CollectionAction` with a per-case ``step_key`` (unique), so a
step is taken once however many runs repeat it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from praho.core.clock import business_date
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
from praho.core.models.invoices import DocumentStatus, Invoice
from praho.core.models.subscriptions import (
    Subscription,
    SubscriptionPeriod,
    SubscriptionStatus,
    SuspensionReason,
)
from praho.core.services.audit import Actor, record_audit
from praho.core.services.dunning_mail import send_dunning_email
from praho.core.services.dunning_policies import policy_for
from praho.core.services.invoicing import converted_invoice
from sqlalchemy import select
from sqlalchemy.orm import Session

S = SubscriptionStatus
C = DunningCaseStatus


def find_case(session: Session, invoice_id: int, *, lock: bool = False) -> DunningCase | None:
    """The case of an invoice, if one was opened (``lock`` takes its row lock)."""
    query = select(DunningCase).where(DunningCase.invoice_id == invoice_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def round_key(case: DunningCase, step_key: str) -> str:
    """A step's key within the case's current round (round 1 keeps the plain key)."""
    return step_key if (case.round or 1) == 1 else f"{step_key}@{case.round}"


def step_done(session: Session, case: DunningCase, step_key: str) -> bool:
    """True when the case already took this step in its current round."""
    return session.execute(
        select(CollectionAction.id).where(
            CollectionAction.case_id == case.id,
            CollectionAction.step_key == round_key(case, step_key),
        )
    ).first() is not None


def record_action(
    session: Session, case: DunningCase, step_key: str, kind: ActionKind, outcome: ActionOutcome,
    *, now: datetime, run: CollectionRun | None = None, reason: str | None = None,
    **fields: Any,
) -> CollectionAction:
    """Write one step of a case (the unique step key refuses a second one)."""
    action = CollectionAction(
        case_id=case.id, run_id=run.id if run else None, invoice_id=case.invoice_id,
        step_key=round_key(case, step_key), kind=kind, outcome=outcome,
        reason=reason[:300] if reason else None,
        occurred_at=now, **fields,
    )
    session.add(action)
    session.flush()
    return action


def schedule_next_step(case: DunningCase, policy: DunningPolicy) -> None:
    """Set the day of the next step from the first failure and the policy's intervals."""
    intervals = policy.retry_intervals_days
    if case.steps_done < len(intervals):
        case.next_step_on = business_date(case.first_failure_at) + timedelta(
            days=intervals[case.steps_done])
    else:
        case.next_step_on = None


def open_case(
    session: Session,
    invoice: Invoice,
    *,
    reason: str,
    now: datetime,
    hard_decline: bool = False,
    error: str | None = None,
    run: CollectionRun | None = None,
    actor: Actor | None = None,
) -> DunningCase:
    """Open the invoice's case (or return the open one) and tell the customer.

    A hard decline (expired card, no method on file) opens it as ``action_required``:
    no automatic retries, the customer is asked to act.
    """
    case = find_case(session, invoice.id, lock=True)
    if case is not None and case.status in OPEN_CASE_STATUSES:
        if hard_decline and case.status == C.OPEN:
            stop_retries(session, case, invoice, error=error, now=now, run=run)
        return case
    policy = policy_for(session, invoice)
    if case is None:
        case = DunningCase(invoice_id=invoice.id, customer_id=invoice.customer_id,
                           subscription_id=invoice.subscription_id, created_at=now, round=1)
        session.add(case)
    else:
        # Settled, then unpaid again (a payment reversed): a fresh round of dunning.
        case.round = (case.round or 1) + 1
    case.policy_id = policy.id
    case.status = C.OPEN
    case.first_failure_at = now
    case.opened_because = reason[:300]
    case.steps_done = case.retries_made = 0
    case.last_error = error[:300] if error else None
    case.suspended_at = case.terminated_at = case.closed_at = None
    case.updated_at = now
    schedule_next_step(case, policy)
    session.flush()
    record_action(session, case, "opened", ActionKind.OPENED, ActionOutcome.SUCCEEDED,
                  now=now, run=run, reason=reason)
    record_audit(session, actor=actor, action="dunning.opened", object_type="invoice",
                 object_id=invoice.full_number, amount_minor=invoice.balance_due_minor,
                 currency=invoice.currency, now=now,
                 data={"policy": policy.code, "reason": reason, "error": error})
    if hard_decline:
        stop_retries(session, case, invoice, error=error, now=now, run=run)
    else:
        step = "payment_failed" if error else "reminder"
        email(session, policy, case, invoice, step, "email:opened", now=now, run=run)
    return case


def stop_retries(
    session: Session, case: DunningCase, invoice: Invoice, *, error: str | None, now: datetime,
    run: CollectionRun | None = None,
) -> None:
    """A hard decline: no more automatic retries; ask the customer to act (once)."""
    case.status = C.ACTION_REQUIRED
    case.last_error = error[:300] if error else case.last_error
    case.updated_at = now
    record_action(session, case, f"stopped:{case.retries_made}", ActionKind.STOPPED,
                  ActionOutcome.SUCCEEDED, now=now, run=run,
                  reason=f"hard decline: {error or 'retrying cannot succeed'}")
    policy = session.get(DunningPolicy, case.policy_id)
    assert policy is not None
    email(session, policy, case, invoice, "action_required", "email:action_required", now=now,
          run=run)


def email(
    session: Session, policy: DunningPolicy, case: DunningCase, invoice: Invoice, step: str,
    step_key: str, *, now: datetime, run: CollectionRun | None = None,
    extra: dict[str, Any] | None = None,
) -> CollectionAction | None:
    """Send one dunning e-mail for the case (once per step key), when the policy says so."""
    if step_done(session, case, step_key):
        return None
    today = business_date(now)
    if not policy.send_emails:
        return record_action(session, case, step_key, ActionKind.EMAIL, ActionOutcome.SKIPPED,
                             now=now, run=run, reason=f"policy {policy.code} sends no e-mail")
    dates = dict(extra or {})
    if invoice.due_date and policy.suspend_after_days is not None:
        dates.setdefault("suspend_on", invoice.due_date + timedelta(days=policy.suspend_after_days))
    if invoice.due_date and policy.terminate_after_days is not None:
        dates.setdefault("terminate_on",
                         invoice.due_date + timedelta(days=policy.terminate_after_days))
    dates.setdefault("next_attempt", case.next_step_on if case.status == C.OPEN else None)
    message = send_dunning_email(session, policy, case, invoice, step,
                                 step_key=round_key(case, step_key), now=now,
                                 today=today, extra=dates)
    return record_action(session, case, step_key, ActionKind.EMAIL, ActionOutcome.SUCCEEDED,
                         now=now, run=run, reason=f"{policy.template_set}_{step}",
                         email_message_id=message.id)


# --- suspension, termination, reactivation -------------------------------------------


def paid_current_period(
    session: Session, subscription: Subscription, invoice: Invoice
) -> Invoice | None:
    """The paid invoice of the subscription's current period, when it is not ``invoice``."""
    period = session.execute(
        select(SubscriptionPeriod).where(
            SubscriptionPeriod.subscription_id == subscription.id,
            SubscriptionPeriod.period_start == subscription.current_period_start,
        )
    ).scalar_one_or_none()
    if period is None or period.invoice_id is None or period.invoice_id == invoice.id:
        return None
    document = session.get(Invoice, period.invoice_id)
    if document is None:
        return None
    document = converted_invoice(session, document) or document
    return document if document.balance_due_minor == 0 and document.id != invoice.id else None


def why_not_suspend(
    session: Session, subscription: Subscription | None, invoice: Invoice
) -> str | None:
    """The reason the invoice's subscription must not be suspended now, or None."""
    if subscription is None:
        return "the invoice belongs to no subscription; nothing to suspend"
    if subscription.status not in (S.TRIALING, S.ACTIVE, S.PAST_DUE):
        return f"subscription {subscription.id} is {subscription.status}"
    paid = paid_current_period(session, subscription, invoice)
    if paid is not None:
        return (f"the current period {subscription.current_period_start}.."
                f"{subscription.current_period_end} is prepaid by {paid.full_number}")
    return None


def other_cases_hold(session: Session, case: DunningCase, today: date) -> bool:
    """True when another open case of the same subscription is overdue (it keeps the hold)."""
    if case.subscription_id is None:
        return False
    others = session.execute(
        select(DunningCase).where(
            DunningCase.subscription_id == case.subscription_id,
            DunningCase.id != case.id,
            DunningCase.status.in_(OPEN_CASE_STATUSES),
        )
    ).scalars().all()
    for other in others:
        invoice = session.get(Invoice, other.invoice_id)
        if (invoice is not None and invoice.balance_due_minor > 0
                and invoice.due_date is not None and invoice.due_date < today):
            return True
    return False


def close_case(
    session: Session,
    case: DunningCase,
    invoice: Invoice,
    *,
    now: datetime,
    run: CollectionRun | None = None,
    actor: Actor | None = None,
) -> None:
    """The invoice is settled (paid, credited, voided, converted): close the case and lift
    what non-payment caused."""
    from praho.core.services.subscriptions import reactivate_after_payment

    if case.status not in OPEN_CASE_STATUSES:
        return
    why = settled_because(session, invoice)
    case.status = C.PAID if why == "paid" else C.CLOSED
    case.closed_at = now
    case.next_step_on = None
    case.updated_at = now
    stamp = int(now.timestamp())
    record_action(session, case, f"closed:{stamp}", ActionKind.CLOSED, ActionOutcome.SUCCEEDED,
                  now=now, run=run, reason=why)
    record_audit(session, actor=actor, action="dunning.closed", object_type="invoice",
                 object_id=invoice.full_number, now=now, data={"status": str(case.status)})
    subscription = session.get(Subscription, case.subscription_id) if case.subscription_id else None
    if subscription is None or other_cases_hold(session, case, business_date(now)):
        return
    held = subscription.status == S.PAST_DUE or (
        subscription.status == S.SUSPENDED
        and subscription.suspension_reason == SuspensionReason.NON_PAYMENT
    )
    if held and reactivate_after_payment(session, subscription, actor=actor, now=now):
        record_action(session, case, f"reactivated:{stamp}", ActionKind.REACTIVATE,
                      ActionOutcome.SUCCEEDED, now=now, run=run, subscription_id=subscription.id,
                      reason="the overdue invoice was settled")


def settled_because(session: Session, invoice: Invoice) -> str:
    """Why nothing is chased on the document any more (``paid`` when it was paid)."""
    if invoice.status == DocumentStatus.VOID:
        return "voided"
    if invoice.converted_to_id is not None:
        fiscal = session.get(Invoice, invoice.converted_to_id)
        return f"converted to invoice {fiscal.full_number if fiscal else invoice.converted_to_id}"
    if invoice.amount_paid_minor == 0 and invoice.credited_minor > 0:
        return "nothing left to pay (credited)"
    return "paid"


def is_settled(invoice: Invoice) -> bool:
    """True when nothing is to be chased on the document."""
    return (invoice.status != DocumentStatus.ISSUED or invoice.converted_to_id is not None
            or invoice.balance_due_minor == 0)


def settle_invoice(
    session: Session, invoice: Invoice, *, now: datetime, actor: Actor | None = None
) -> bool:
    """Called when an invoice was paid (``invoice_paid``): close its case, and the case of
    the proforma it was converted from (that case chased the same money). True if one
    closed."""
    if invoice.balance_due_minor > 0:
        return False
    closed = False
    for document_id in (invoice.id, invoice.converted_from_id):
        if document_id is None:
            continue
        case = find_case(session, document_id, lock=True)
        document = session.get(Invoice, document_id)
        if case is not None and document is not None and case.status in OPEN_CASE_STATUSES:
            close_case(session, case, document, now=now, actor=actor)
            closed = True
    return closed


def due_date_reached(invoice: Invoice, days: int | None, today: date) -> bool:
    """True when ``days`` after the due date have passed (None: never)."""
    return days is not None and invoice.due_date is not None and (
        today >= invoice.due_date + timedelta(days=days))
