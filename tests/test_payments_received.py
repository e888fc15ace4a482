"""Money received by bank transfer, partial and over payments, customer credit, methods."""

from datetime import date, timedelta

import pytest
from praho.core.errors import FieldError, InvalidTransition, ValidationFailed
from praho.core.models import AccountCode, Payment, PaymentStatus
from praho.core.payments.testing import assert_ledger_balanced, customer_with_card, row_counts
from praho.core.services import ledger
from praho.core.services.payments import (
    add_payment_method,
    allocate_payment,
    apply_customer_credit,
    charge_invoice,
    default_method,
    record_bank_transfer,
    remove_payment_method,
    set_default_method,
)
from praho.core.testing import DEFAULT_NOW
from praho.plugins.fake_gateway.gateway import GATEWAY, fee_for
from sqlalchemy import select

NOW = DEFAULT_NOW
TOTAL = 12100


def _transfer(session, customer, amount, reference, **kw):
    kw.setdefault("received_on", "2026-03-02")
    return record_bank_transfer(session, customer=customer, amount_minor=amount, currency="RON",
                                bank_reference=reference, now=NOW, **kw)


def test_partial_then_over_payment_by_bank_transfer(praho_factory, praho_session):
    customer = praho_factory.customer()
    invoice = praho_factory.invoice(customer)

    first = _transfer(praho_session, customer, 5000, "OP-1")
    assert invoice.payment_status == PaymentStatus.PARTIALLY_PAID
    assert (invoice.amount_paid_minor, invoice.balance_due_minor) == (5000, 7100)
    assert first.kind == "bank_transfer" and first.received_at.date() <= date(2026, 3, 2)
    assert_ledger_balanced(praho_session)

    second = _transfer(praho_session, customer, 10000, "OP-2")
    assert invoice.payment_status == PaymentStatus.PAID and invoice.amount_paid_minor == TOTAL
    assert second.allocated_minor == 7100 and second.unallocated_minor == 2900
    assert ledger.customer_credit_balance(praho_session, customer.id, "RON") == 2900
    assert ledger.customer_receivable(praho_session, customer.id, "RON") == 0
    assert ledger.account_balance(praho_session, AccountCode.BANK, "RON") == 15000
    assert_ledger_balanced(praho_session)


def test_auto_allocation_pays_the_oldest_invoice_first(praho_factory, praho_session):
    customer = praho_factory.customer()
    older = praho_factory.invoice(customer, now=NOW - timedelta(days=30))
    newer = praho_factory.invoice(customer)
    _transfer(praho_session, customer, 15000, "OP-3")
    assert older.payment_status == PaymentStatus.PAID
    assert (newer.payment_status, newer.amount_paid_minor) == (PaymentStatus.PARTIALLY_PAID, 2900)


def test_explicit_allocations_and_the_rest_to_credit(praho_factory, praho_session):
    customer = praho_factory.customer()
    older = praho_factory.invoice(customer, now=NOW - timedelta(days=30))
    newer = praho_factory.invoice(customer)
    payment = _transfer(praho_session, customer, 20000, "OP-4", allocations=[(newer, TOTAL)])
    assert newer.payment_status == PaymentStatus.PAID
    assert older.payment_status == PaymentStatus.UNPAID
    assert payment.unallocated_minor == 20000 - TOTAL

    allocate_payment(praho_session, payment, older, 5000, now=NOW)
    assert older.payment_status == PaymentStatus.PARTIALLY_PAID
    assert ledger.customer_credit_balance(praho_session, customer.id, "RON") == 20000 - TOTAL - 5000
    with pytest.raises(FieldError, match="left unallocated"):
        allocate_payment(praho_session, payment, older, 5000, now=NOW)
    assert_ledger_balanced(praho_session)


def test_recording_the_same_transfer_twice_returns_the_first(praho_factory, praho_session):
    customer = praho_factory.customer()
    praho_factory.invoice(customer)
    first = _transfer(praho_session, customer, 5000, "OP-5")
    assert _transfer(praho_session, customer, 5000, "OP-5").id == first.id
    with pytest.raises(FieldError, match="bank_reference: OP-5 was already recorded"):
        _transfer(praho_session, customer, 6000, "OP-5")


