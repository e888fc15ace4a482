from praho.core.models import DocumentStatus
from praho.core.services import ledger


def test_issue_invoice_smoke(praho_factory, praho_session):
    invoice = praho_factory.invoice(lines=[("Hosting", "1", "100.00"), ("Domain", "2", "45.50")])
    assert invoice.status == DocumentStatus.ISSUED
    assert invoice.full_number == "PRH2026-000001"
    assert invoice.taxable_minor == 19100
    assert invoice.vat_minor == 4011
    assert invoice.total_minor == 23111
    assert ledger.customer_receivable(praho_session, invoice.customer_id, "RON") == 23111
