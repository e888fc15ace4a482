"""Amounts typed by staff are read one way only, never guessed and never rounded.

The back office shows '2.420,00 RON' to Romanian staff; a bank payment typed '1.500' was
once booked as 1,50 RON and '10.005' as 10,01. Now an ambiguous or over-precise amount
is a form error and nothing is written.
"""

from __future__ import annotations

import re

import pytest
from praho.core.models import AuditEvent, DocumentKind, Invoice, JournalEntry
from praho.core.models.payments import Payment
from praho.core.money import AmountInputError, parse_amount_input
from sqlalchemy import func, select

from .conftest import csrf_token


@pytest.mark.parametrize(
    ("typed", "minor"),
    [
        ("1500", 150000),
        ("1500.00", 150000),
        ("1500,00", 150000),
        ("1.500,00", 150000),
        ("1,500.00", 150000),
        ("1 500,00", 150000),
        ("1.500.000", 150000000),
        ("1.234.567,89", 123456789),
        ("12,5", 1250),
        ("0,50", 50),
        ("2.420,00 RON", 242000),
    ],
)
def test_unambiguous_amounts_are_read_exactly(typed, minor):
    assert parse_amount_input(typed, "RON") == minor


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("1.500", "ambiguous"),
        ("10.005", "ambiguous"),
        ("10,005", "ambiguous"),
        ("10.0050", "decimals"),
        ("0.125", "decimals"),
        ("-5", "negative"),
        ("1,500,00", "grouped by three"),
        ("12.", "not an amount"),
        ("abc", "not an amount"),
        ("", "enter an amount"),
    ],
)
def test_ambiguous_or_over_precise_amounts_are_refused(typed, reason):
    with pytest.raises(AmountInputError, match=reason):
        parse_amount_input(typed, "RON")


def test_currency_decimals_decide_the_precision():
    assert parse_amount_input("1500", "JPY") == 1500
    with pytest.raises(AmountInputError, match="no decimals"):
        parse_amount_input("1500,50", "JPY")
    assert parse_amount_input("-12,50", "RON", allow_negative=True) == -1250


def _money_rows(database):
    with database.transaction() as session:
        return (
            session.execute(select(func.count(Payment.id))).scalar_one(),
            session.execute(select(func.count(JournalEntry.id))).scalar_one(),
            session.execute(select(func.count(AuditEvent.id))).scalar_one(),
        )


def _flash(html):
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_an_ambiguous_bank_payment_is_refused_and_nothing_is_booked(
    admin_client, seed, praho_committing
):
    invoice_id = seed(lambda f, s: f.invoice(lines=[("Server dedicat", "1", "2000.00")]).id)
    before = _money_rows(praho_committing)
    admin_client.login("billing")
    url = f"/admin/invoices/record-action/bank_payment/?id={invoice_id}"
    for typed in ("1.500", "10.005", "1500,001", "-1500"):
        refused = admin_client.post_form(url, url, {"amount": typed, "bank_reference": "OP 77"})
        assert refused.status_code == 302 and "record-action" in refused.headers["Location"]
        message = _flash(admin_client.get(refused.headers["Location"]).get_data(as_text=True))
        assert "refused" in message and "amount" in message, typed
    assert _money_rows(praho_committing) == before
    # Written unambiguously, the same payment is booked exactly.
    booked = admin_client.post_form(url, url, {"amount": "1.500,00", "bank_reference": "OP 77"})
    assert "record-action" not in booked.headers["Location"]
    with praho_committing.transaction() as session:
        assert session.execute(select(Payment.amount_minor)).scalar_one() == 150000
        assert session.get(Invoice, invoice_id).amount_paid_minor == 150000


def test_the_refusal_says_how_to_write_the_amount(admin_client, seed):
    invoice_id = seed(lambda f, s: f.invoice().id)
    admin_client.login("billing")
    url = f"/admin/invoices/record-action/bank_payment/?id={invoice_id}"
    refused = admin_client.post_form(url, url, {"amount": "1.500", "bank_reference": "OP 1"})
    message = _flash(admin_client.get(refused.headers["Location"]).get_data(as_text=True))
    assert "ambiguous" in message and "1500,00" in message


