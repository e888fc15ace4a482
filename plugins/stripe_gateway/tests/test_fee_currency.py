"""Stripe's fee is booked in the charge's currency, whatever currency the account settles in.

The fee lives on the charge's balance transaction, in the Stripe account's settlement
currency. A EUR charge on an account settling in RON has its fee in RON bani and an
``exchange_rate`` (RON per EUR): the fee is converted back to EUR cents (fee / rate,
half-up), and without a usable rate no fee is recorded rather than a wrong one.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from praho.core.models import JournalEntry, Payment
from praho.core.payments.gateway import SavedMethod, TransactionType
from praho.core.payments.testing import assert_ledger_balanced
from praho.core.services.payments import charge_invoice, save_payment_method
from praho.core.testing import DEFAULT_NOW
from praho.core.webhooks.pipeline import receive_webhook
from praho.plugins.stripe_gateway.gateway import intent_result
from praho.plugins.stripe_gateway.testing import fixture, sign_stripe_event, stripe_event
from praho.plugins.stripe_gateway.webhook import StripeWebhookSource
from sqlalchemy import select

WEBHOOK_SECRET = "whsec_test_current_0123456789abcdef"
NOW = DEFAULT_NOW
TOTAL = 12100  # 100.00 + 21 % VAT
# 121.00 EUR x 4.975 = 601.975 -> RON 601.98; the stand-in's fee 1.4 % + 0.25 of it:
SETTLED = 60198
FEE_RON = SETTLED * 14 // 1000 + 25  # 867 bani
FEE_EUR = 174  # 8.67 / 4.975 = 1.7427... EUR


def succeeded_intent(currency, txn):
    """A succeeded PaymentIntent (the official fixture) whose charge has ``txn`` expanded."""
    return fixture(
        "payment_intent", id="pi_fee_1", status="succeeded", amount=TOTAL,
        amount_received=TOTAL, currency=currency, last_payment_error=None,
        latest_charge=fixture("charge", id="ch_fee_1", amount=TOTAL, currency=currency,
                              balance_transaction=fixture("balance_transaction", **txn)),
    )


@pytest.mark.parametrize(
    ("charged_in", "txn", "fee"),
    [
        # Settled in the charge's currency: the fee as it is.
        ("ron", {"currency": "ron", "fee": 867, "exchange_rate": None}, 867),
        # The reviewer's case: RON 8.68 at 4.975 RON/EUR is EUR 1.7447 -> 1.74.
        ("eur", {"currency": "ron", "fee": 868, "exchange_rate": 4.975}, 174),
        # Half-up on the exact decimal rate: 0.01 / 0.4 = 0.025 -> 0.03 (0.4 as a binary
        # float is 0.40000000000000002..., which would give 0.02).
        ("eur", {"currency": "ron", "fee": 1, "exchange_rate": 0.4}, 3),
        # Currencies with other minor units: EUR 0.45 at 0.0062 EUR/JPY is JPY 72.58 -> 73.
        ("jpy", {"currency": "eur", "fee": 45, "exchange_rate": 0.0062}, 73),
        # No usable rate, or a settlement currency we do not know: no fee, never a wrong one.
        ("eur", {"currency": "ron", "fee": 868, "exchange_rate": None}, None),
        ("eur", {"currency": "ron", "fee": 868, "exchange_rate": 0}, None),
        ("eur", {"currency": "ron", "fee": 868, "exchange_rate": -4.975}, None),
        ("eur", {"currency": "ron", "fee": 868, "exchange_rate": "abc"}, None),
        ("eur", {"currency": "ron", "fee": 868, "exchange_rate": True}, None),
        ("eur", {"currency": "zzz", "fee": 868, "exchange_rate": 4.975}, None),
        ("eur", {"currency": "", "fee": 868, "exchange_rate": 4.975}, None),
    ],
)
def test_the_fee_is_read_in_the_charge_currency(charged_in, txn, fee):
    result = intent_result(succeeded_intent(charged_in, txn), TransactionType.PURCHASE)
    assert result.succeeded and result.currency == charged_in.upper()
    assert result.fee_minor == fee


def test_the_stand_in_settles_in_another_currency_as_stripe_does(gateway, stripe_standin):
    from praho.core.payments.gateway import PaymentRequest

    stripe_standin.settle_in("ron", {"eur": "4.975"})
    request = PaymentRequest("att_eur", TOTAL, "EUR", "cus_1", "pm_card_visa", "Invoice X",
                             {"invoice": "X"})
    result = gateway.purchase(request)
    charge = stripe_standin.objects[result.raw["latest_charge"]["id"]]
    txn = stripe_standin.objects[charge["balance_transaction"]]
    assert (txn["currency"], txn["amount"], txn["fee"], txn["net"]) == (
        "ron", SETTLED, FEE_RON, SETTLED - FEE_RON)
    assert txn["exchange_rate"] == 4.975 and txn["source"] == charge["id"]
    assert (result.amount_minor, result.currency, result.fee_minor) == (TOTAL, "EUR", FEE_EUR)
    # A currency without a rate settles as it is (Stripe's multi-currency settlement).
    ron = gateway.purchase(PaymentRequest("att_ron", 10000, "RON", "cus_1", "pm_card_visa",
                                          "Invoice Y", {"invoice": "Y"}))
    assert ron.fee_minor == 10000 * 14 // 1000 + 25
    stripe_standin.reset()
    assert stripe_standin.settlement == {}


def _eur_invoice(factory, token):
    customer = factory.customer()
    save_payment_method(factory.session, customer=customer, gateway_id="stripe",
                        method=SavedMethod(token=token, customer_reference="cus_test",
                                           brand="visa", last4="4242"))
    return factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW, currency="EUR")


def _booked_fee(session, payment):
    entry = session.execute(select(JournalEntry).where(
        JournalEntry.idempotency_key == f"payment-received:{payment.id}")).scalar_one()
    return [(line.currency, line.amount_minor) for line in entry.lines
            if line.account_code == "627"]


def test_a_eur_charge_settled_in_ron_books_its_fee_in_eur(
    praho_session, praho_factory, stripe_standin
):
    stripe_standin.settle_in("ron", {"eur": "4.975"})
    invoice = _eur_invoice(praho_factory, "pm_card_visa")
    assert invoice.total_minor == TOTAL
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    payment = praho_session.execute(
        select(Payment).where(Payment.attempt_id == attempt.id)).scalar_one()
    assert (payment.amount_minor, payment.currency, payment.fee_minor) == (TOTAL, "EUR", FEE_EUR)
    assert _booked_fee(praho_session, payment) == [("EUR", FEE_EUR)]
    assert_ledger_balanced(praho_session)


def test_a_processing_eur_charge_completed_by_webhook_books_its_fee_in_eur(
    praho_session, praho_factory, stripe_standin
):
    stripe_standin.settle_in("ron", {"eur": "4.975"})
    invoice = _eur_invoice(praho_factory, "pm_card_processing")
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    intent = stripe_standin.complete_processing(attempt.gateway_reference)
    body = json.dumps(stripe_event("payment_intent.succeeded", intent, event_id="evt_eur_1"))
    at = NOW + timedelta(minutes=1)
    headers = {"Stripe-Signature": sign_stripe_event(body.encode(), WEBHOOK_SECRET,
                                                     int(at.timestamp()))}
    receive_webhook(praho_session, StripeWebhookSource(), headers, body.encode(), now=at)
    payment = praho_session.execute(
        select(Payment).where(Payment.attempt_id == attempt.id)).scalar_one()
    assert (payment.currency, payment.fee_minor) == ("EUR", FEE_EUR)
    assert _booked_fee(praho_session, payment) == [("EUR", FEE_EUR)]
    assert_ledger_balanced(praho_session)
