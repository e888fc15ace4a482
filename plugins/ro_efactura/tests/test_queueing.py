"""What ``invoice_issued`` queues for SPV, and what it leaves out."""

from __future__ import annotations

from datetime import date

from praho.core.models import DocumentKind, Invoice
from praho.plugins.ro_efactura.models import EfacturaSubmission
from praho.plugins.ro_efactura.tests import scenarios
from sqlalchemy import select


def _queued(session):
    rows = session.execute(select(EfacturaSubmission).order_by(EfacturaSubmission.id)).scalars()
    return {s.document_number: s for s in rows}


def test_b2b_b2c_and_credit_notes_are_queued_with_their_deadline(praho_factory, praho_session):
    credit = scenarios.credit_note(praho_factory)
    person = scenarios.individual_without_cnp(praho_factory)
    queued = _queued(praho_session)
    invoice = queued[credit.original_invoice.full_number]
    assert (invoice.standard, invoice.b2c, invoice.extern, invoice.state) == (
        "UBL",
        False,
        False,
        "pending",
    )
    assert invoice.deadline == date(2026, 3, 9) and invoice.seller_cui == "14399840"
    assert queued[credit.full_number].standard == "CN"
    assert queued[person.full_number].b2c is True
    assert [e.to_state for e in invoice.events] == ["pending"]


def test_proformas_and_foreign_buyers_are_not_queued(praho_factory, praho_session):
    proforma = praho_factory.invoice(kind=DocumentKind.PROFORMA)
    foreign = scenarios.reverse_charge(praho_factory)
    queued = _queued(praho_session)
    assert proforma.full_number not in queued and foreign.full_number not in queued


def test_converted_proforma_invoice_is_queued(praho_factory, praho_session):
    invoice = scenarios.proforma_converted(praho_factory)
    assert list(_queued(praho_session)) == [invoice.full_number]


def test_a_billing_run_queues_its_documents_in_bulk(praho_factory, praho_session):
    """The chunk goes through ``invoices_issued``: same rows as one at a time, once each."""
    from praho.core.models import Customer, InvoiceMode
    from praho.core.services.billing_run import run_billing
    from praho.core.testing import at

    romanian = [praho_factory.subscription(start="2026-01-31") for _ in range(3)]
    proforma_customer = praho_factory.customer(invoice_mode=InvoiceMode.PROFORMA)
    praho_factory.subscription(customer=proforma_customer, start="2026-01-31")
    german = praho_factory.customer(
        legal_name="Delta Hosting GmbH",
        country="DE",
        county=None,
        city="Berlin",
        street="Friedrichstrasse 10",
        postal_code="10117",
        cui=None,
        vat_id="DE136695976",
    )
    praho_factory.subscription(customer=german, start="2026-01-31")
    before = set(_queued(praho_session))

    run = run_billing(praho_session, now=at("2026-02-28", 3))

    assert run.summary["counts"] == {"issued": 5}
    renewals = (
        praho_session.execute(select(Invoice).where(Invoice.period_start == date(2026, 2, 28)))
        .scalars()
        .all()
    )
    expected = {
        i.full_number
        for i in renewals
        if i.kind == DocumentKind.INVOICE
        and praho_session.get(Customer, i.customer_id).country == "RO"
    }
    assert len(expected) == 3 and {r.customer_id for r in renewals} >= {
        s.customer_id for s in romanian
    }
    new = {n: s for n, s in _queued(praho_session).items() if n not in before}
    assert set(new) == expected
    for submission in new.values():
        assert (submission.state, submission.standard, submission.b2c, submission.extern) == (
            "pending",
            "UBL",
            False,
            False,
        )
        assert submission.issue_date == date(2026, 2, 28)
        # Issued on Saturday 28 February: the five working days are 2-6 March.
        assert submission.deadline == date(2026, 3, 6)
        assert [(e.from_state, e.to_state) for e in submission.events] == [(None, "pending")]
        assert submission.events[0].detail == {"deadline": "2026-03-06"}
