"""Dunning retries: a scheduled step that charges the invoice again, as a new payment attempt.

Retry ``n`` of an invoice is charged with our own idempotency key
``dunning:<invoice id>:<n>`` (Stripe semantics in the payment layer) and recorded as
the case's step ``retry:<n>`` before the charge is sent: a run repeated after a crash
finds the step taken and the key claimed, and never charges twice. The payment layer
commits the attempt before calling the gateway (its rule), so a retry is never taken
inside a savepoint. Without a method on file a step is a reminder. A hard decline stops
the retries and asks the customer to act; a soft decline e-mails the customer with the
date of the next retry; a pending or unknown outcome waits for the payment layer. When
the customer saves a new default method, the next run tries the invoice once more,
whatever the schedule, the attempts used or an earlier hard decline.
"""

from __future__ import annotations

from datetime import datetime

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
from praho.core.models.invoices import DocumentKind, Invoice
from praho.core.models.payments import IN_FLIGHT, AttemptStatus, PaymentAttempt
from praho.core.services.audit import Actor
from praho.core.services.dunning import (
    email,
    record_action,
    schedule_next_step,
    stop_retries,
)
from praho.core.services.payments import charge_invoice, default_method
from sqlalchemy import select
from sqlalchemy.orm import Session

C = DunningCaseStatus


def scheduled_retry_due(
    case: DunningCase, invoice: Invoice, policy: DunningPolicy, now: datetime
) -> bool:
    """True when today's step of the case is a retry (not a reminder)."""
    return (
        case.status == C.OPEN
        and case.next_step_on is not None
        and case.next_step_on <= business_date(now)
        and case.retries_made < policy.max_attempts
        and invoice.kind == DocumentKind.INVOICE
        and invoice.balance_due_minor > 0
    )


def new_method_since_last_charge(session: Session, invoice: Invoice) -> bool:
    """True when the customer's default method is not the one the invoice was last charged
    on: the customer acted, so the invoice is tried once more whatever the schedule says."""
    method = default_method(session, invoice.customer_id)
    if method is None or invoice.kind != DocumentKind.INVOICE or invoice.balance_due_minor <= 0:
        return False
    last = session.execute(
        select(PaymentAttempt.method_id).where(PaymentAttempt.invoice_id == invoice.id)
        .order_by(PaymentAttempt.id.desc()).limit(1)
    ).first()
    return last is not None and last.method_id != method.id


def _in_flight(session: Session, invoice: Invoice) -> bool:
    return session.execute(select(PaymentAttempt.id).where(
        PaymentAttempt.invoice_id == invoice.id,
        PaymentAttempt.status.in_([str(s) for s in IN_FLIGHT]))).first() is not None


def take_retry(
    session: Session, case_id: int, *, now: datetime, run: CollectionRun,
    actor: Actor | None = None,
) -> PaymentAttempt | None:
    """Take today's retry of a case, if one is due; returns the payment attempt made."""
    case = session.execute(
        select(DunningCase).where(DunningCase.id == case_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    invoice = session.get(Invoice, case.invoice_id)
    policy = session.get(DunningPolicy, case.policy_id)
    assert invoice is not None and policy is not None
    # Without a method on file the scheduled step is a reminder (a bank-transfer customer).
    scheduled = (scheduled_retry_due(case, invoice, policy, now)
                 and default_method(session, invoice.customer_id) is not None)
    if not scheduled and not new_method_since_last_charge(session, invoice):
        return None
    if _in_flight(session, invoice):
        return None  # an earlier attempt is still unknown or pending: never charge over it
    case.retries_made += 1
    number = case.retries_made
    case.updated_at = now
    if scheduled:
        case.steps_done += 1
        schedule_next_step(case, policy)
    action = record_action(session, case, f"retry:{number}", ActionKind.RETRY,
                           ActionOutcome.PENDING, now=now, run=run, attempt_number=number)
    try:
        attempt = charge_invoice(session, invoice, now=now, reason="retry", actor=actor,
                                 idempotency_key=f"dunning:{invoice.id}:{number}")
    except PrahoError as error:
        action.outcome = ActionOutcome.FAILED
        action.reason = error.message[:300]
        session.flush()
        return None
    action.payment_attempt_id = attempt.id
    action.details = {"attempt": attempt.key, "status": str(attempt.status),
                      "error_code": attempt.error_code}
    if attempt.status == AttemptStatus.PROCESSED:
        action.outcome = ActionOutcome.SUCCEEDED
        action.reason = f"charged {attempt.amount_minor} {attempt.currency} minor units"
    elif attempt.status in (AttemptStatus.ERROR, AttemptStatus.CANCELED):
        action.outcome = ActionOutcome.FAILED
        action.reason = (attempt.error_message or attempt.error_code or "declined")[:300]
        case.last_error = action.reason
        if attempt.hard_decline:
            # payment_failed may have stopped them already (the hook sees the attempt first).
            if case.status == C.OPEN:
                stop_retries(session, case, invoice, error=action.reason, now=now, run=run)
        else:
            if case.status == C.OPEN and (
                    case.next_step_on is None or case.retries_made >= policy.max_attempts):
                case.status = C.EXHAUSTED
            email(session, policy, case, invoice, "payment_failed", f"email:retry:{number}",
                  now=now, run=run)
    else:
        action.outcome = ActionOutcome.PENDING
        action.reason = f"the gateway has not decided yet ({attempt.status})"
    session.flush()
    return attempt


def open_case_for_failed_attempt(session: Session, attempt: PaymentAttempt) -> DunningCase | None:
    """``payment_failed``: the first failed charge of an invoice opens its case."""
    from praho.core.services.dunning import open_case

    if attempt.invoice_id is None:
        return None
    invoice = session.get(Invoice, attempt.invoice_id)
    if invoice is None or invoice.balance_due_minor == 0:
        return None
    moment = attempt.settled_at or attempt.created_at
    error = (attempt.error_message or attempt.error_code or "declined")[:300]
    return open_case(session, invoice, reason=f"charge failed: {error}", now=moment,
                     hard_decline=attempt.hard_decline, error=error)
