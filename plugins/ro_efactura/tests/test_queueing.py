"""What ``invoice_issued`` queues for SPV, and what it leaves out."""

from __future__ import annotations

from datetime import date

from praho.core.models import DocumentKind
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
