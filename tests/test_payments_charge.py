"""Charging invoices through a gateway: outcomes, idempotency, unknown outcomes settled."""

from datetime import timedelta

import pytest
from praho.core.errors import FieldError, IdempotencyConflict, InvalidTransition, PluginError
from praho.core.models import AccountCode, Payment, PaymentAttempt, PaymentStatus
from praho.core.payments.gateway import GatewayResult, TransactionStatus, TransactionType
from praho.core.payments.testing import (
    PaymentHooks,
    assert_ledger_balanced,
    customer_with_card,
    row_counts,
)
from praho.core.services import ledger
from praho.core.services.payments import (
    apply_gateway_result,
    charge_invoice,
    find_attempt,
    get_gateway,
    settle_unknown_attempts,
)
from praho.core.testing import DEFAULT_NOW, StaticTestPlugin
from praho.plugins.fake_gateway.gateway import GATEWAY, fee_for
from sqlalchemy import select

NOW = DEFAULT_NOW
TOTAL = 12100  # 100.00 + 21 % VAT


@pytest.fixture
def hooks():
    return PaymentHooks()


@pytest.fixture
def praho_plugins(hooks):
    return [("static_test", StaticTestPlugin()), ("payment_hooks", hooks)]


def _invoice(factory, token="tok_success"):
    customer = customer_with_card(factory, token)
    return factory.invoice(customer)


def test_hook_register_payment_gateways(praho_app):
    gateway = get_gateway("fake")
    assert gateway.id == "fake" and gateway is GATEWAY
    with pytest.raises(PluginError, match="no payment gateway 'nope' is loaded.*fake"):
        get_gateway("nope")


def test_hook_payment_succeeded(praho_factory, praho_session, hooks):
    invoice = _invoice(praho_factory)
    attempt = charge_invoice(praho_session, invoice, now=NOW)

    assert attempt.status == "processed" and attempt.gateway_id == "fake"
    assert attempt.key.startswith("pa_") and attempt.amount_minor == TOTAL
    assert GATEWAY.charged_minor(attempt.key) == TOTAL
    payment = praho_session.execute(select(Payment).where(Payment.attempt_id == attempt.id)).scalar_one()
    assert (payment.amount_minor, payment.fee_minor, payment.kind) == (TOTAL, fee_for(TOTAL), "card")
    assert [(a.invoice_id, a.amount_minor) for a in payment.allocations] == [(invoice.id, TOTAL)]
    assert invoice.payment_status == PaymentStatus.PAID and invoice.amount_paid_minor == TOTAL
    assert hooks.calls == [("invoice_paid", invoice.id), ("payment_succeeded", TOTAL)]
    # Ledger: receivable cleared, clearing holds the money less the fee, the fee is an expense.
    assert ledger.customer_receivable(praho_session, invoice.customer_id, "RON") == 0
    assert ledger.account_balance(praho_session, "5125.fake", "RON") == TOTAL - fee_for(TOTAL)
    assert ledger.account_balance(praho_session, AccountCode.GATEWAY_FEES, "RON") == fee_for(TOTAL)
    assert_ledger_balanced(praho_session)


def test_hook_invoice_paid(praho_factory, praho_session, hooks):
    invoice = _invoice(praho_factory)
    charge_invoice(praho_session, invoice, now=NOW)
    assert ("invoice_paid", invoice.id) in hooks.calls
    # Paying is once: applying the same success again fires nothing more.
    attempt = find_attempt(praho_session, key=invoice_attempts(praho_session, invoice)[0].key)
    apply_gateway_result(praho_session, attempt, GatewayResult(
        TransactionStatus.PROCESSED, TransactionType.PURCHASE, gateway_reference="x"), now=NOW)
    assert hooks.names().count("invoice_paid") == 1


def invoice_attempts(session, invoice):
    return session.execute(select(PaymentAttempt).where(PaymentAttempt.invoice_id == invoice.id)
                           .order_by(PaymentAttempt.id)).scalars().all()


