"""The demo collects through the fake gateway and records a bank transfer."""

import pytest
from praho.core import demo
from praho.core.models import PaymentStatus
from praho.core.payments.testing import assert_ledger_balanced
from praho.core.services.customers import get_customer
from praho.core.services.payments import open_invoices
from praho.core.testing import at


@pytest.fixture
def praho_plugins():
    return []  # the manifest's plugins only, as `praho demo` runs


def test_demo_payments(praho_session):
    now = at("2026-03-02")
    report = demo.create_demo_company(praho_session, today=now.date())
    demo.issue_demo_documents(praho_session, report, now=now)
    demo.collect_demo_payments(praho_session, report, now=now)

    acme = get_customer(praho_session, "ACME")
    assert open_invoices(praho_session, acme.id, "RON") == []
    assert any("attempt processed" in note for note in report.notes), report.notes
    dupont = get_customer(praho_session, "DUPONT")
    (half_paid,) = open_invoices(praho_session, dupont.id, "RON")
    assert half_paid.payment_status == PaymentStatus.PARTIALLY_PAID
    assert_ledger_balanced(praho_session)
