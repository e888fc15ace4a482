"""Whole documents decided by the real eu_vat regime (and converted with real BNR rates):
the proforma re-rated from 19% to 21%, reverse-charge evidence on the invoice, OSS,
VIES outages at issue, credit notes keeping the corrected supply's rate."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from praho.core.errors import ExchangeRateUnavailable, TaxDecisionPending
from praho.core.models import DocumentKind, DocumentStatus, Invoice, SeriesCounter
from praho.core.money import convert_minor, percent_of
from praho.core.pricing import DraftLine
from praho.core.services.credit_notes import convert_proforma, issue_credit_note
from praho.core.services.invoicing import add_line
from praho.core.services.issuing import issue_document
from praho.plugins.bnr_rates.service import import_feed_body
from praho.plugins.bnr_rates.settings import current_settings as bnr_settings
from praho.plugins.eu_vat.testing import VALID
from sqlalchemy import func, select

JULY = datetime(2025, 7, 20, 9, 0, tzinfo=UTC)
AUGUST = datetime(2025, 8, 5, 9, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[2] / "bnr_rates" / "tests" / "fixtures"


def _load_bnr(session, name):
    fetch = import_feed_body(
        session, (FIXTURES / name).read_bytes(), source=name, settings=bnr_settings()
    )
    assert fetch.ok, fetch.error


def test_july_proforma_at_19_becomes_an_august_invoice_at_21(
    praho_factory, praho_session, make_customer
):
    customer = make_customer("RO", vat_id="RO18547290")
    proforma = praho_factory.invoice(
        customer,
        lines=[("Web Hosting Pro", "12", "45.00"), ("Domain .ro", "1", "59.90")],
        kind=DocumentKind.PROFORMA,
        now=JULY,
    )
    assert proforma.tax_point_date.isoformat() == "2025-07-20"
    assert {(s.tax_category, s.tax_rate) for s in proforma.tax_subtotals} == {("S", Decimal("19"))}
    assert (proforma.taxable_minor, proforma.vat_minor, proforma.total_minor) == (
        59990,
        11398,
        71388,
    )

    invoice = convert_proforma(praho_session, proforma, now=AUGUST)
    assert invoice.kind == DocumentKind.INVOICE and invoice.converted_from_id == proforma.id
    assert invoice.tax_point_date.isoformat() == "2025-08-05"
    assert {(s.tax_category, s.tax_rate) for s in invoice.tax_subtotals} == {("S", Decimal("21"))}
    assert (invoice.taxable_minor, invoice.vat_minor, invoice.total_minor) == (59990, 12598, 72588)
    assert all(
        "RO standard rate 21% (in force from 2025-08-01)" in line.tax_note for line in invoice.lines
    )
    conversion = invoice.attributes["conversion"]
    assert conversion["difference_minor"] == 72588 - 71388 == 1200
    assert conversion["proforma"] == proforma.full_number
    assert "S 19% on the proforma of 2025-07-20 became S 21%" in conversion["explanation"]
    rule = invoice.tax_evidence["eu_vat.rule.standard"]
    assert (rule["rate"], rule["valid_from"], rule["tax_point"]) == (
        "21.0000",
        "2025-08-01",
        "2025-08-05",
    )


def test_proforma_converted_within_july_keeps_19(praho_factory, praho_session, make_customer):
    customer = make_customer("RO")
    proforma = praho_factory.invoice(customer, kind=DocumentKind.PROFORMA, now=JULY)
    invoice = convert_proforma(
        praho_session, proforma, now=datetime(2025, 7, 31, 20, 0, tzinfo=UTC)
    )
    # 20:00 UTC is 23:00 in Bucharest: still 31 July, the Romanian date is the tax point.
    assert invoice.tax_point_date.isoformat() == "2025-07-31"
    assert invoice.attributes["conversion"]["explanation"] == "same VAT treatment as the proforma"
    assert invoice.lines[0].tax_rate == Decimal("19")


def test_a_transfer_received_in_july_and_entered_in_august_is_taxed_in_july(
    praho_factory, praho_session, make_customer
):
    """VAT on an advance is due when the money arrives (Cod fiscal art. 282), not when a
    person records it: the invoice keeps July's 19% and says 31 July is its tax point."""
    from praho.core.clock import business_date
    from praho.core.services.proforma_payments import pay_proforma

    customer = make_customer("RO", vat_id="RO18547290")
    proforma = praho_factory.invoice(customer, kind=DocumentKind.PROFORMA, now=JULY)
    invoice, payment = pay_proforma(
        praho_session, proforma, bank_reference="OP 731", received_on="2025-07-31", now=AUGUST
    )
    assert invoice.tax_point_date.isoformat() == "2025-07-31"
    assert invoice.issue_date.isoformat() == "2025-08-05"
    assert {line.tax_rate for line in invoice.lines} == {Decimal("19")}
    assert invoice.total_minor == proforma.total_minor and invoice.payment_status == "paid"
    assert business_date(payment.received_at).isoformat() == "2025-07-31"