def test_bad_transfers_write_nothing(praho_factory, praho_session):
    customer = praho_factory.customer()
    invoice = praho_factory.invoice(customer)
    stranger_invoice = praho_factory.invoice(praho_factory.customer())
    proforma = praho_factory.draft(customer, kind="proforma")
    from praho.core.services.issuing import issue_document

    issue_document(praho_session, proforma, now=NOW)
    before = row_counts(praho_session)
    cases = [
        ({"amount": -5}, "amount_minor: must not be negative"),
        ({"amount": 0}, "amount_minor: must be positive"),
        ({"amount": 10.5}, "amount_minor: must be an integer"),
        ({"currency": "XYZ"}, "currency"),
        ({"reference": ""}, "bank_reference: is required"),
        ({"received_on": "2026-03-09"}, "received_on"),
        ({"allocations": [(stranger_invoice, 100)]}, "belongs to another customer"),
        ({"allocations": [(proforma, 100)]}, "only invoices take payments"),
        ({"allocations": [(invoice, TOTAL + 1)]}, "more than the 12100 due"),
        ({"allocations": [(invoice, 100), (invoice, 100)]}, "listed twice"),
        ({"amount": 100, "allocations": [(invoice, 200)]}, "only 100 was received"),
    ]
    for overrides, message in cases:
        kwargs = {"customer": customer, "amount_minor": overrides.get("amount", 5000),
                  "currency": overrides.get("currency", "RON"),
                  "bank_reference": overrides.get("reference", "OP-BAD"),
                  "received_on": overrides.get("received_on", "2026-03-02"), "now": NOW}
        if "allocations" in overrides:
            kwargs["allocations"] = overrides["allocations"]
        with pytest.raises((FieldError, ValidationFailed), match=message):
            record_bank_transfer(praho_session, **kwargs)
        assert row_counts(praho_session) == before, message
    assert invoice.payment_status == PaymentStatus.UNPAID


def test_credit_pays_first_and_the_card_the_rest(praho_factory, praho_session):
    customer = customer_with_card(praho_factory)
    praho_factory.invoice(customer, now=NOW - timedelta(days=30))
    _transfer(praho_session, customer, TOTAL + 3000, "OP-6")  # pays it, 30.00 to credit
    invoice = praho_factory.invoice(customer)

    attempt = charge_invoice(praho_session, invoice, now=NOW)
    assert attempt.amount_minor == TOTAL - 3000 and attempt.status == "processed"
    assert GATEWAY.charged_minor(attempt.key) == TOTAL - 3000
    assert invoice.payment_status == PaymentStatus.PAID
    assert ledger.customer_credit_balance(praho_session, customer.id, "RON") == 0
    assert ledger.account_balance(praho_session, "5125.fake", "RON") == TOTAL - 3000 - fee_for(TOTAL - 3000)
    assert_ledger_balanced(praho_session)


def test_credit_alone_pays_without_calling_a_gateway(praho_factory, praho_session):
    customer = praho_factory.customer()  # no method on file at all
    _transfer(praho_session, customer, 20000, "OP-7")  # nothing open: all credit
    invoice = praho_factory.invoice(customer)
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    assert (attempt.gateway_id, attempt.status, attempt.amount_minor) == ("credit", "processed", TOTAL)
    assert invoice.payment_status == PaymentStatus.PAID
    assert ledger.customer_credit_balance(praho_session, customer.id, "RON") == 20000 - TOTAL
    assert_ledger_balanced(praho_session)


def test_apply_customer_credit_uses_credit_from_any_source(praho_factory, praho_session):
    customer = praho_factory.customer()
    invoice = praho_factory.invoice(customer)
    # A goodwill credit posted directly (as the refund services do): no payment behind it.
    ledger.post_entry(praho_session, kind="goodwill", memo="goodwill", now=NOW,
                      idempotency_key="goodwill-1", postings=[
                          ledger.debit(AccountCode.DISCOUNTS, 4000, "RON"),
                          ledger.credit(AccountCode.CUSTOMER_CREDIT, 4000, "RON",
                                        customer_id=customer.id)])
    assert apply_customer_credit(praho_session, invoice, now=NOW) == 4000
    assert invoice.amount_paid_minor == 4000
    payment = praho_session.execute(select(Payment).where(Payment.customer_id == customer.id)).scalar_one()
    assert payment.kind == "credit"
    assert apply_customer_credit(praho_session, invoice, now=NOW) == 0
    assert_ledger_balanced(praho_session)


def test_allocate_refuses_credit_already_spent(praho_factory, praho_session):
    customer = praho_factory.customer()
    payment = _transfer(praho_session, customer, 5000, "OP-8")
    invoice = praho_factory.invoice(customer)
    # Spend the credit elsewhere without touching the payment (as a refund of credit would).
    ledger.post_entry(praho_session, kind="refund", memo="refund", now=NOW, idempotency_key="r-1",
                      postings=[ledger.debit(AccountCode.CUSTOMER_CREDIT, 5000, "RON",
                                             customer_id=customer.id),
                                ledger.credit(AccountCode.BANK, 5000, "RON")])
    with pytest.raises(InvalidTransition, match="no longer covers"):
        allocate_payment(praho_session, payment, invoice, 5000, now=NOW)


