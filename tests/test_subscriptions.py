"""Subscription lifecycle: creation, trials, the transition table, cancel, pause, suspend."""

from datetime import date
from decimal import Decimal
from itertools import product

import pytest
from praho.core.errors import FieldError, InvalidTransition, ValidationFailed
from praho.core.hookspecs import hookimpl
from praho.core.models import (
    SUBSCRIPTION_TRANSITIONS,
    Invoice,
    Subscription,
    SubscriptionEvent,
    SubscriptionItem,
    SubscriptionPeriod,
    SubscriptionStatus,
)
from praho.core.services.billing_run import run_billing
from praho.core.services.subscription_state import check_transition
from praho.core.services.subscriptions import (
    BillingFailed,
    ItemSpec,
    cancel_subscription,
    create_subscription,
    mark_past_due,
    pause_subscription,
    reactivate_after_payment,
    reactivate_subscription,
    resume_subscription,
    suspend_subscription,
    terminate_subscription,
    undo_cancellation,
)
from praho.core.testing import StaticTestPlugin, at
from sqlalchemy import func, select

S = SubscriptionStatus


class Recorder:
    """Records the subscription hooks the core fires."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def subscription_activated(self, subscription):
        self.calls.append(("activated", subscription.id))

    @hookimpl
    def subscription_suspended(self, subscription, reason):
        self.calls.append(("suspended", subscription.id, reason))

    @hookimpl
    def subscription_reactivated(self, subscription, reason):
        self.calls.append(("reactivated", subscription.id, reason))

    @hookimpl
    def subscription_cancelled(self, subscription, at_period_end):
        self.calls.append(("cancelled", subscription.id, at_period_end))

    @hookimpl
    def subscription_terminated(self, subscription, reason):
        self.calls.append(("terminated", subscription.id, reason))


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def praho_plugins(recorder):
    return [("static_test", StaticTestPlugin()), ("recorder", recorder)]


def _counts(session):
    return {
        model.__name__: session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (
            Subscription,
            SubscriptionItem,
            SubscriptionEvent,
            SubscriptionPeriod,
            Invoice,
        )
    }


def test_create_bills_the_first_period_and_activates(praho_factory, praho_session, recorder):
    subscription = praho_factory.subscription(start="2026-01-31")
    assert subscription.status == S.ACTIVE
    assert (subscription.current_period_start, subscription.current_period_end) == (
        date(2026, 1, 31),
        date(2026, 2, 28),
    )
    assert subscription.next_billing_date == date(2026, 2, 28)
    assert subscription.anchor_day == 31
    invoice = praho_session.execute(select(Invoice)).scalar_one()
    assert (invoice.period_start, invoice.period_end) == (date(2026, 1, 31), date(2026, 2, 27))
    assert invoice.total_minor == 6050 and invoice.payment_status == "unpaid"
    assert invoice.subscription_id == subscription.id
    assert ("activated", subscription.id) in recorder.calls


def test_hook_subscription_activated(praho_factory, praho_session, recorder):
    trial = praho_factory.subscription(start="2026-03-01", trial_days=14)
    assert trial.status == S.TRIALING and trial.trial_end == date(2026, 3, 15)
    assert ("activated", trial.id) not in recorder.calls
    assert praho_session.execute(select(func.count(Invoice.id))).scalar_one() == 0
    run_billing(praho_session, now=at("2026-03-14"))
    assert trial.status == S.TRIALING
    run_billing(praho_session, now=at("2026-03-15"))
    assert trial.status == S.ACTIVE and ("activated", trial.id) in recorder.calls
    invoice = praho_session.execute(select(Invoice)).scalar_one()
    assert (invoice.period_start, invoice.period_end) == (date(2026, 3, 15), date(2026, 4, 14))
    events = [
        e.event
        for e in praho_session.execute(
            select(SubscriptionEvent).order_by(SubscriptionEvent.id)
        ).scalars()
    ]
    assert events == ["created", "trial_ended"]


def test_anchor_day_gives_a_partial_first_period_charged_by_the_second(
    praho_factory, praho_session
):
    subscription = praho_factory.subscription(start="2026-03-15", anchor_day=1)
    invoice = praho_session.execute(select(Invoice)).scalar_one()
    line = invoice.lines[0]
    # 15 March to 1 April is 17 days minus the daylight-saving hour, of a March of 31 days minus it.
    assert line.details["partial_period"] == {
        "seconds": 17 * 86400 - 3600,
        "full_seconds": 31 * 86400 - 3600,
        "full_start": "2026-03-01",
        "full_end": "2026-04-01",
    }
    assert line.unit_price == Decimal("27.388964")  # 50.00 x 1465200 / 2674800, 6 decimals
    assert line.net_amount_minor == 2739
    assert subscription.next_billing_date == date(2026, 4, 1)
    run_billing(praho_session, now=at("2026-04-01"))
    assert (
        praho_session.execute(select(Invoice).order_by(Invoice.id.desc()))
        .scalars()
        .first()
        .lines[0]
        .net_amount_minor
        == 5000
    )


def test_every_transition_in_the_table_and_only_those(praho_factory):
    subscription = Subscription(id=1, status=S.ACTIVE)
    for source, target in product(S, S):
        subscription.status = source
        if target in SUBSCRIPTION_TRANSITIONS[source]:
            check_transition(subscription, target)
        else:
            with pytest.raises(InvalidTransition, match=f"cannot become {target}"):
                check_transition(subscription, target)
    assert (
        SUBSCRIPTION_TRANSITIONS[S.CANCELLED]
        == SUBSCRIPTION_TRANSITIONS[S.TERMINATED]
        == frozenset()
    )


def test_hook_subscription_cancelled(praho_factory, praho_session, recorder):
    subscription = praho_factory.subscription(start="2026-01-31")
    cancel_subscription(praho_session, subscription, reason="moving to a VPS", now=at("2026-02-10"))
    assert subscription.status == S.ACTIVE and subscription.cancel_at_period_end
    assert ("cancelled", subscription.id, True) in recorder.calls
    with pytest.raises(InvalidTransition, match="already cancelled"):
        cancel_subscription(praho_session, subscription, now=at("2026-02-11"))
    run = run_billing(praho_session, now=at("2026-02-28"))
    assert run.summary["counts"] == {"ended": 1}
    assert subscription.status == S.CANCELLED and subscription.next_billing_date is None
    assert subscription.ended_at == at("2026-02-28", 0)
    assert ("cancelled", subscription.id, False) in recorder.calls
    assert praho_session.execute(select(func.count(Invoice.id))).scalar_one() == 1
    assert run_billing(praho_session, now=at("2026-03-31")).summary["counts"] == {}


def test_undo_cancellation_keeps_billing(praho_factory, praho_session):
    subscription = praho_factory.subscription(start="2026-01-31")
    cancel_subscription(praho_session, subscription, now=at("2026-02-10"))
    undo_cancellation(praho_session, subscription, now=at("2026-02-12"))
    assert run_billing(praho_session, now=at("2026-02-28")).summary["counts"] == {"issued": 1}
    with pytest.raises(InvalidTransition, match="no pending cancellation"):
        undo_cancellation(praho_session, subscription, now=at("2026-03-01"))


def test_cancel_now_ends_at_once_and_cannot_be_undone(praho_factory, praho_session, recorder):
    subscription = praho_factory.subscription(start="2026-01-31")
    cancel_subscription(
        praho_session, subscription, at_period_end=False, reason="closed", now=at("2026-02-10")
    )
    assert subscription.status == S.CANCELLED and subscription.ended_at == at("2026-02-10")
    assert ("cancelled", subscription.id, False) in recorder.calls
    for refused in (
        lambda: resume_subscription(praho_session, subscription, now=at("2026-02-11")),
        lambda: suspend_subscription(
            praho_session, subscription, reason="manual", now=at("2026-02-11")
        ),
        lambda: cancel_subscription(praho_session, subscription, now=at("2026-02-11")),
    ):
        with pytest.raises(InvalidTransition):
            refused()


def test_hook_subscription_suspended(praho_factory, praho_session, recorder):
    subscription = praho_factory.subscription(start="2026-01-31")
    mark_past_due(
        praho_session, subscription, reason="PRH2026-000001 overdue", now=at("2026-02-15")
    )
    assert subscription.status == S.PAST_DUE
    suspend_subscription(praho_session, subscription, reason="non_payment", now=at("2026-02-20"))
    assert subscription.status == S.SUSPENDED and subscription.suspension_reason == "non_payment"
    assert ("suspended", subscription.id, "non_payment") in recorder.calls
    # Suspended subscriptions are not billed.
    assert run_billing(praho_session, now=at("2026-02-28")).summary["counts"] == {}


def test_hook_subscription_reactivated(praho_factory, praho_session, recorder):
    subscription = praho_factory.subscription(start="2026-01-31")
    suspend_subscription(praho_session, subscription, reason="non_payment", now=at("2026-02-20"))
    assert reactivate_after_payment(praho_session, subscription, now=at("2026-02-25")) is True
    assert subscription.status == S.ACTIVE and subscription.suspension_reason is None
    assert ("reactivated", subscription.id, "payment received") in recorder.calls
    # Prepaid time remained: the period continues, nothing billed on reactivation.
    assert subscription.next_billing_date == date(2026, 2, 28)
    assert praho_session.execute(select(func.count(Invoice.id))).scalar_one() == 1


def test_late_payment_reactivates_only_a_suspension_for_non_payment(praho_factory, praho_session):
    subscription = praho_factory.subscription(start="2026-01-31")
    suspend_subscription(
        praho_session, subscription, reason="abuse", note="spam complaints", now=at("2026-02-05")
    )
    assert reactivate_after_payment(praho_session, subscription, now=at("2026-02-06")) is False
    assert subscription.status == S.SUSPENDED and subscription.suspension_reason == "abuse"
    active = praho_factory.subscription(start="2026-01-31")
    assert reactivate_after_payment(praho_session, active, now=at("2026-02-06")) is False
    assert active.status == S.ACTIVE


def test_reactivation_after_the_period_ended_starts_a_new_period_today(
    praho_factory, praho_session
):
    subscription = praho_factory.subscription(start="2026-01-31")
    suspend_subscription(praho_session, subscription, reason="non_payment", now=at("2026-02-20"))
    run_billing(praho_session, now=at("2026-02-28"))
    run_billing(praho_session, now=at("2026-03-31"))
    reactivate_subscription(praho_session, subscription, reason="paid", now=at("2026-04-10"))
    # Periods that passed while suspended are not billed; the new one runs to the anchor.
    assert (subscription.current_period_start, subscription.current_period_end) == (
        date(2026, 4, 10),
        date(2026, 4, 30),
    )
    invoices = praho_session.execute(select(Invoice).order_by(Invoice.id)).scalars().all()
    assert [(i.period_start, i.period_end) for i in invoices] == [
        (date(2026, 1, 31), date(2026, 2, 27)),
        (date(2026, 4, 10), date(2026, 4, 29)),
    ]
    assert invoices[1].lines[0].details["partial_period"]["full_start"] == "2026-03-31"


def test_pause_and_resume_keep_or_restart_the_period(praho_factory, praho_session):
    # Two subscriptions on one timeline (numbers follow dates, so time only moves on).
    subscription = praho_factory.subscription(start="2026-01-31")
    early = praho_factory.subscription(start="2026-01-31")
    pause_subscription(praho_session, subscription, reason="seasonal", now=at("2026-02-10"))
    assert subscription.status == S.PAUSED
    pause_subscription(praho_session, early, now=at("2026-02-10"))
    resume_subscription(praho_session, early, now=at("2026-02-12"))
    assert early.next_billing_date == date(2026, 2, 28)  # the prepaid period continues
    with pytest.raises(InvalidTransition, match="not paused"):
        resume_subscription(praho_session, early, now=at("2026-02-13"))
    # Only ``early`` renews: nothing is billed while paused.
    assert run_billing(praho_session, now=at("2026-02-28")).summary["counts"] == {"issued": 1}
    resume_subscription(praho_session, subscription, now=at("2026-03-05"))
    assert subscription.status == S.ACTIVE
    assert (subscription.current_period_start, subscription.next_billing_date) == (
        date(2026, 3, 5),
        date(2026, 3, 31),
    )


def test_hook_subscription_terminated(praho_factory, praho_session, recorder):
    subscription = praho_factory.subscription(start="2026-01-31")
    suspend_subscription(praho_session, subscription, reason="non_payment", now=at("2026-02-20"))
    terminate_subscription(
        praho_session, subscription, reason="unpaid for 30 days", now=at("2026-03-20")
    )
    assert subscription.status == S.TERMINATED and subscription.next_billing_date is None
    assert ("terminated", subscription.id, "unpaid for 30 days") in recorder.calls
    with pytest.raises(InvalidTransition, match="only a suspended or past-due"):
        reactivate_subscription(praho_session, subscription, now=at("2026-03-21"))
    with pytest.raises(FieldError, match="reason"):
        terminate_subscription(
            praho_session,
            praho_factory.subscription(start="2026-01-31"),
            reason=" ",
            now=at("2026-03-21"),
        )


def test_history_records_every_transition(praho_factory, praho_session):
    subscription = praho_factory.subscription(start="2026-01-31")
    mark_past_due(praho_session, subscription, now=at("2026-02-15"))
    suspend_subscription(praho_session, subscription, reason="non_payment", now=at("2026-02-20"))
    reactivate_subscription(praho_session, subscription, now=at("2026-02-21"))
    rows = (
        praho_session.execute(
            select(SubscriptionEvent)
            .where(SubscriptionEvent.subscription_id == subscription.id)
            .order_by(SubscriptionEvent.id)
        )
        .scalars()
        .all()
    )
    assert [(r.event, r.from_status, r.to_status) for r in rows] == [
        ("created", None, "active"),
        ("past_due", "active", "past_due"),
        ("suspended", "past_due", "suspended"),
        ("reactivated", "suspended", "active"),
    ]


def test_bad_input_is_refused_with_reasons_and_nothing_written(praho_factory, praho_session):
    monthly = praho_factory.price()
    eur_yearly = praho_factory.price(currency="EUR", interval_months=12)
    one_time = praho_factory.price(interval_months=None)
    customer = praho_factory.customer()
    before = _counts(praho_session)
    cases = [
        (dict(items=[]), "items"),
        (dict(items=[ItemSpec(monthly, "-1")]), "items[0].quantity"),
        (dict(items=[ItemSpec("NO-SUCH-PRICE")]), "items[0].price"),
        (dict(items=[ItemSpec(one_time)]), "items[0].price"),
        (dict(items=[ItemSpec(monthly), ItemSpec(eur_yearly)]), "items[1].price"),
        (dict(items=[ItemSpec(monthly)], anchor_day=32), "anchor_day"),
        (dict(items=[ItemSpec(monthly)], trial_days=0), "trial_days"),
        (
            dict(
                items=[ItemSpec(monthly)], trial_end=date(2026, 1, 1), start_date=date(2026, 2, 1)
            ),
            "trial_end",
        ),
        (dict(items=[ItemSpec(monthly)], billing_cycle="weekly"), "billing_cycle"),
        (dict(items=[ItemSpec(monthly)], start_date=date(2019, 12, 1)), "items[0].price"),
    ]
    for kwargs, field_name in cases:
        with pytest.raises((ValidationFailed, FieldError)) as failure:
            create_subscription(praho_session, customer=customer, now=at("2026-02-01"), **kwargs)
        error = failure.value
        fields = (
            {e.field for e in error.errors}
            if isinstance(error, ValidationFailed)
            else {error.field}
        )
        assert field_name in fields, (kwargs, error)
    assert _counts(praho_session) == before


def test_first_invoice_failure_writes_nothing(praho_factory, praho_session):
    customer = praho_factory.customer()
    customer.cui = None  # invalid data slipped in: a Romanian company without its CUI
    before = _counts(praho_session)
    with pytest.raises(BillingFailed, match="CUI"):
        create_subscription(
            praho_session,
            customer=customer,
            items=[ItemSpec(praho_factory.price())],
            now=at("2026-02-01"),
        )
    assert _counts(praho_session) == before


def test_a_trial_cancelled_before_it_ends_is_never_billed(praho_factory, praho_session, recorder):
    trial = praho_factory.subscription(start="2026-03-01", trial_days=14)
    cancel_subscription(praho_session, trial, reason="not convinced", now=at("2026-03-05"))
    run = run_billing(praho_session, now=at("2026-03-15"))
    assert run.summary["counts"] == {"ended": 1}
    assert trial.status == S.CANCELLED and ("activated", trial.id) not in recorder.calls
    assert praho_session.execute(select(func.count(Invoice.id))).scalar_one() == 0
