"""Orders: priced at placing, invoiced once, refunds keep order, invoice and payment in step."""

import pytest
from praho.core.errors import InvalidTransition, ValidationFailed
from praho.core.models import Invoice
from praho.core.models.orders import Order
from praho.core.models.payments import Payment
from praho.core.payments.testing import customer_with_card
from praho.core.services import ledger
from praho.core.services.catalog import add_price_version
from praho.core.services.orders import (
    OrderItem,
    cancel_order,
    invoice_order,
    place_order,
)
from praho.core.services.payments import charge_invoice
from praho.core.services.refunds import approve_refund, create_refund, start_review
from praho.core.testing import at
from sqlalchemy import func, select

NOW = at("2026-03-02", 10)


def _catalog(factory):
    domain = factory.price(factory.product(code="DOMAIN-RO", name="Domeniu .ro"),
                           code="DOMAIN-RO-Y", interval_months=12, unit_amount_minor=5500)
    setup = factory.price(factory.product(code="SETUP", name="Configurare"), code="SETUP-1",
                          interval_months=None, unit_amount_minor=35000)
    return domain, setup


def test_an_order_is_priced_when_placed_and_invoiced_once(praho_factory, praho_session):
    domain, setup = _catalog(praho_factory)
    customer = praho_factory.customer()
    order = place_order(praho_session, customer=customer, now=NOW,
                        items=[OrderItem("DOMAIN-RO-Y", 2), OrderItem(setup)])
    assert order.status == "placed" and order.number.startswith("ORD-20260302-")
    assert [(l.description, l.amount_minor) for l in order.lines] == [
        ("Domeniu .ro", 11000), ("Configurare", 35000)]
    # A later price rise does not change what was ordered.
    add_price_version(praho_session, domain, unit_amount_minor=6500,
                      effective_from=NOW.date().replace(day=3), now=NOW)
    invoice = invoice_order(praho_session, order, now=at("2026-03-05", 9))
    assert invoice.order_id == order.id and invoice.taxable_minor == 46000
    assert order.status == "completed"
    assert invoice_order(praho_session, order, now=at("2026-03-06", 9)) is invoice
    assert praho_session.execute(select(func.count(Invoice.id))).scalar_one() == 1
    with pytest.raises(InvalidTransition, match="refund its invoice"):
        cancel_order(praho_session, order, reason="changed mind")


def test_bad_orders_name_the_item_and_write_nothing(praho_factory, praho_session):
    _catalog(praho_factory)
    eur = praho_factory.price(code="EUR-PLAN", currency="EUR")
    customer = praho_factory.customer()
    with pytest.raises(ValidationFailed) as failure:
        place_order(praho_session, customer=customer, now=NOW, items=[
            OrderItem("DOMAIN-RO-Y", 0), OrderItem("NOPE"), OrderItem(eur)])
    fields = {e.field for e in failure.value.errors}
    assert fields == {"items[0].quantity", "items[1].price", "items[2].price"}
    with pytest.raises(ValidationFailed, match="items"):
        place_order(praho_session, customer=customer, now=NOW, items=[])
    assert praho_session.execute(select(func.count(Order.id))).scalar_one() == 0


def test_cancelling_a_placed_order(praho_factory, praho_session):
    _catalog(praho_factory)
    order = place_order(praho_session, customer=praho_factory.customer(), now=NOW,
                        items=[OrderItem("SETUP-1")])
    cancel_order(praho_session, order, reason="customer withdrew", now=NOW)
    assert order.status == "cancelled"
    with pytest.raises(InvalidTransition):
        invoice_order(praho_session, order, now=NOW)


def test_refunds_move_the_order_with_its_invoice_and_payment(praho_factory, praho_session):
    _catalog(praho_factory)
    customer = customer_with_card(praho_factory)
    order = place_order(praho_session, customer=customer, now=NOW, items=[OrderItem("SETUP-1")])
    invoice = invoice_order(praho_session, order, now=NOW)
    attempt = charge_invoice(praho_session, invoice, now=NOW, reason="manual")
    payment = praho_session.execute(
        select(Payment).where(Payment.attempt_id == attempt.id)).scalar_one()
    for amount, state in ((10000, "partially_refunded"), (None, "refunded")):
        refund = create_refund(praho_session, payment, amount_minor=amount,
                               reason="service_failure", now=NOW)
        start_review(praho_session, refund, note="ticket 77", now=NOW)
        approve_refund(praho_session, refund, now=NOW)
        assert refund.status == "completed"
        assert (order.refund_state, payment.status) == (state, state)
    assert invoice.refunded_minor == invoice.total_minor
    praho_session.flush()
    assert ledger.unbalanced_currencies(ledger.trial_balance(praho_session).items()) == {}
