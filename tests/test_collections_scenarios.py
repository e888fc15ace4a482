"""Months of billing and collections replayed day by day (the time-simulation pattern).

Each simulated day runs what production runs: the billing run at noon through the
runner (which charges the invoices it issued), then the collection run. Real commits,
the fake gateway's magic tokens, and the ledger checked at the end of every scenario.
"""

from __future__ import annotations

from datetime import date, timedelta

from praho.core.billing_runner import run_in_process
from praho.core.clock import noon_of
from praho.core.models import (
    CollectionAction,
    Customer,
    DunningCase,
    EmailMessage,
    Invoice,
    PaymentAttempt,
    Subscription,
    SubscriptionEvent,
)
from praho.core.payments.testing import customer_with_card
from praho.core.services import ledger
from praho.core.services.collections import run_collections
from praho.core.services.payments import (
    add_payment_method,
    charge_invoice,
    record_bank_transfer,
)
from praho.core.testing import PrahoFactory, at
from sqlalchemy import select


def simulate_days(database, start: str, end: str, *, on_day=None) -> None:
    """Billing run (with collection of what it issued), then the collection run, each day."""
    day, last = date.fromisoformat(start), date.fromisoformat(end)
    while day <= last:
        run_in_process(database, now=noon_of(day))
        with database.transaction() as session:
            run_collections(session, now=noon_of(day) + timedelta(hours=1))
        if on_day is not None:
            on_day(day)
        day += timedelta(days=1)


def _subscribed(database, token: str | None) -> tuple[int, int]:
    """A customer (with a card of ``token``, or none) subscribed on 31 January, billed."""
    with database.transaction() as session:
        factory = PrahoFactory(session)
        customer = customer_with_card(factory, token) if token else factory.customer()
        subscription = factory.subscription(customer=customer, start="2026-01-30",
                                            now=at("2026-01-30", 9))
        return customer.id, subscription.id


def _status_by_day(database, subscription_id, days):
    seen = {}

    def record(day):
        if day.isoformat() in days:
            with database.transaction() as session:
                seen[day.isoformat()] = str(session.get(Subscription, subscription_id).status)
    return seen, record


def _check_ledger(database):
    with database.transaction() as session:
        assert ledger.unbalanced_currencies(ledger.trial_balance(session).items()) == {}


def _charge_at_checkout(database, when):
    """The first period is charged when the customer subscribes (as a checkout would)."""
    with database.transaction() as session:
        invoice = session.execute(select(Invoice)).scalars().one()
        charge_invoice(session, invoice, now=when)
        return invoice.id


def _steps(session, invoice_id, kind=None):
    query = select(CollectionAction).where(CollectionAction.invoice_id == invoice_id)
    if kind:
        query = query.where(CollectionAction.kind == kind)
    return [(a.occurred_at.date().isoformat(), a.step_key, str(a.outcome))
            for a in session.execute(query.order_by(CollectionAction.id)).scalars()]


