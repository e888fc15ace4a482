"""Dunning without a card: overdue invoices are reminded, suspended, terminated, reactivated."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from praho.core.errors import ValidationFailed
from praho.core.models import (
    AuditEvent,
    CollectionAction,
    Customer,
    DunningCase,
    DunningPolicy,
    EmailMessage,
    Invoice,
    Subscription,
)
from praho.core.models.audit import ActorType
from praho.core.services import ledger
from praho.core.services.audit import Actor
from praho.core.services.billing_run import run_billing
from praho.core.services.collections import run_collections
from praho.core.services.customer_credit import apply_credit, grant_goodwill_credit
from praho.core.services.dunning_policies import assign_policy, create_policy, policy_for
from praho.core.services.issuing import issue_document
from praho.core.services.payments import record_bank_transfer
from praho.core.services.subscriptions import suspend_subscription
from praho.core.testing import at
from sqlalchemy import func, select

ANA = Actor(ActorType.USER, "ana@praho.test")


def _days(session, start: str, end: str, *, billing: bool = True) -> None:
    """Billing run then collection run at noon of every day from ``start`` to ``end``."""
    day, last = date.fromisoformat(start), date.fromisoformat(end)
    while day <= last:
        if billing:
            run_billing(session, now=at(day, 12))
        run_collections(session, now=at(day, 12, 30))
        day += timedelta(days=1)


def _actions(session, invoice_id):
    return [
        (a.occurred_at.date().isoformat(), a.step_key, str(a.outcome))
        for a in session.execute(
            select(CollectionAction).where(CollectionAction.invoice_id == invoice_id)
            .order_by(CollectionAction.id)
        ).scalars()
    ]


def _pay_by_credit(session, invoice, when):
    customer = session.get(Customer, invoice.customer_id)
    grant_goodwill_credit(session, customer, amount_minor=invoice.balance_due_minor,
                          currency=invoice.currency, reason="bank transfer booked as credit",
                          actor=ANA, now=when)
    apply_credit(session, invoice, actor=ANA, now=when)


def _balanced(session):
    assert ledger.unbalanced_currencies(ledger.trial_balance(session).items()) == {}


def test_overdue_invoice_reminded_suspended_and_terminated_on_the_default_policy(
    praho_factory, praho_session
):
    subscription = praho_factory.subscription(start="2026-01-31")
    first = praho_session.execute(select(Invoice)).scalars().one()
    assert first.due_date == date(2026, 2, 14)
    _days(praho_session, "2026-02-01", "2026-04-16")
    case = praho_session.execute(
        select(DunningCase).where(DunningCase.invoice_id == first.id)).scalar_one()
    assert case.first_failure_at.date() == date(2026, 2, 15)
    assert case.status == "terminated"
    steps = _actions(praho_session, first.id)
    assert steps[:3] == [("2026-02-15", "opened", "succeeded"),
                         ("2026-02-15", "email:opened", "succeeded"),
                         ("2026-02-15", "past_due", "succeeded")]
    reminders = [(d, k) for d, k, _ in steps if k.startswith("email:step")]
    # 1, 3, 7, 14 and 30 days after the first failure (15 February).
    assert reminders == [("2026-02-16", "email:step:1"), ("2026-02-18", "email:step:2"),
                         ("2026-02-22", "email:step:3"), ("2026-03-01", "email:step:4"),
                         ("2026-03-17", "email:step:5")]
    assert ("2026-02-28", "suspended", "succeeded") in steps  # 14 days after the due date
    assert ("2026-04-15", "terminated", "succeeded") in steps  # 60 days after it
    assert praho_session.get(Subscription, subscription.id).status == "terminated"
    events = [e.action for e in praho_session.execute(
        select(AuditEvent).where(AuditEvent.object_type == "subscription")).scalars()]
    assert "subscription.suspended" in events and "subscription.terminated" in events
    # The 28 February renewal was billed before that day's suspension; while suspended
    # (from 28 February) the subscription was not renewed on 31 March.
    renewals = praho_session.execute(
        select(Invoice.period_start).where(Invoice.subscription_id == subscription.id)
        .order_by(Invoice.id)).scalars().all()
    assert renewals == [date(2026, 1, 31), date(2026, 2, 28)]
    _balanced(praho_session)


def test_running_twice_a_day_takes_every_step_once(praho_factory, praho_session):
    praho_factory.subscription(start="2026-01-31")
    _days(praho_session, "2026-02-14", "2026-02-16", billing=False)
    count = praho_session.execute(select(func.count(CollectionAction.id))).scalar_one()
    mails = praho_session.execute(select(func.count(EmailMessage.id))).scalar_one()
    run = run_collections(praho_session, now=at("2026-02-16", 18))
    assert praho_session.execute(select(func.count(CollectionAction.id))).scalar_one() == count
    assert praho_session.execute(select(func.count(EmailMessage.id))).scalar_one() == mails
    assert run.summary["counts"] == {} and run.summary["failed"] == []


def test_late_payment_reactivates_the_suspension_for_non_payment(praho_factory, praho_session):
    subscription = praho_factory.subscription(start="2026-01-31")
    first = praho_session.execute(select(Invoice)).scalars().one()
    _days(praho_session, "2026-02-01", "2026-03-02", billing=False)
    assert praho_session.get(Subscription, subscription.id).status == "suspended"
    _pay_by_credit(praho_session, first, at("2026-03-03", 9))
    refreshed = praho_session.get(Subscription, subscription.id)
    assert (refreshed.status, refreshed.suspension_reason) == ("active", None)
    case = praho_session.execute(select(DunningCase)).scalar_one()
    assert case.status == "paid"
    assert [k for _, k, _ in _actions(praho_session, first.id)][-2:] == [
        f"closed:{int(at('2026-03-03', 9).timestamp())}",
        f"reactivated:{int(at('2026-03-03', 9).timestamp())}"]
    # Nothing further happens to the paid invoice.
    before = len(_actions(praho_session, first.id))
    _days(praho_session, "2026-03-04", "2026-03-20", billing=False)
    assert len(_actions(praho_session, first.id)) == before
    _balanced(praho_session)


def test_payment_does_not_lift_a_suspension_for_abuse(praho_factory, praho_session):
    subscription = praho_factory.subscription(start="2026-01-31")
    first = praho_session.execute(select(Invoice)).scalars().one()
    suspend_subscription(praho_session, subscription, reason="abuse", note="spam relay",
                         actor=ANA, now=at("2026-02-10"))
    _days(praho_session, "2026-02-14", "2026-03-01", billing=False)
    skipped = [k for _, k, o in _actions(praho_session, first.id) if o == "skipped"]
    assert skipped and all(k.startswith("suspend-skipped") for k in skipped)
    _pay_by_credit(praho_session, first, at("2026-03-02"))
    refreshed = praho_session.get(Subscription, subscription.id)
    assert (refreshed.status, refreshed.suspension_reason) == ("suspended", "abuse")


def test_a_paid_prepaid_period_is_never_suspended_for_another_unpaid_invoice(
    praho_factory, praho_session
):
    subscription = praho_factory.subscription(start="2026-01-31")
    period_invoice = praho_session.execute(select(Invoice)).scalars().one()
    _pay_by_credit(praho_session, period_invoice, at("2026-02-01"))
    # A one-off charge for the same subscription (a migration), never paid.
    customer = praho_session.get(Customer, period_invoice.customer_id)
    extra = praho_factory.draft(customer, [("Migrare site", "1", "80.00")], now=at("2026-02-02"))
    extra.subscription_id = subscription.id
    issue_document(praho_session, extra, now=at("2026-02-02"))
    _days(praho_session, "2026-02-03", "2026-02-28")
    # The customer pays the 28 February renewal (and only that) by bank transfer.
    renewal = praho_session.execute(select(Invoice).order_by(Invoice.id.desc())).scalars().first()
    assert renewal.period_start == date(2026, 2, 28)
    record_bank_transfer(praho_session, customer=customer, amount_minor=6050, currency="RON",
                         bank_reference="OP-MARTIE", received_on="2026-02-28",
                         allocations=[(renewal, 6050)], now=at("2026-02-28", 15))
    _days(praho_session, "2026-03-01", "2026-03-10")
    assert renewal.payment_status == "paid"
    refreshed = praho_session.get(Subscription, subscription.id)
    # Past due (the migration invoice is overdue; billing continues), never suspended.
    assert refreshed.status == "past_due"
    assert extra.balance_due_minor == 9680 and extra.due_date == date(2026, 2, 16)
    reasons = {r for (r,) in praho_session.execute(
        select(CollectionAction.reason).where(CollectionAction.invoice_id == extra.id,
                                              CollectionAction.outcome == "skipped"))}
    assert reasons == {f"the current period 2026-02-28..2026-03-31 is prepaid by "
                       f"{renewal.full_number}"}
    _balanced(praho_session)


def test_vip_plan_policy_gives_longer_grace_and_customer_policy_wins(praho_factory, praho_session):
    vip = create_policy(praho_session, {"code": "vip", "name": "VIP",
                                        "retry_intervals_days": [2, 5, 10, 20, 40],
                                        "suspend_after_days": 45, "terminate_after_days": 120},
                        actor=ANA, now=at("2026-01-01"))
    strict = create_policy(praho_session, {"code": "strict", "name": "Prepay only",
                                           "retry_intervals_days": [1], "max_attempts": 1,
                                           "suspend_after_days": 3, "terminate_after_days": 10,
                                           "send_emails": False}, now=at("2026-01-01"))
    vip_product = praho_factory.product(code="VIP-HOST", name="VIP Hosting")
    assign_policy(praho_session, vip, product_id=vip_product.id, actor=ANA)
    vip_sub = praho_factory.subscription(praho_factory.price(vip_product), start="2026-01-31")
    plain_vip_customer = praho_factory.subscription(praho_factory.price(vip_product),
                                                    start="2026-01-31")
    assign_policy(praho_session, strict, customer_id=plain_vip_customer.customer_id)
    invoices = {i.subscription_id: i for i in praho_session.execute(select(Invoice)).scalars()}
    assert policy_for(praho_session, invoices[vip_sub.id]).code == "vip"
    assert policy_for(praho_session, invoices[plain_vip_customer.id]).code == "strict"
    _days(praho_session, "2026-02-14", "2026-03-10", billing=False)
    assert praho_session.get(Subscription, vip_sub.id).status == "past_due"  # grace: 45 days
    assert praho_session.get(Subscription, plain_vip_customer.id).status == "terminated"
    strict_steps = _actions(praho_session, invoices[plain_vip_customer.id].id)
    assert ("2026-02-15", "email:opened", "skipped") in strict_steps  # send_emails off
    vip_steps = [k for _, k, _ in _actions(praho_session, invoices[vip_sub.id].id)]
    # 2, 5, 10 and 20 days after 15 February fall before 10 March; 40 days does not.
    assert "email:step:4" in vip_steps and "email:step:5" not in vip_steps


@pytest.mark.parametrize("bad, field", [
    ({"retry_intervals_days": [3, 1]}, "retry_intervals_days"),
    ({"retry_intervals_days": [1, "3"]}, "retry_intervals_days[1]"),
    ({"retry_intervals_days": [1, 3], "max_attempts": 3}, "max_attempts"),
    ({"suspend_after_days": 30, "terminate_after_days": 10}, "terminate_after_days"),
    ({"template_set": "no_such_set"}, "template_set"),
    ({"send_emails": "yes"}, "send_emails"),
    ({"grace": 3}, "grace"),
    ({"code": "bad code!"}, "code"),
])
def test_bad_policy_input_changes_nothing(praho_session, bad, field):
    before = praho_session.execute(select(func.count(DunningPolicy.id))).scalar_one()
    with pytest.raises(ValidationFailed) as error:
        create_policy(praho_session, {"code": "p", "name": "P", **bad})
    assert field in {e.field for e in error.value.errors}
    assert praho_session.execute(select(func.count(DunningPolicy.id))).scalar_one() == before


def test_a_pending_retry_is_never_charged_over_and_settles_the_case(praho_factory, praho_session):
    from praho.core.models import PaymentAttempt
    from praho.core.payments.testing import customer_with_card
    from praho.core.services.payments import (
        add_payment_method,
        charge_invoice,
        settle_unknown_attempts,
    )

    customer = customer_with_card(praho_factory, "tok_decline")
    invoice = praho_factory.invoice(customer, [("Hosting", "1", "100.00")], now=at("2026-03-02"))
    charge_invoice(praho_session, invoice, now=at("2026-03-02", 9))
    add_payment_method(praho_session, customer=customer, gateway_id="fake",
                       setup_reference="tok_pending", now=at("2026-03-02", 11))
    _days(praho_session, "2026-03-02", "2026-03-06", billing=False)
    retries = [step for step in _actions(praho_session, invoice.id)
               if step[1].startswith("retry")]
    # The new card is tried once (same day); its answer is pending, so the scheduled
    # retries of 3 and 5 March wait instead of charging over it.
    assert retries == [("2026-03-02", "retry:1", "pending")]
    statuses = praho_session.execute(select(PaymentAttempt.status).where(
        PaymentAttempt.invoice_id == invoice.id).order_by(PaymentAttempt.id)).scalars().all()
    assert statuses == ["error", "pending"]
    settle_unknown_attempts(praho_session, now=at("2026-03-07", 9))
    case = praho_session.execute(select(DunningCase)).scalar_one()
    assert (invoice.payment_status, case.status) == ("paid", "paid")
    _balanced(praho_session)


def test_a_proforma_paid_late_is_converted_and_its_invoice_reactivates_the_service(
    praho_factory, praho_session
):
    from praho.core.models import InvoiceMode
    from praho.core.services.proforma_payments import pay_proforma

    customer = praho_factory.customer(invoice_mode=InvoiceMode.PROFORMA)
    subscription = praho_factory.subscription(customer=customer, start="2026-01-31")
    proforma = praho_session.execute(select(Invoice)).scalars().one()
    assert proforma.kind == "proforma"
    _days(praho_session, "2026-02-14", "2026-03-01", billing=False)
    assert praho_session.get(Subscription, subscription.id).status == "suspended"
    # The transfer arrives: the proforma becomes its invoice, paid at once; invoice_paid
    # closes the proforma's case and lifts the suspension without waiting for a run.
    invoice, _payment = pay_proforma(praho_session, proforma, bank_reference="OP-PRO",
                                     received_on="2026-03-02", now=at("2026-03-02", 10))
    assert invoice.payment_status == "paid"
    case = praho_session.execute(select(DunningCase)).scalar_one()
    assert case.invoice_id == proforma.id and case.status == "closed"
    assert praho_session.get(Subscription, subscription.id).status == "active"
    reasons = [r for (r,) in praho_session.execute(select(CollectionAction.reason).where(
        CollectionAction.kind == "closed"))]
    assert reasons == [f"converted to invoice {invoice.full_number}"]
    _balanced(praho_session)


def test_an_invoice_unpaid_again_gets_a_second_round(praho_factory, praho_session):
    from praho.core.services.dunning import open_case

    praho_factory.subscription(start="2026-01-31")
    invoice = praho_session.execute(select(Invoice)).scalars().one()
    _days(praho_session, "2026-02-15", "2026-02-17", billing=False)
    _pay_by_credit(praho_session, invoice, at("2026-02-18"))
    case = praho_session.execute(select(DunningCase)).scalar_one()
    assert case.status == "paid"
    # A chargeback made it unpaid again (simulated on the document's payment columns).
    invoice.amount_paid_minor, invoice.payment_status = 0, "unpaid"
    open_case(praho_session, invoice, reason="payment reversed", now=at("2026-02-20", 12))
    _days(praho_session, "2026-02-21", "2026-02-23", billing=False)
    assert (case.status, case.round) == ("open", 2)
    keys = [k for _, k, _ in _actions(praho_session, invoice.id)]
    assert keys.count("email:step:1") == 1 and "email:step:1@2" in keys and "opened@2" in keys