@pytest.mark.parametrize("token, code, hard", [
    ("tok_decline", "card_declined", False),
    ("tok_insufficient_funds", "insufficient_funds", False),
    ("tok_expired", "expired_card", True),
])
def test_hook_payment_failed(praho_factory, praho_session, hooks, token, code, hard):
    invoice = _invoice(praho_factory, token)
    entries_before = len(ledger.trial_balance(praho_session))
    attempt = charge_invoice(praho_session, invoice, now=NOW)

    assert (attempt.status, attempt.error_code, attempt.hard_decline) == ("error", code, hard)
    assert attempt.settled_at == NOW
    assert invoice.payment_status == PaymentStatus.UNPAID
    assert hooks.calls == [("payment_failed", code)]
    assert GATEWAY.charged_minor(attempt.key) == 0
    assert len(ledger.trial_balance(praho_session)) == entries_before
    # A retry is a new attempt with a new key.
    retry = charge_invoice(praho_session, invoice, now=NOW, reason="retry")
    assert retry.attempt_number == 2 and retry.key != attempt.key


def test_renewal_charge_is_attempt_one_and_never_repeats(praho_factory, praho_session):
    invoice = _invoice(praho_factory, "tok_decline")
    first = charge_invoice(praho_session, invoice, now=NOW)
    again = charge_invoice(praho_session, invoice, now=NOW + timedelta(hours=1))
    assert again.id == first.id and len(invoice_attempts(praho_session, invoice)) == 1


def test_same_key_same_parameters_returns_the_stored_attempt(praho_factory, praho_session):
    invoice = _invoice(praho_factory, "tok_decline")
    first = charge_invoice(praho_session, invoice, now=NOW, reason="manual", idempotency_key="k-1")
    second = charge_invoice(praho_session, invoice, now=NOW, reason="manual", idempotency_key="k-1")
    assert second.id == first.id
    assert len(invoice_attempts(praho_session, invoice)) == 1


def test_same_key_other_parameters_is_refused_and_writes_nothing(praho_factory, praho_session):
    invoice = _invoice(praho_factory, "tok_decline")
    charge_invoice(praho_session, invoice, now=NOW, reason="manual", idempotency_key="k-2")
    praho_session.commit()
    before = row_counts(praho_session)
    with pytest.raises(IdempotencyConflict, match="different parameters"):
        charge_invoice(praho_session, invoice, now=NOW, reason="retry", idempotency_key="k-2")
    assert row_counts(praho_session) == before


def test_a_key_may_be_reused_after_its_lifetime(praho_factory, praho_session):
    invoice = _invoice(praho_factory, "tok_decline")
    first = charge_invoice(praho_session, invoice, now=NOW, reason="manual", idempotency_key="k-3")
    later = charge_invoice(praho_session, invoice, now=NOW + timedelta(hours=25), reason="retry",
                           idempotency_key="k-3")
    assert later.id != first.id and later.attempt_number == 2


def test_bad_input_writes_nothing(praho_factory, praho_session):
    invoice = _invoice(praho_factory)
    other = customer_with_card(praho_factory)
    from praho.core.services.payments import default_method

    stranger_method = default_method(praho_session, other)
    no_card = praho_factory.invoice(praho_factory.customer())
    praho_session.commit()
    before = row_counts(praho_session)
    with pytest.raises(FieldError, match="reason"):
        charge_invoice(praho_session, invoice, now=NOW, reason="whim")
    with pytest.raises(FieldError, match="idempotency_key"):
        charge_invoice(praho_session, invoice, now=NOW, idempotency_key="x" * 300)
    with pytest.raises(FieldError, match="method: belongs to another customer"):
        charge_invoice(praho_session, invoice, now=NOW, method=stranger_method)
    with pytest.raises(FieldError, match="no default payment method"):
        charge_invoice(praho_session, no_card, now=NOW)
    assert row_counts(praho_session) == before


