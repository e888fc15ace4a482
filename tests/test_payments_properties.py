"""Random sequences of payment operations keep the books consistent and never charge twice."""

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from praho.core.errors import InvalidTransition
from praho.core.models import Invoice, Payment, PaymentAllocation, PaymentAttempt
from praho.core.payments.testing import assert_ledger_balanced
from praho.core.services import ledger
from praho.core.services.payments import (
    add_payment_method,
    apply_customer_credit,
    charge_invoice,
    open_invoices,
    record_bank_transfer,
    settle_unknown_attempts,
)
from praho.core.testing import DEFAULT_NOW, fuzz_settings, fuzz_tried
from praho.plugins.fake_gateway.gateway import GATEWAY, MAGIC
from sqlalchemy import select

operations = st.lists(st.one_of(
    st.tuples(st.just("invoice"), st.integers(1, 50000)),
    st.tuples(st.just("transfer"), st.integers(1, 80000)),
    st.tuples(st.just("charge"), st.sampled_from(MAGIC)),
    st.tuples(st.just("credit"), st.just(0)),
    st.tuples(st.just("settle"), st.sampled_from([1, 5, 90])),
), min_size=1, max_size=10)


@fuzz_settings(factor=0.5)
@given(ops=operations)
def test_random_payment_sequences_keep_every_invariant(praho_factory, praho_session, ops):
    fuzz_tried("payments: operation sequences")
    session = praho_session
    customer = praho_factory.customer()
    now = DEFAULT_NOW
    for step, (op, value) in enumerate(ops):
        now += timedelta(minutes=1)
        if op == "invoice":
            praho_factory.invoice(customer, lines=[("Hosting", "1", f"{value / 100:.2f}")], now=now)
        elif op == "transfer":
            record_bank_transfer(session, customer=customer, amount_minor=value, currency="RON",
                                 bank_reference=f"P-{customer.id}-{step}", received_on=now.date(),
                                 now=now)
        elif op == "charge":
            add_payment_method(session, customer=customer, gateway_id="fake",
                               setup_reference=value, now=now)
            for invoice in open_invoices(session, customer.id, "RON")[:1]:
                try:
                    charge_invoice(session, invoice, now=now, reason="manual")
                except InvalidTransition:
                    pass  # a charge of this invoice is still in flight
        elif op == "credit":
            for invoice in open_invoices(session, customer.id, "RON")[:1]:
                apply_customer_credit(session, invoice, now=now)
        else:
            now += timedelta(minutes=value)
            settle_unknown_attempts(session, now=now)
    # Let every unknown outcome settle, then check the books.
    settle_unknown_attempts(session, now=now + timedelta(hours=2))
    _check(session, customer)


def _check(session, customer):
    assert_ledger_balanced(session)
    invoices = session.execute(select(Invoice).where(Invoice.customer_id == customer.id)).scalars().all()
    credit = ledger.customer_credit_balance(session, customer.id, "RON")
    assert credit >= 0
    owed = 0
    for invoice in invoices:
        allocated = sum(a.amount_minor for a in session.execute(select(PaymentAllocation).where(
            PaymentAllocation.invoice_id == invoice.id)).scalars())
        assert invoice.amount_paid_minor == allocated
        assert 0 <= allocated <= invoice.payable_minor
        owed += invoice.total_minor - allocated
    assert ledger.customer_receivable(session, customer.id, "RON") == owed
    # Credit is only paid out to invoices: money in = allocations + credit held.
    payments = session.execute(select(Payment).where(Payment.customer_id == customer.id)).scalars().all()
    money_in = sum(p.amount_minor for p in payments if p.kind != "credit")
    allocated_total = sum(p.allocated_minor for p in payments)
    assert money_in == allocated_total + credit
    # The gateway took exactly what we recorded, attempt by attempt: nothing twice, nothing lost.
    attempts = session.execute(select(PaymentAttempt).where(
        PaymentAttempt.customer_id == customer.id, PaymentAttempt.gateway_id == "fake")).scalars().all()
    recorded = {p.attempt_id: p.amount_minor for p in payments if p.attempt_id}
    for attempt in attempts:
        assert GATEWAY.charged_minor(attempt.key) == recorded.get(attempt.id, 0), attempt.status
        assert not attempt.in_flight
