"""Creating subscriptions and moving them through their life.

Creation is in :mod:`praho.core.services.subscription_start` (re-exported here).
Other capabilities call these services: dunning calls :func:`mark_past_due` and
:func:`suspend_subscription` (reason ``non_payment``); the payment layer calls
:func:`reactivate_after_payment`, which lifts only a suspension for non-payment. Plan,
quantity and add-on changes with proration live in :mod:`praho.core.services.proration`.

Every function validates everything before its first write; a refused move raises
:class:`InvalidTransition` and changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now
from praho.core.errors import FieldError, InvalidTransition, ValidationFailed
from praho.core.models.catalog import Price
from praho.core.models.subscriptions import (
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
    SuspensionReason,
)
from praho.core.services.audit import Actor, record_audit
from praho.core.services.billing import period_claimed
from praho.core.services.billing_cycles import first_period
from praho.core.services.proration import ItemChange, ProrationBehavior
from praho.core.services.subscription_changes import apply_changes
from praho.core.services.subscription_start import (
    BillingFailed,
    ItemSpec,
    bill_now_or_fail,
    create_subscription,
    validate_items,
)
from praho.core.services.subscription_state import (
    check_transition,
    hooks,
    lock_subscription,
    record_event,
    transition,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

S = SubscriptionStatus
__all__ = [
    "BillingFailed",
    "ItemSpec",
    "cancel_subscription",
    "create_subscription",
    "mark_past_due",
    "pause_subscription",
    "reactivate_after_payment",
    "reactivate_subscription",
    "resume_subscription",
    "suspend_subscription",
    "terminate_subscription",
    "undo_cancellation",
    "validate_items",
]


# --- pause and resume ------------------------------------------------------------


def pause_subscription(
    session: Session,
    subscription: Subscription,
    *,
    reason: str | None = None,
    credit_unused: bool = False,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Subscription:
    """Pause now: the service stops and nothing is billed until :func:`resume_subscription`.

    The prepaid rest of the period is kept for the customer (resuming before the period
    ends continues it) unless ``credit_unused`` credits it now, by the second, to the
    customer's credit balance.
    """
    moment = resolve_now(now)
    subscription = lock_subscription(session, subscription)
    check_transition(subscription, S.PAUSED)
    reason_text = v.text("reason", reason, max_length=300, required=False)
    with session.begin_nested():
        credit = _credit_rest_of_period(
            session, subscription, credit_unused, "pause", moment, actor
        )
        transition(
            session,
            subscription,
            S.PAUSED,
            event="paused",
            now=moment,
            actor=actor,
            reason=reason_text,
            data={"credited_minor": credit},
        )
        subscription.paused_at = moment
    return subscription


def resume_subscription(
    session: Session,
    subscription: Subscription,
    *,
    bill_now: bool = True,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Subscription:
    """Resume a paused subscription; a new period starts today unless prepaid time remains.

    After a pause that credited the unused time, the time from the resume on is billed
    again: a resume on the day of that pause continues the credited period and charges
    its rest by the second from the resume (an invoice now, or with ``bill_now=False``
    proration lines waiting for the next renewal); a later resume starts a new period
    today. Starting a new period on the pause day would bill that day's hours before the
    pause twice, and on a period's first day it would collide with that period's claim.
    """
    moment = resolve_now(now)
    subscription = lock_subscription(session, subscription)
    if subscription.status != S.PAUSED:
        raise InvalidTransition(
            f"subscription {subscription.id} is {subscription.status}, not paused"
        )
    today = business_date(moment)
    paused = _last_event(session, subscription, "paused")
    credited = bool(paused and paused.data.get("credited_minor"))
    charge_rest = credited and paused is not None and business_date(paused.occurred_at) == today
    with session.begin_nested():
        if charge_rest:
            assert subscription.next_billing_date is not None
            restart: dict[str, Any] = {
                "continues_until": subscription.next_billing_date.isoformat(),
                "rest_charged_from": moment.isoformat(),
            }
        else:
            restart = _restart_periods(session, subscription, today, fresh=credited)
        transition(
            session, subscription, S.ACTIVE, event="resumed", now=moment, actor=actor, data=restart
        )
        subscription.paused_at = None
        if charge_rest:
            _charge_rest_of_period(session, subscription, bill_now, moment, actor)
        elif bill_now:
            bill_now_or_fail(session, subscription, now=moment, actor=actor)
    return subscription


def _charge_rest_of_period(
    session: Session,
    subscription: Subscription,
    bill_now: bool,
    moment: datetime,
    actor: Actor | None,
) -> None:
    """Charge every item from ``moment`` to the end of the credited period, by the second.

    The pause's credit cleared what the items were billed at, so the proration has no
    credit side: only the charge for the rest of the period, at today's prices, like an
    add-on added now. It marks the items as billed again, so a second pause with credit
    the same day credits this charge.
    """
    changes = []
    for item in subscription.active_items:
        price = session.get(Price, item.price_id)
        assert price is not None
        changes.append(ItemChange(item, price, item.quantity))
    apply_changes(
        session,
        subscription,
        changes,
        proration=ProrationBehavior.INVOICE_NOW if bill_now else ProrationBehavior.NEXT_INVOICE,
        event="rest_of_period_charged",
        actor=actor,
        now=moment,
    )


def _restart_periods(
    session: Session, subscription: Subscription, today: date, *, fresh: bool
) -> dict[str, Any]:
    """After a pause or suspension: keep prepaid time if any remains, else start a period today.

    Periods that passed entirely while the service was off are not billed. A new period
    never starts on a day that already begins a billed period: its claim would refuse
    the document (``already_billed``) and leave the subscription due on that day,
    never billed again; such a restart (only reachable with a ``now`` before the
    subscription's billed periods) is refused instead.
    """
    if (
        not fresh
        and subscription.next_billing_date is not None
        and subscription.next_billing_date > today
    ):
        return {"continues_until": subscription.next_billing_date.isoformat()}
    period, _full = first_period(today, subscription.billing_cycle_months, subscription.anchor_day)
    if period_claimed(session, subscription.id, period.start):
        raise InvalidTransition(
            f"subscription {subscription.id}: a new period cannot start on "
            f"{period.start.isoformat()}, a period starting that day is already billed"
        )
    skipped_from = subscription.next_billing_date
    subscription.current_period_start, subscription.current_period_end = period.start, period.end
    subscription.next_billing_date = period.start
    return {
        "new_period_start": period.start.isoformat(),
        "new_period_end": period.end.isoformat(),
        "not_billed_from": skipped_from.isoformat() if skipped_from else None,
    }


def _last_event(
    session: Session, subscription: Subscription, event: str
) -> SubscriptionEvent | None:
    return session.execute(
        select(SubscriptionEvent)
        .where(
            SubscriptionEvent.subscription_id == subscription.id, SubscriptionEvent.event == event
        )
        .order_by(SubscriptionEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _credit_rest_of_period(
    session: Session,
    subscription: Subscription,
    credit_unused: bool,
    why: str,
    moment: datetime,
    actor: Actor | None,
) -> int:
    if not credit_unused:
        return 0
    from praho.core.services.proration_credits import credit_unused_time

    return credit_unused_time(session, subscription, why=why, now=moment, actor=actor)


# --- cancellation and termination --------------------------------------------------


def cancel_subscription(
    session: Session,
    subscription: Subscription,
    *,
    at_period_end: bool = True,
    reason: str | None = None,
    credit_unused: bool = False,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Subscription:
    """Cancel at the end of the paid period (default) or now.

    At period end the service runs until ``current_period_end`` and the billing run
    ends it then (``subscription_cancelled`` fires again with ``at_period_end=False``).
    Now: the service ends immediately; ``credit_unused`` credits the unused time by the
    second; proration lines still waiting are invoiced on a final document.
    """
    moment = resolve_now(now)
    subscription = lock_subscription(session, subscription)
    reason_text = v.text("reason", reason, max_length=300, required=False)
    if at_period_end:
        if subscription.status not in (S.TRIALING, S.ACTIVE, S.PAST_DUE):
            raise InvalidTransition(
                f"subscription {subscription.id} is {subscription.status}; "
                "only a running subscription can be cancelled at period end"
            )
        if subscription.cancel_at_period_end:
            raise InvalidTransition(
                f"subscription {subscription.id} is already cancelled at period end"
            )
        if credit_unused:
            raise ValidationFailed(
                [FieldError("credit_unused", "only applies to a cancellation now")]
            )
        subscription.cancel_at_period_end = True
        subscription.cancelled_at = moment
        subscription.cancellation_reason = reason_text
        subscription.updated_at = moment
        ends = subscription.next_billing_date
        record_event(
            session,
            subscription,
            "cancellation_scheduled",
            now=moment,
            actor=actor,
            reason=reason_text,
            data={"ends_on": ends.isoformat() if ends else None},
        )
        record_audit(
            session,
            actor=actor,
            action="subscription.cancellation_scheduled",
            object_type="subscription",
            object_id=subscription.id,
            now=moment,
            data={"reason": reason_text, "ends_on": ends.isoformat() if ends else None},
        )
        session.flush()
        hooks().subscription_cancelled(
            session=session, subscription=subscription, at_period_end=True
        )
        return subscription
    check_transition(subscription, S.CANCELLED)
    with session.begin_nested():
        credit = _credit_rest_of_period(
            session, subscription, credit_unused, "cancellation", moment, actor
        )
        _final_invoice(session, subscription, moment, actor)
        transition(
            session,
            subscription,
            S.CANCELLED,
            event="cancelled",
            now=moment,
            actor=actor,
            reason=reason_text,
            data={"credited_minor": credit},
        )
        subscription.cancelled_at = moment
        subscription.cancellation_reason = reason_text
        subscription.cancel_at_period_end = False
        _end(subscription, moment)
        session.flush()
        hooks().subscription_cancelled(
            session=session, subscription=subscription, at_period_end=False
        )
    return subscription


def undo_cancellation(
    session: Session,
    subscription: Subscription,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Subscription:
    """Keep a subscription whose cancellation at period end has not taken effect yet."""
    moment = resolve_now(now)
    subscription = lock_subscription(session, subscription)
    if not subscription.cancel_at_period_end or subscription.is_final:
        raise InvalidTransition(
            f"subscription {subscription.id} has no pending cancellation to undo"
        )
    subscription.cancel_at_period_end = False
    subscription.cancelled_at = None
    subscription.cancellation_reason = None
    subscription.updated_at = moment
    record_event(session, subscription, "cancellation_undone", now=moment, actor=actor)
    record_audit(
        session,
        actor=actor,
        action="subscription.cancellation_undone",
        object_type="subscription",
        object_id=subscription.id,
        now=moment,
    )
    session.flush()
    return subscription


def terminate_subscription(
    session: Session,
    subscription: Subscription,
    *,
    reason: str,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Subscription:
    """End a subscription for good on our side (non-payment, abuse); nothing more is billed."""
    moment = resolve_now(now)
    subscription = lock_subscription(session, subscription)
    reason_text = v.text("reason", reason, max_length=300)
    assert reason_text is not None
    check_transition(subscription, S.TERMINATED)
    with session.begin_nested():
        _final_invoice(session, subscription, moment, actor)
        transition(
            session,
            subscription,
            S.TERMINATED,
            event="terminated",
            now=moment,
            actor=actor,
            reason=reason_text,
        )
        _end(subscription, moment)
        session.flush()
        hooks().subscription_terminated(
            session=session, subscription=subscription, reason=reason_text
        )
    return subscription


def _end(subscription: Subscription, moment: datetime) -> None:
    subscription.ended_at = moment
    subscription.next_billing_date = None


def _final_invoice(
    session: Session, subscription: Subscription, moment: datetime, actor: Actor | None
) -> None:
    """What is still owed when the service stops now: up to and including today."""
    from praho.core.services.final_invoice import issue_final_invoice

    issue_final_invoice(
        session,
        subscription,
        end_date=business_date(moment) + timedelta(days=1),
        now=moment,
        actor=actor,
    )


# --- non-payment: past due, suspension, reactivation -----------------------------------


def mark_past_due(
    session: Session,
    subscription: Subscription,
    *,
    reason: str | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Subscription:
    """An invoice of this subscription is overdue; billing continues (dunning calls this)."""
    moment = resolve_now(now)
    subscription = lock_subscription(session, subscription)
    transition(
        session,
        subscription,
        S.PAST_DUE,
        event="past_due",
        now=moment,
        actor=actor,
        reason=v.text("reason", reason, max_length=300, required=False),
    )
    return subscription


def suspend_subscription(
    session: Session,
    subscription: Subscription,
    *,
    reason: SuspensionReason | str,
    note: str | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Subscription:
    """Suspend the service (``non_payment`` from dunning, ``manual``, ``abuse``, ``fraud``).

    A suspended subscription is not billed; see :func:`reactivate_subscription`.
    """
    moment = resolve_now(now)
    why = SuspensionReason(v.choice("reason", reason, SuspensionReason))
    note_text = v.text("note", note, max_length=300, required=False)
    subscription = lock_subscription(session, subscription)
    transition(
        session,
        subscription,
        S.SUSPENDED,
        event="suspended",
        now=moment,
        actor=actor,
        reason=note_text or str(why),
        data={"suspension_reason": str(why)},
    )
    subscription.suspended_at = moment
    subscription.suspension_reason = why
    session.flush()
    hooks().subscription_suspended(session=session, subscription=subscription, reason=str(why))
    return subscription


def reactivate_subscription(
    session: Session,
    subscription: Subscription,
    *,
    reason: str = "manual",
    bill_now: bool = True,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Subscription:
    """Lift a suspension (or a past-due mark); ``subscription_reactivated`` fires for a suspension.

    Prepaid time that remains continues; if the period ended while suspended, a new
    period starts today and is billed (periods that passed entirely are not billed).
    """
    moment = resolve_now(now)
    reason_text = v.text("reason", reason, max_length=300)
    assert reason_text is not None
    subscription = lock_subscription(session, subscription)
    if subscription.status not in (S.SUSPENDED, S.PAST_DUE):
        raise InvalidTransition(
            f"subscription {subscription.id} is {subscription.status}; "
            "only a suspended or past-due subscription can be reactivated"
        )
    was_suspended = subscription.status == S.SUSPENDED
    with session.begin_nested():
        restart = (
            _restart_periods(session, subscription, business_date(moment), fresh=False)
            if was_suspended
            else {}
        )
        transition(
            session,
            subscription,
            S.ACTIVE,
            event="reactivated",
            now=moment,
            actor=actor,
            reason=reason_text,
            data={"suspension_reason": subscription.suspension_reason, **restart},
        )
        subscription.suspended_at = None
        subscription.suspension_reason = None
        session.flush()
        if was_suspended:
            hooks().subscription_reactivated(
                session=session, subscription=subscription, reason=reason_text
            )
        if bill_now and was_suspended:
            bill_now_or_fail(session, subscription, now=moment, actor=actor)
    return subscription


def reactivate_after_payment(
    session: Session,
    subscription: Subscription,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> bool:
    """A late payment arrived: lift a past-due mark or a suspension for non-payment only.

    A subscription suspended for another reason (abuse, fraud, manual) stays suspended.
    Returns True when the subscription was reactivated.
    """
    current = lock_subscription(session, subscription)
    if current.status == S.PAST_DUE or (
        current.status == S.SUSPENDED and current.suspension_reason == SuspensionReason.NON_PAYMENT
    ):
        reactivate_subscription(session, current, reason="payment received", actor=actor, now=now)
        return True
    return False
