"""An invoice owed again after a chargeback is chased, even when its case had closed paid.

The collection run's overdue scan reopens a case that closed ``paid`` on an invoice that
owes money again, as a fresh round. A charged-back invoice is never charged again on its
own: the case asks the customer to act (as after a hard decline) until a new card is
saved or the invoice is paid another way.
"""

from __future__ import annotations

from datetime import timedelta

from praho.core.models import CollectionAction, DunningCase, EmailMessage, Payment, PaymentAttempt
from praho.core.models.collections import DunningCaseStatus
from praho.core.models.disputes import DisputeStatus
from praho.core.payments.testing import assert_ledger_balanced, customer_with_card
from praho.core.services.collections import run_collections, start_collection_run
from praho.core.services.disputes import DisputeReport, record_dispute
from praho.core.services.payments import add_payment_method, charge_invoice
from praho.core.testing import DEFAULT_NOW
from sqlalchemy import func, select

NOW = DEFAULT_NOW


def _lose_dispute(session, attempt, reference):
    """The customer disputes the payment of ``attempt`` and wins (day +5 to +20)."""
    payment = session.execute(select(Payment).where(Payment.attempt_id == attempt.id)).scalar_one()
    report = DisputeReport("fake", reference, payment.gateway_reference, payment.amount_minor,
                           payment.currency, DisputeStatus.OPEN)
    record_dispute(session, report, now=NOW + timedelta(days=5))
    lost = DisputeReport(**{**report.__dict__, "status": DisputeStatus.LOST})
    record_dispute(session, lost, now=NOW + timedelta(days=20))


def _case(session, invoice):
    return session.execute(
        select(DunningCase).where(DunningCase.invoice_id == invoice.id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _keys(session, invoice):
    return [k for (k,) in session.execute(
        select(CollectionAction.step_key).where(CollectionAction.invoice_id == invoice.id)
        .order_by(CollectionAction.id))]


def _attempts(session, invoice):
    return session.scalar(select(func.count()).select_from(PaymentAttempt)
                          .where(PaymentAttempt.invoice_id == invoice.id))


def test_a_paid_case_reopens_for_a_second_round_after_a_chargeback(
    praho_session, praho_factory
):
    session = praho_session
    customer = customer_with_card(praho_factory, "tok_decline")
    invoice = praho_factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    charge_invoice(session, invoice, now=NOW)  # declined: the case opens
    add_payment_method(session, customer=customer, gateway_id="fake", setup_reference="tok_success")
    paid = charge_invoice(session, invoice, now=NOW + timedelta(hours=1), reason="manual")
    case = _case(session, invoice)
    assert (paid.status, case.status, case.round) == ("processed", "paid", 1)

    _lose_dispute(session, paid, "dp_closed_case")
    assert invoice.balance_due_minor == invoice.total_minor > 0
    attempts_before = _attempts(session, invoice)

    run = run_collections(session, now=NOW + timedelta(days=21))
    case = _case(session, invoice)
    assert (case.status, case.round) == (DunningCaseStatus.ACTION_REQUIRED, 2)
    assert "charged back" in case.opened_because and "charged back" in case.last_error
    this_run = [k for (k,) in session.execute(select(CollectionAction.step_key).where(
        CollectionAction.run_id == run.id, CollectionAction.invoice_id == invoice.id))]
    assert this_run[:3] == ["opened@2", "stopped:0@2", "email:action_required@2"]
    mail = session.execute(select(EmailMessage).where(
        EmailMessage.template.like("dunning_action_required%"))).scalars().all()
    assert len(mail) == 1 and invoice.full_number in mail[0].body_text

    # Re-runs (the same day, the next days) reopen nothing again and never charge the
    # disputed card; the case keeps chasing with reminders.
    for moment in (NOW + timedelta(days=21, hours=2), NOW + timedelta(days=23),
                   NOW + timedelta(days=30)):
        run_collections(session, now=moment)
    case = _case(session, invoice)
    keys = _keys(session, invoice)
    assert (case.status, case.round) == (DunningCaseStatus.ACTION_REQUIRED, 2)
    assert keys.count("opened@2") == 1 and "opened@3" not in keys
    assert "email:step:1@2" in keys
    assert _attempts(session, invoice) == attempts_before

    # The customer saves a new card: the next run tries it once, and the case closes paid.
    add_payment_method(session, customer=customer, gateway_id="fake", setup_reference="tok_success")
    run_collections(session, now=NOW + timedelta(days=31))
    case = _case(session, invoice)
    assert invoice.balance_due_minor == 0 and case.status == DunningCaseStatus.PAID
    assert _attempts(session, invoice) == attempts_before + 1
    assert_ledger_balanced(session)


def test_a_chargeback_without_an_earlier_case_opens_one_that_does_not_retry_the_card(
    praho_session, praho_factory
):
    session = praho_session
    customer = customer_with_card(praho_factory, "tok_success")
    invoice = praho_factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    paid = charge_invoice(session, invoice, now=NOW)
    assert _case(session, invoice) is None
    _lose_dispute(session, paid, "dp_no_case")
    attempts_before = _attempts(session, invoice)
    for day in (21, 22, 25):
        run_collections(session, now=NOW + timedelta(days=day))
    case = _case(session, invoice)
    assert (case.status, case.round) == (DunningCaseStatus.ACTION_REQUIRED, 1)
    assert _keys(session, invoice).count("opened") == 1
    assert _attempts(session, invoice) == attempts_before
    assert_ledger_balanced(session)


def test_a_case_that_ended_otherwise_is_not_reopened_and_a_paid_invoice_is_left_alone(
    praho_session, praho_factory
):
    session = praho_session
    written_off = praho_factory.invoice(praho_factory.customer(),
                                        [("Web Hosting", "1", "100.00")], now=NOW)
    start_collection_run(session, now=NOW + timedelta(days=20))
    case = _case(session, written_off)
    assert case.status == DunningCaseStatus.OPEN
    # Closed by hand (written off, settled outside PRAHO): there is no service for it yet,
    # so the row is set as the back office would leave it.
    case.status = DunningCaseStatus.CLOSED
    customer = customer_with_card(praho_factory, "tok_success")
    settled = praho_factory.invoice(customer, [("Web Hosting", "1", "50.00")], now=NOW)
    charge_invoice(session, settled, now=NOW)
    session.flush()
    run_collections(session, now=NOW + timedelta(days=40))
    case = _case(session, written_off)
    assert (case.status, case.round) == (DunningCaseStatus.CLOSED, 1)
    assert _case(session, settled) is None