def test_reverse_charge_invoice_carries_vies_evidence_and_asks_vies_once(
    praho_factory, praho_session, make_customer, vies
):
    vies.set_outcome("DE136695976", VALID)
    customer = make_customer("DE", vat_id="DE136695976")
    invoice = praho_factory.invoice(
        customer, lines=[("VPS", "1", "80.00"), ("Backup", "2", "5.00")], now=AUGUST
    )
    assert {(line.tax_category, line.tax_exemption_code) for line in invoice.lines} == {
        ("AE", "VATEX-EU-AE")
    }
    subtotal = invoice.tax_subtotals[0]
    assert (subtotal.tax_category, subtotal.tax_minor) == ("AE", 0)
    assert (
        subtotal.exemption_reason
        == "Taxare inversa / Reverse charge, art. 196 Directive 2006/112/EC"
    )
    evidence = invoice.tax_evidence["vies"]
    assert evidence["status"] == "valid" and evidence["request_identifier"].startswith("WAPI")
    assert evidence["request_date"] and evidence["requester_vat_id"] == "RO14399840"
    assert invoice.vat_minor == 0 and invoice.total_minor == 9000
    # Two lines, decided at draft time and again at issue: one live consultation.
    assert vies.calls_for("DE136695976") == 1


def test_oss_consumer_invoice_uses_the_customers_country(praho_factory, make_customer, configure):
    configure(oss_registered=True)
    customer = make_customer("FR", business=False)
    invoice = praho_factory.invoice(customer, lines=[("Hosting", "1", "100.00")], now=AUGUST)
    assert (invoice.lines[0].tax_category, invoice.lines[0].tax_rate) == ("S", Decimal("20"))
    assert invoice.vat_minor == 2000


def test_non_eu_customer_gets_category_o_with_reason(praho_factory, make_customer):
    customer = make_customer("US")
    invoice = praho_factory.invoice(customer, now=AUGUST)
    subtotal = invoice.tax_subtotals[0]
    assert (subtotal.tax_category, subtotal.exemption_code) == ("O", "VATEX-EU-O")
    assert "place of supply outside the EU" in subtotal.exemption_reason


def test_vies_outage_with_policy_wait_holds_the_invoice_and_changes_nothing(
    praho_factory, praho_session, make_customer, vies, configure
):
    configure(vies_outage_policy="wait", vies_valid_cache_days=0)
    vies.set_outcome("DE136695976", VALID)
    customer = make_customer("DE", vat_id="DE136695976")
    draft = praho_factory.draft(customer, now=AUGUST)
    vies.set_outcome("DE136695976", "MS_UNAVAILABLE")
    counters = praho_session.scalar(select(func.count(SeriesCounter.id)))
    savepoint = praho_session.begin_nested()
    with pytest.raises(TaxDecisionPending, match="MS_UNAVAILABLE.*waits until VIES answers"):
        issue_document(praho_session, draft, now=AUGUST)
    savepoint.rollback()
    praho_session.refresh(draft)
    assert draft.status == DocumentStatus.DRAFT and draft.full_number is None
    assert praho_session.scalar(select(func.count(SeriesCounter.id))) == counters
    vies.set_outcome("DE136695976", VALID)
    issued = issue_document(praho_session, draft, now=AUGUST)
    assert issued.number == 1 and issued.lines[0].tax_category == "AE"


def test_vies_outage_with_fallback_uses_the_last_valid_answer(
    praho_factory, make_customer, vies, configure
):
    configure(vies_valid_cache_days=0)
    vies.set_outcome("DE136695976", VALID)
    customer = make_customer("DE", vat_id="DE136695976")
    praho_factory.invoice(customer, now=AUGUST)
    vies.set_outcome("DE136695976", "SERVICE_UNAVAILABLE")
    second = praho_factory.invoice(customer, now=AUGUST)
    assert second.lines[0].tax_category == "AE"
    assert second.tax_evidence["vies"]["fallback"] == "last_valid_answer"
    assert second.tax_evidence["vies"]["fault_code"] == "SERVICE_UNAVAILABLE"


