"""A paid proforma becomes a fiscal invoice carrying the payment; bad input changes nothing."""

import pytest
from praho.core.errors import InvalidTransition, ValidationFailed
from praho.core.models import DocumentKind, Invoice
from praho.core.models.payments import Payment
from praho.core.pricing import DraftLine
from praho.core.services import ledger
from praho.core.services.invoicing import create_draft
from praho.core.services.issuing import issue_document
from praho.core.services.proforma_payments import pay_proforma
from praho.core.testing import at
from sqlalchemy import func, select

NOW = at("2026-03-10", 10)


def _proforma(session, factory):
    customer = factory.customer()
    draft = create_draft(session, customer=customer, kind=DocumentKind.PROFORMA, now=NOW,
                         lines=[DraftLine(item_name="Găzduire 12 luni", quantity=12,
                                          unit_price="99.00")])
    return issue_document(session, draft, now=NOW)


def _counts(session):
    return (session.execute(select(func.count(Invoice.id))).scalar_one(),
            session.execute(select(func.count(Payment.id))).scalar_one())


def test_paying_a_proforma_issues_the_invoice_and_pays_it(praho_session, praho_factory):
    proforma = _proforma(praho_session, praho_factory)
    invoice, payment = pay_proforma(praho_session, proforma, bank_reference="OP 4471",
                                    received_on="2026-03-12", now=at("2026-03-12", 9))
    assert invoice.kind == DocumentKind.INVOICE and invoice.converted_from_id == proforma.id
    assert proforma.converted_to_id == invoice.id
    assert payment.amount_minor == proforma.total_minor == invoice.total_minor
    assert invoice.payment_status == "paid"
    assert ledger.unbalanced_currencies(ledger.trial_balance(praho_session).items()) == {}
    # The same transfer recorded again returns the first result.
    again = pay_proforma(praho_session, proforma, bank_reference="OP 4471",
                         received_on="2026-03-12", now=at("2026-03-12", 9))
    assert again == (invoice, payment)
    assert _counts(praho_session) == (2, 1)


def test_a_surplus_becomes_customer_credit(praho_session, praho_factory):
    proforma = _proforma(praho_session, praho_factory)
    invoice, payment = pay_proforma(praho_session, proforma, bank_reference="OP 9",
                                    received_on="2026-03-12", amount_minor=proforma.total_minor + 500,
                                    now=at("2026-03-12", 9))
    assert invoice.payment_status == "paid"
    assert ledger.customer_credit_balance(praho_session, invoice.customer_id, "RON") == 500


@pytest.mark.parametrize("changes, field", [
    ({"bank_reference": ""}, "bank_reference"),
    ({"received_on": "2026-13-01"}, "received_on"),
    ({"received_on": "2027-01-01"}, "received_on"),
    ({"amount_minor": -5}, "amount_minor"),
])
def test_bad_transfer_details_leave_the_proforma_unconverted(praho_session, praho_factory,
                                                             changes, field):
    proforma = _proforma(praho_session, praho_factory)
    before = _counts(praho_session)
    arguments = {"bank_reference": "OP 1", "received_on": "2026-03-12", **changes}
    with pytest.raises(ValidationFailed) as error:
        pay_proforma(praho_session, proforma, now=at("2026-03-12", 9), **arguments)
    assert field in str(error.value)
    assert proforma.converted_to_id is None and _counts(praho_session) == before


def test_only_an_issued_proforma_can_be_paid_this_way(praho_session, praho_factory):
    invoice = praho_factory.invoice(praho_factory.customer(), now=NOW)
    with pytest.raises(InvalidTransition, match="not an issued proforma"):
        pay_proforma(praho_session, invoice, bank_reference="OP 2", received_on="2026-03-12")