def test_methods_one_default_removed_never_charged(praho_factory, praho_session):
    customer = customer_with_card(praho_factory)
    first = default_method(praho_session, customer)
    assert first.last4 == "4242" and first.token.startswith("tok_success_")
    assert "4242" in first.label()
    second = add_payment_method(praho_session, customer=customer, gateway_id="fake",
                                setup_reference="tok_decline", make_default=False)
    assert default_method(praho_session, customer).id == first.id
    set_default_method(praho_session, second)
    assert default_method(praho_session, customer).id == second.id and not first.is_default
    remove_payment_method(praho_session, second, now=NOW)
    assert default_method(praho_session, customer) is None
    assert second.token in GATEWAY.removed_tokens
    invoice = praho_factory.invoice(customer)
    with pytest.raises(FieldError, match="was removed"):
        charge_invoice(praho_session, invoice, now=NOW, method=second)
    with pytest.raises(FieldError, match="setup_reference"):
        add_payment_method(praho_session, customer=customer, gateway_id="fake", setup_reference="")
    with pytest.raises(FieldError, match="gateway_id"):
        add_payment_method(praho_session, customer=customer, gateway_id="nope",
                           setup_reference="tok_success")


def test_bad_allocations_write_nothing(praho_factory, praho_session):
    customer = praho_factory.customer()
    payment = _transfer(praho_session, customer, 5000, "OP-9")
    invoice = praho_factory.invoice(customer)
    stranger = praho_factory.invoice(praho_factory.customer())
    before = row_counts(praho_session)
    for args, message in [((invoice, 0), "must be positive"), ((invoice, -1), "must not be negative"),
                          ((invoice, 5001), "left unallocated"), ((stranger, 100), "another customer")]:
        with pytest.raises(FieldError, match=message):
            allocate_payment(praho_session, payment, *args, now=NOW)
        assert row_counts(praho_session) == before


def test_allocations_are_append_only(praho_factory, praho_session):
    from praho.core.errors import AppendOnlyViolation
    from praho.core.models import PaymentAllocation
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    customer = praho_factory.customer()
    praho_factory.invoice(customer)
    payment = _transfer(praho_session, customer, 5000, "OP-10")
    praho_session.commit()
    allocation = payment.allocations[0]
    allocation.amount_minor = 1
    with pytest.raises(AppendOnlyViolation):
        praho_session.flush()
    praho_session.rollback()
    praho_session.delete(praho_session.get(PaymentAllocation, allocation.id))
    with pytest.raises(AppendOnlyViolation):
        praho_session.flush()
    praho_session.rollback()
    if praho_session.get_bind().dialect.name == "postgresql":  # the trigger, below the ORM
        with pytest.raises(DBAPIError, match="append-only"), praho_session.begin_nested():
            praho_session.execute(text("UPDATE payment_allocations SET amount_minor = 1"))


def test_gateway_payments_without_an_attempt_are_recorded_once(praho_factory, praho_session):
    from praho.core.services.payments import record_gateway_payment

    customer = praho_factory.customer()
    other = praho_factory.invoice(customer, now=NOW - timedelta(days=30))  # the oldest
    invoice = praho_factory.invoice(customer)
    kwargs = {"customer": customer, "gateway_id": "fake", "gateway_reference": "fake_order_1",
              "amount_minor": TOTAL + 100, "currency": "RON", "fee_minor": 50, "kind": "paypal",
              "invoice": invoice, "now": NOW}
    payment = record_gateway_payment(praho_session, **kwargs)
    assert record_gateway_payment(praho_session, **kwargs).id == payment.id
    assert invoice.payment_status == PaymentStatus.PAID  # the invoice named, not the oldest
    assert other.payment_status == PaymentStatus.UNPAID
    assert (payment.kind, payment.unallocated_minor) == ("paypal", 100)
    assert ledger.account_balance(praho_session, "5125.fake", "RON") == TOTAL + 100 - 50
    assert_ledger_balanced(praho_session)
    for change, message in [({"amount_minor": 5, "fee_minor": 0}, "other details"),
                            ({"gateway_id": "nope"}, "gateway_id"),
                            ({"fee_minor": TOTAL + 200}, "fee_minor"),
                            ({"gateway_reference": ""}, "gateway_reference"),
                            ({"invoice": praho_factory.invoice(praho_factory.customer())},
                             "another customer")]:
        before = row_counts(praho_session)
        with pytest.raises((FieldError, ValidationFailed), match=message):
            record_gateway_payment(praho_session, **{**kwargs, **change})
        assert row_counts(praho_session) == before, message