def test_soft_declines_are_retried_suspended_and_a_new_card_pays_and_reactivates(
    praho_committing
):
    customer_id, subscription_id = _subscribed(praho_committing, "tok_decline")
    first_id = _charge_at_checkout(praho_committing, at("2026-01-30", 9, 5))
    seen, record = _status_by_day(praho_committing, subscription_id,
                                  {"2026-02-13", "2026-02-14", "2026-02-27", "2026-03-03",
                                   "2026-03-04"})

    def on_day(day):
        record(day)
        if day == date(2026, 3, 3):  # the customer puts in a new card in the evening
            with praho_committing.transaction() as session:
                add_payment_method(session, customer=session.get(Customer, customer_id),
                                   gateway_id="fake", setup_reference="tok_success",
                                   now=at(day, 18))

    simulate_days(praho_committing, "2026-01-31", "2026-03-25", on_day=on_day)
    with praho_committing.transaction() as session:
        first = session.get(Invoice, first_id)
        assert first.due_date == date(2026, 2, 13) and first.payment_status == "paid"
        case = session.execute(select(DunningCase).where(
            DunningCase.invoice_id == first_id)).scalar_one()
        assert case.status == "paid" and case.first_failure_at.date() == date(2026, 1, 30)
        # Retries 1, 3, 7, 14 and 30 days after the first failure, all declined; the new
        # card is tried at the next run after it was added, and pays.
        assert _steps(session, first_id, "retry") == [
            ("2026-01-31", "retry:1", "failed"), ("2026-02-02", "retry:2", "failed"),
            ("2026-02-06", "retry:3", "failed"), ("2026-02-13", "retry:4", "failed"),
            ("2026-03-01", "retry:5", "failed"), ("2026-03-04", "retry:6", "succeeded")]
        attempts = session.execute(
            select(PaymentAttempt.attempt_number, PaymentAttempt.status)
            .where(PaymentAttempt.invoice_id == first_id)
            .order_by(PaymentAttempt.attempt_number)).all()
        assert [str(a.status) for a in attempts] == ["error"] * 6 + ["processed"]
        steps = [k for _, k, _ in _steps(session, first_id)]
        assert "suspended" in steps and "email:suspended" in steps
        assert steps.count("email:retry:1") == 1 and "email:action_required" not in steps
        events = [e.event for e in session.execute(
            select(SubscriptionEvent).where(SubscriptionEvent.subscription_id == subscription_id)
            .order_by(SubscriptionEvent.id)).scalars()]
        # The reactivation on 4 March started a fresh period, billed at once; that invoice
        # went overdue on 19 March and the card on file paid it at the next day's retry.
        assert events == ["created", "past_due", "suspended", "reactivated", "past_due",
                          "reactivated"]
        second = session.execute(select(Invoice).where(Invoice.id != first_id)).scalar_one()
        assert (second.period_start, second.payment_status) == (date(2026, 3, 4), "paid")
        mails = session.execute(select(EmailMessage.template)).scalars().all()
        assert "dunning_suspended" in mails and "dunning_payment_failed" in mails
        first_retry = session.execute(select(EmailMessage).where(
            EmailMessage.key.endswith(":email:retry:1"))).scalars().first()
        # In the customer's language (ro): the amount, the decline and the next retry day.
        assert first_retry.subject == "Plata facturii PRH2026-000001 nu a reușit"
        assert "60,50 RON" in first_retry.body_text and "02.02.2026" in first_retry.body_text
        assert "Your card was declined." in first_retry.body_text
    assert seen["2026-02-13"] == "active"  # due that day, not overdue yet
    assert seen["2026-02-14"] == "past_due"
    assert seen["2026-02-27"] == "suspended"  # 14 days after the due date
    assert seen["2026-03-03"] == "suspended"
    assert seen["2026-03-04"] == "active"  # the late payment reactivated it
    _check_ledger(praho_committing)


def test_a_hard_decline_stops_retries_and_a_late_bank_transfer_reactivates(praho_committing):
    customer_id, subscription_id = _subscribed(praho_committing, "tok_expired")
    first_id = _charge_at_checkout(praho_committing, at("2026-01-30", 9, 5))

    def on_day(day):
        if day == date(2026, 3, 2):
            with praho_committing.transaction() as session:
                record_bank_transfer(session, customer=session.get(Customer, customer_id),
                                     amount_minor=6050, currency="RON", bank_reference="OP-311",
                                     received_on=day, now=at(day, 10))

    simulate_days(praho_committing, "2026-01-31", "2026-03-05", on_day=on_day)
    with praho_committing.transaction() as session:
        case = session.execute(select(DunningCase).where(
            DunningCase.invoice_id == first_id)).scalar_one()
        assert case.status == "paid" and case.retries_made == 0
        steps = _steps(session, first_id)
        assert [k for _, k, _ in steps if k.startswith("retry")] == []
        assert ("2026-01-30", "email:action_required", "succeeded") in steps
        assert ("2026-02-27", "suspended", "succeeded") in steps
        assert session.get(Subscription, subscription_id).status == "active"
        attempts = session.execute(select(PaymentAttempt.id).where(
            PaymentAttempt.invoice_id == first_id)).all()
        assert len(attempts) == 1  # the checkout charge only: no blind retries
    _check_ledger(praho_committing)