def test_nothing_due_and_drafts_are_refused(praho_factory, praho_session):
    invoice = _invoice(praho_factory)
    charge_invoice(praho_session, invoice, now=NOW)
    with pytest.raises(InvalidTransition, match="nothing is due"):
        charge_invoice(praho_session, invoice, now=NOW, reason="manual")
    draft = praho_factory.draft(praho_factory.customer())
    with pytest.raises(InvalidTransition, match="only issued invoices"):
        charge_invoice(praho_session, draft, now=NOW, reason="manual")


def test_timeout_after_charging_is_settled_by_asking_never_by_resending(
        praho_factory, praho_session, hooks):
    invoice = _invoice(praho_factory, "tok_timeout")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    assert attempt.status == "unknown" and attempt.error_code == "timeout"
    assert invoice.payment_status == PaymentStatus.UNPAID
    with pytest.raises(InvalidTransition, match="never by charging again"):
        charge_invoice(praho_session, invoice, now=NOW, reason="manual")

    too_soon = settle_unknown_attempts(praho_session, now=NOW)
    assert too_soon.checked == 0
    report = settle_unknown_attempts(praho_session, now=NOW + timedelta(minutes=5))
    assert (report.checked, report.settled) == (1, 1)
    assert attempt.status == "processed" and invoice.payment_status == PaymentStatus.PAID
    assert GATEWAY.charged_minor(attempt.key) == TOTAL  # charged once, by the first call
    assert hooks.names() == ["invoice_paid", "payment_succeeded"]
    assert settle_unknown_attempts(praho_session, now=NOW + timedelta(minutes=10)).checked == 0
    assert_ledger_balanced(praho_session)


def test_timeout_before_the_gateway_received_it_becomes_an_error_later(praho_factory, praho_session):
    invoice = _invoice(praho_factory, "tok_timeout_lost")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    assert attempt.status == "unknown"
    report = settle_unknown_attempts(praho_session, now=NOW + timedelta(minutes=5))
    assert (report.still_open, attempt.status) == (1, "unknown")
    report = settle_unknown_attempts(praho_session, now=NOW + timedelta(hours=2))
    assert report.given_up == 1
    assert (attempt.status, attempt.error_code, attempt.hard_decline) == ("error", "outcome_lost", False)
    assert GATEWAY.charged_minor(attempt.key) == 0
    retry = charge_invoice(praho_session, invoice, now=NOW + timedelta(hours=3), reason="retry")
    assert retry.attempt_number == 2


def test_pending_then_processed_through_the_settle_task(praho_factory, praho_session):
    invoice = _invoice(praho_factory, "tok_pending")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    assert attempt.status == "pending" and attempt.settled_at is None
    settle_unknown_attempts(praho_session, now=NOW + timedelta(minutes=3))
    assert attempt.status == "processed"
    payment = praho_session.execute(select(Payment).where(Payment.attempt_id == attempt.id)).scalar_one()
    assert payment.fee_minor == fee_for(TOTAL)
    assert invoice.payment_status == PaymentStatus.PAID


def test_results_are_idempotent_and_out_of_order_results_are_ignored(praho_factory, praho_session):
    invoice = _invoice(praho_factory, "tok_pending")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    success = GatewayResult(TransactionStatus.PROCESSED, TransactionType.PURCHASE,
                            gateway_reference=attempt.gateway_reference, amount_minor=TOTAL,
                            currency="RON", fee_minor=100)
    for _ in range(3):
        apply_gateway_result(praho_session, attempt, success, now=NOW)
    for late in (TransactionStatus.PENDING, TransactionStatus.ERROR, TransactionStatus.UNDEFINED):
        apply_gateway_result(praho_session, attempt, GatewayResult(
            late, TransactionType.PURCHASE, error_code="card_declined"), now=NOW)
    assert attempt.status == "processed" and attempt.error_code is None
    payments = praho_session.execute(select(Payment).where(Payment.attempt_id == attempt.id)).scalars().all()
    assert len(payments) == 1 and invoice.amount_paid_minor == TOTAL
    assert find_attempt(praho_session, gateway_id="fake",
                        gateway_reference=attempt.gateway_reference).id == attempt.id
    assert_ledger_balanced(praho_session)


