"""Regressions: a converted proforma asks for nothing; a bank reference pays one proforma;
``praho invoice convert --amount`` never rounds; vat_payer follows vat_id; an order
costs what its invoice costs."""

import re

import pytest
from praho.core.cli import main
from praho.core.errors import FieldError
from praho.core.models import DocumentKind, Invoice
from praho.core.models.audit import AuditEvent
from praho.core.models.invoices import SeriesCounter
from praho.core.models.ledger import JournalEntry
from praho.core.models.payments import Payment
from praho.core.pricing import DraftLine
from praho.core.services.credit_notes import convert_proforma
from praho.core.services.customers import update_customer
from praho.core.services.invoicing import create_draft
from praho.core.services.issuing import issue_document
from praho.core.services.orders import OrderItem, invoice_order, place_order
from praho.core.services.payments import record_bank_transfer
from praho.core.services.pdf import render_document_html
from praho.core.services.pdf_view import build_document_view
from praho.core.services.proforma_payments import pay_proforma
from praho.core.testing import PrahoFactory, at
from sqlalchemy import func, select

NOW = at("2026-03-10", 10)
PAID_ON = at("2026-03-12", 9)


def _proforma(session, customer, price="100.00"):
    draft = create_draft(session, customer=customer, kind=DocumentKind.PROFORMA, now=NOW,
                         lines=[DraftLine(item_name="Găzduire", quantity=1, unit_price=price)])
    return issue_document(session, draft, now=NOW)


def _written(session):
    """What any money operation leaves behind: documents, payments, journal, audit, numbers."""
    def count(model):
        return session.execute(select(func.count(model.id))).scalar_one()

    numbers = session.execute(select(func.coalesce(func.sum(SeriesCounter.last_number), 0)))
    return (count(Invoice), count(Payment), count(JournalEntry), count(AuditEvent),
            numbers.scalar_one())