def test_credit_note_in_august_keeps_the_july_rate(praho_factory, praho_session, make_customer):
    customer = make_customer("RO")
    invoice = praho_factory.invoice(customer, lines=[("Hosting", "1", "100.00")], now=JULY)
    credit = issue_credit_note(praho_session, invoice, reason="cancelled", now=AUGUST)
    assert credit.lines[0].tax_rate == Decimal("19") and credit.total_minor == 11900
    assert credit.tax_point_date == invoice.tax_point_date


def test_mixed_rates_on_one_document(praho_factory, praho_session, make_customer):
    customer = make_customer("RO", business=False)
    draft = praho_factory.draft(customer, lines=[("Hosting", "1", "100.00")], now=AUGUST)
    add_line(
        praho_session,
        draft,
        DraftLine(
            item_name="E-book",
            quantity=Decimal(1),
            unit_price=Decimal("50.00"),
            tax_class="reduced_2",
        ),
        now=AUGUST,
    )
    add_line(
        praho_session,
        draft,
        DraftLine(
            item_name="Training",
            quantity=Decimal(1),
            unit_price=Decimal("30.00"),
            tax_class="exempt",
        ),
        now=AUGUST,
    )
    invoice = issue_document(praho_session, draft, now=AUGUST)
    groups = [
        (s.tax_category, s.tax_rate, s.taxable_minor, s.tax_minor) for s in invoice.tax_subtotals
    ]
    assert groups == [
        ("S", Decimal("21"), 10000, 2100),
        ("S", Decimal("11"), 5000, 550),
        ("E", Decimal("0"), 3000, 0),
    ]
    assert invoice.total_minor == 18000 + 2650


# --- foreign currencies with real BNR rates ------------------------------------------------


def test_eur_invoice_uses_the_bnr_rate_of_the_previous_banking_day(
    praho_factory, praho_session, make_customer
):
    _load_bnr(praho_session, "bnr_sample.xml")  # Cube 2026-08-05, EUR 5.2489
    customer = make_customer("RO")
    invoice = praho_factory.invoice(
        customer,
        lines=[("Dedicated server", "1", "250.00")],
        currency="EUR",
        now=datetime(2026, 8, 6, 9, 0, tzinfo=UTC),
    )
    assert (
        invoice.exchange_rate,
        invoice.exchange_rate_date.isoformat(),
        invoice.exchange_rate_source,
    ) == (Decimal("5.248900"), "2026-08-05", "BNR")
    assert invoice.vat_minor == 5250
    assert (
        invoice.vat_ron_minor
        == percent_of(convert_minor(25000, "EUR", Decimal("5.2489"), "RON"), Decimal(21))
        == 27557
    )  # 1312.23 RON x 21%


def test_invoice_on_monday_uses_fridays_rate(praho_factory, praho_session, make_customer):
    _load_bnr(praho_session, "bnr_sample_old_namespace.xml")  # Cube Friday 2026-07-31
    customer = make_customer("RO")
    invoice = praho_factory.invoice(
        customer, currency="USD", now=datetime(2026, 8, 3, 9, 0, tzinfo=UTC)
    )
    assert invoice.exchange_rate_date.isoformat() == "2026-07-31"


def test_jpy_invoice_uses_the_multiplier(praho_factory, praho_session, make_customer):
    _load_bnr(praho_session, "bnr_sample.xml")  # JPY 2.8833 per 100
    customer = make_customer("RO")
    invoice = praho_factory.invoice(
        customer,
        lines=[("Hosting", "1", "10000")],
        currency="JPY",
        now=datetime(2026, 8, 6, 9, 0, tzinfo=UTC),
    )
    assert invoice.exchange_rate == Decimal("0.028833")
    assert invoice.vat_minor == 2100  # JPY has no minor unit
    assert invoice.vat_ron_minor == 6055  # 288.33 RON x 21% = 60.5493


def test_currency_bnr_stopped_publishing_is_refused_and_nothing_is_issued(
    praho_factory, praho_session, make_customer
):
    _load_bnr(praho_session, "bnr_sample_2025_with_BGN.xml")  # last BGN rate: 2025-12-31
    _load_bnr(praho_session, "bnr_sample.xml")
    customer = make_customer("RO")
    draft = praho_factory.draft(
        customer, currency="BGN", now=datetime(2026, 8, 6, 9, 0, tzinfo=UTC)
    )
    savepoint = praho_session.begin_nested()
    with pytest.raises(
        ExchangeRateUnavailable,
        match="BNR published no BGN rate on 2026-08-05.*an older BGN rate is not used",
    ):
        issue_document(praho_session, draft, now=datetime(2026, 8, 6, 9, 0, tzinfo=UTC))
    savepoint.rollback()
    assert (
        praho_session.scalar(select(func.count(Invoice.id)).where(Invoice.full_number.is_not(None)))
        == 0
    )