def test_a_success_after_a_recorded_error_is_money_received(praho_factory, praho_session):
    invoice = _invoice(praho_factory, "tok_decline")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    apply_gateway_result(praho_session, attempt, GatewayResult(
        TransactionStatus.PROCESSED, TransactionType.PURCHASE, amount_minor=TOTAL), now=NOW)
    assert attempt.status == "processed" and invoice.payment_status == PaymentStatus.PAID


def test_success_on_an_invoice_paid_meanwhile_becomes_customer_credit(praho_factory, praho_session):
    from praho.core.services.payments import record_bank_transfer

    invoice = _invoice(praho_factory, "tok_pending")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    customer = praho_session.get(type(praho_factory.customer()), invoice.customer_id)
    record_bank_transfer(praho_session, customer=customer, amount_minor=TOTAL, currency="RON",
                         bank_reference="OP-77", received_on="2026-03-02", now=NOW)
    settle_unknown_attempts(praho_session, now=NOW + timedelta(minutes=3))
    assert attempt.status == "processed" and invoice.amount_paid_minor == TOTAL
    assert ledger.customer_credit_balance(praho_session, customer.id, "RON") == TOTAL
    assert_ledger_balanced(praho_session)


def test_a_key_whose_first_request_failed_runs_again(praho_factory, praho_session):
    customer = praho_factory.customer()
    invoice = praho_factory.invoice(customer)
    with pytest.raises(FieldError, match="no default payment method"):
        charge_invoice(praho_session, invoice, now=NOW, reason="manual", idempotency_key="k-4")
    praho_session.commit()  # a careless caller commits after the error
    from praho.core.services.payments import add_payment_method

    add_payment_method(praho_session, customer=customer, gateway_id="fake",
                       setup_reference="tok_success")
    attempt = charge_invoice(praho_session, invoice, now=NOW, reason="manual", idempotency_key="k-4")
    assert attempt.status == "processed"


def test_a_partial_capture_leaves_the_rest_due_and_an_over_capture_becomes_credit(
        praho_factory, praho_session):
    partial = _invoice(praho_factory, "tok_pending")
    attempt = charge_invoice(praho_session, partial, now=NOW)
    apply_gateway_result(praho_session, attempt, GatewayResult(
        TransactionStatus.PROCESSED, TransactionType.PURCHASE, amount_minor=7000, currency="RON"),
        now=NOW)
    assert (partial.payment_status, partial.balance_due_minor) == (PaymentStatus.PARTIALLY_PAID, 5100)

    over = _invoice(praho_factory, "tok_pending")
    attempt = charge_invoice(praho_session, over, now=NOW)
    apply_gateway_result(praho_session, attempt, GatewayResult(
        TransactionStatus.PROCESSED, TransactionType.PURCHASE, amount_minor=TOTAL + 500,
        currency="RON"), now=NOW)
    assert over.payment_status == PaymentStatus.PAID
    assert ledger.customer_credit_balance(praho_session, over.customer_id, "RON") == 500
    assert_ledger_balanced(praho_session)


def test_expired_keys_are_purged_after_their_lifetime(praho_factory, praho_session):
    from praho.core.models import IdempotencyRecord
    from praho.core.services.payments import KEY_LIFETIME, purge_expired_keys

    invoice = _invoice(praho_factory, "tok_decline")
    charge_invoice(praho_session, invoice, now=NOW, reason="manual", idempotency_key="k-purge")
    assert purge_expired_keys(praho_session, now=NOW + KEY_LIFETIME - timedelta(seconds=1)) == 0
    assert purge_expired_keys(praho_session, now=NOW + KEY_LIFETIME) == 1
    assert praho_session.execute(select(IdempotencyRecord)).first() is None