def test_an_over_precise_credit_note_amount_is_refused_not_rounded(
    admin_client, seed, praho_committing
):
    invoice_id = seed(lambda f, s: f.invoice().id)
    admin_client.login("billing")
    url = f"/admin/invoices/record-action/credit_note/?id={invoice_id}"
    for typed in ("10.005", "10,0051", "-10"):
        refused = admin_client.post_form(url, url, {"reason": "discount", "amount": typed})
        assert "record-action" in refused.headers["Location"], typed
    with praho_committing.transaction() as session:
        kinds = session.execute(select(Invoice.kind)).scalars().all()
        assert DocumentKind.CREDIT_NOTE not in kinds


def test_refund_and_price_lock_amounts_are_read_strictly(admin_client, seed, praho_committing):
    from praho.core.models.refunds import Refund
    from praho.core.payments.testing import customer_with_card
    from praho.core.services.payments import charge_invoice
    from praho.plugins.grandfathering.models import PriceLock

    def build(factory, session):
        invoice = factory.invoice(customer_with_card(factory), [("Web Hosting", "1", "100.00")])
        charge_invoice(session, invoice, reason="manual")
        factory.customer(code="ACME")
        return factory.price(code="WEB-PRO-M").id

    price_id = seed(build)
    with praho_committing.transaction() as session:
        payment_id = session.execute(select(Payment.id)).scalar_one()
    admin_client.login("billing")
    refund = f"/admin/payments/record-action/refund/?id={payment_id}"
    for typed in ("50.005", "1.500"):
        admin_client.post_form(refund, refund, {"amount": typed, "reason": "other",
                                                "destination": "original"})
    grant = f"/admin/lockable_prices/record-action/grant_lock/?id={price_id}"
    for typed in ("40.001", "1.040", "-40"):
        admin_client.post_form(grant, grant, {"customer": "ACME", "amount": typed,
                                              "reason": "loyal"})
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count(Refund.id))).scalar_one() == 0
        assert session.execute(select(func.count(PriceLock.id))).scalar_one() == 0
    admin_client.post_form(grant, grant, {"customer": "ACME", "amount": "1.040,50",
                                          "reason": "loyal"})
    admin_client.post_form(refund, refund, {"amount": "50,25", "reason": "other",
                                            "destination": "original"})
    with praho_committing.transaction() as session:
        assert session.execute(select(PriceLock.unit_amount_minor)).scalar_one() == 104050
        assert session.execute(select(Refund.amount_minor)).scalar_one() == 5025


def test_an_ambiguous_unit_price_on_a_new_draft_is_refused(admin_client, seed, praho_committing):
    customer_id = seed(lambda f, s: f.customer().id)
    admin_client.login("billing")
    url = f"/admin/customers/record-action/new_draft/?id={customer_id}"
    refused = admin_client.post_form(url, url, {"item_1": "VPS", "unit_price_1": "1.500"})
    assert "record-action" in refused.headers["Location"]
    with praho_committing.transaction() as session:
        assert session.execute(select(Invoice)).first() is None
    admin_client.post_form(url, url, {"item_1": "VPS", "unit_price_1": "1.500,25"})
    with praho_committing.transaction() as session:
        assert session.execute(select(Invoice)).scalar_one().lines[0].net_amount_minor == 150025


def test_previews_and_messages_use_the_staff_language(admin_client, seed):
    invoice_id = seed(lambda f, s: f.invoice(lines=[("Server dedicat", "1", "2000.00")]).id)
    admin_client.login("billing")  # English
    url = f"/admin/invoices/record-action/bank_payment/?id={invoice_id}"
    assert "2,420.00 RON" in admin_client.get(url).get_data(as_text=True)
    page = admin_client.get("/admin/")
    admin_client.client.post(
        "/admin/language/ro",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "next": "/admin/"},
    )
    assert "2.420,00 RON" in admin_client.get(url).get_data(as_text=True)
    credit = f"/admin/invoices/record-action/credit_note/?id={invoice_id}"
    assert "2.420,00 RON" in admin_client.get(credit).get_data(as_text=True)
    booked = admin_client.post_form(url, url, {"amount": "1.500,00", "bank_reference": "OP 9"})
    message = _flash(admin_client.get(booked.headers["Location"]).get_data(as_text=True))
    assert "1.500,00 RON" in message