def _text(html):
    """The HTML's text with tags removed and whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# 1. A converted proforma prints no payment due.

def test_paid_proforma_prints_its_invoice_and_nothing_due(praho_session, praho_factory):
    proforma = _proforma(praho_session, praho_factory.customer())
    invoice, _payment = pay_proforma(praho_session, proforma, bank_reference="OP 1",
                                     received_on="2026-03-12", now=PAID_ON)
    assert invoice.payment_status == "paid"

    view = build_document_view(praho_session, proforma, "ro")
    assert view.converted_to == invoice.full_number
    assert [(r.label, r.value) for r in view.payment] == [
        ("Stare plată", f"Încasată, facturată prin factura {invoice.full_number}"),
        ("Rest de plată", "0,00")]
    text = _text(render_document_html(praho_session, proforma, language="ro"))
    assert f"Proforma a fost facturată prin factura {invoice.full_number}" in text
    assert "Rest de plată 0,00" in text
    assert "Neîncasată" not in text and "Rest de plată 121,00" not in text
    assert "menționați numărul documentului la plată" not in text

    english = _text(render_document_html(praho_session, proforma, language="en"))
    assert f"Paid, invoiced as invoice {invoice.full_number}" in english
    assert "Amount due 0.00" in english
    assert "Unpaid" not in english and "Amount due 121.00" not in english
    assert "quote the document number" not in english


def test_proforma_converted_unpaid_points_to_the_invoice(praho_session, praho_factory):
    proforma = _proforma(praho_session, praho_factory.customer())
    invoice = convert_proforma(praho_session, proforma, now=PAID_ON)
    text = _text(render_document_html(praho_session, proforma, language="ro"))
    assert (f"Facturată prin factura {invoice.full_number}; plata se face pe factură"
            in text)
    assert "Rest de plată 0,00" in text and "Rest de plată 121,00" not in text


def test_open_proforma_still_asks_for_payment(praho_session, praho_factory):
    proforma = _proforma(praho_session, praho_factory.customer())
    view = build_document_view(praho_session, proforma, "ro")
    assert view.converted_to is None
    assert [(r.label, r.value) for r in view.payment] == [
        ("Stare plată", "Neîncasată"), ("Rest de plată", "121,00")]
    text = _text(render_document_html(praho_session, proforma, language="ro"))
    assert "menționați numărul documentului la plată" in text


# 2. A bank reference pays one proforma.

def test_reference_reused_for_another_proforma_is_refused(praho_session, praho_factory):
    customer = praho_factory.customer()
    first, second = _proforma(praho_session, customer), _proforma(praho_session, customer)
    invoice, payment = pay_proforma(praho_session, first, bank_reference="OP 12",
                                    received_on="2026-03-12", now=PAID_ON)
    before = _written(praho_session)

    with pytest.raises(FieldError, match="OP 12 was already recorded") as refused:
        pay_proforma(praho_session, second, bank_reference="OP 12", received_on="2026-03-12",
                     now=PAID_ON)
    assert refused.value.field == "bank_reference"
    assert second.converted_to_id is None and _written(praho_session) == before

    # A retry for the proforma the transfer paid returns the first result.
    again = pay_proforma(praho_session, first, bank_reference="OP 12", received_on="2026-03-12",
                         now=PAID_ON)
    assert again == (invoice, payment) and _written(praho_session) == before
    # No number was used by the refusal: the second proforma's invoice is the next one.
    second_invoice, _ = pay_proforma(praho_session, second, bank_reference="OP 13",
                                     received_on="2026-03-12", now=PAID_ON)
    assert second_invoice.number == invoice.number + 1
    assert second_invoice.payment_status == "paid"


def test_reference_of_a_plain_transfer_does_not_convert_a_proforma(praho_session,
                                                                   praho_factory):
    customer = praho_factory.customer()
    proforma = _proforma(praho_session, customer)
    record_bank_transfer(praho_session, customer=customer, amount_minor=proforma.total_minor,
                         currency="RON", bank_reference="OP 20", received_on="2026-03-11",
                         now=PAID_ON)
    before = _written(praho_session)
    with pytest.raises(FieldError, match="did not pay this proforma"):
        pay_proforma(praho_session, proforma, bank_reference="OP 20", received_on="2026-03-11",
                     now=PAID_ON)
    assert proforma.converted_to_id is None and _written(praho_session) == before


# 3. praho invoice convert --amount reads what was typed, never rounds.

def _invoke(praho_app, *args):
    return praho_app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)


def test_cli_convert_refuses_ambiguous_or_over_precise_amounts(praho_app, praho_committing):
    with praho_committing.transaction() as session:
        proforma = _proforma(session, PrahoFactory(session).customer(), price="1437.48")
        number = proforma.full_number
    with praho_committing.transaction() as session:
        before = _written(session)
    for typed, reason in (("1.437", "ambiguous"), ("99.999", "ambiguous"),
                          ("12.3456", "decimals"), ("lots", "not an amount")):
        result = _invoke(praho_app, "invoice", "convert", number, "--bank-reference", "OP 5",
                         "--amount", typed)
        assert result.exit_code == 2, result.output
        assert "--amount" in result.output and reason in result.output
        with praho_committing.transaction() as session:
            assert _written(session) == before

    converted = _invoke(praho_app, "invoice", "convert", number, "--bank-reference", "OP 5",
                        "--amount", "1.739,35")
    assert converted.exit_code == 0, converted.output
    with praho_committing.transaction() as session:
        payment = session.execute(select(Payment)).scalar_one()
        assert payment.amount_minor == 173935


# 4. vat_payer follows vat_id unless set in the same update.

def _tax_row(session, factory, customer):
    return build_document_view(session, factory.invoice(customer), "ro").buyer.rows[0]


def test_vat_payer_follows_a_changed_vat_id(praho_session, praho_factory):
    customer = praho_factory.customer(vat_id=None)
    assert customer.vat_payer is False
    update_customer(praho_session, customer, {"vat_id": "RO14399840"}, now=NOW)
    assert customer.vat_payer is True
    assert _tax_row(praho_session, praho_factory, customer) == ("CIF", "RO14399840")
    audit = praho_session.execute(select(AuditEvent).where(
        AuditEvent.action == "customer.updated").order_by(AuditEvent.id.desc())).scalars().first()
    assert audit.data["changes"]["vat_payer"] == ["False", "True"]

    update_customer(praho_session, customer, {"vat_id": None}, now=NOW)
    assert customer.vat_payer is False
    assert _tax_row(praho_session, praho_factory, customer) == ("CIF", "14399840")


def test_vat_payer_stated_by_the_caller_is_kept(praho_session, praho_factory):
    customer = praho_factory.customer(vat_id=None)
    update_customer(praho_session, customer, {"vat_id": "RO14399840", "vat_payer": False},
                    now=NOW)
    assert customer.vat_payer is False
    # An update that leaves vat_id alone does not re-derive the stated flag.
    update_customer(praho_session, customer, {"city": "Turda", "vat_id": "RO14399840"}, now=NOW)
    assert customer.vat_payer is False


# 5. An order's line amounts round like invoice lines.

def test_order_total_equals_its_invoice(praho_session, praho_factory):
    price = praho_factory.price(unit_amount_minor=4997, interval_months=None)
    quantities = ["0.5", "1.5", "2.5", "0.333333"]
    order = place_order(praho_session, customer=praho_factory.customer(), now=NOW,
                        items=[OrderItem(price, q) for q in quantities])
    # 24.985 -> 24.99 half-up (half-even would give 24.98); 74.955 -> 74.96.
    assert [line.amount_minor for line in order.lines] == [2499, 7496, 12493, 1666]
    invoice = invoice_order(praho_session, order, now=NOW)
    assert [line.net_amount_minor for line in invoice.lines] == [
        line.amount_minor for line in order.lines]
    assert order.total_minor == invoice.taxable_minor == 24154
