"""Golden files: every scenario renders exactly the checked-in XML, which passes all layers.

Regenerate after an intended change with ``PRAHO_UPDATE_GOLDEN=1 pytest plugins/ro_efactura``
and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree
from praho.plugins.ro_efactura.formats import CIUS_RO
from praho.plugins.ro_efactura.tests.scenarios import SCENARIOS
from praho.plugins.ro_efactura.validation import validate_all, xmlschema_problems

GOLDEN = Path(__file__).parent / "golden"
CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
CAC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"


@pytest.fixture(params=sorted(SCENARIOS))
def rendered(request, praho_factory):
    document = SCENARIOS[request.param](praho_factory)
    return request.param, document, CIUS_RO.render(document)


def test_scenario_matches_golden_file(rendered):
    name, _, xml = rendered
    path = GOLDEN / f"{name}.xml"
    if os.environ.get("PRAHO_UPDATE_GOLDEN"):
        path.write_bytes(xml)
    assert path.exists(), f"missing golden file {path}; run with PRAHO_UPDATE_GOLDEN=1"
    assert xml.decode() == path.read_text(encoding="utf-8")


def test_scenario_passes_xsd_cen_and_anaf_without_warnings(rendered):
    name, _, xml = rendered
    problems = validate_all(xml)
    assert problems == [], f"{name}: " + "\n".join(map(str, problems))
    assert CIUS_RO.validate(xml) == []


def test_golden_files_pass_xmlschema_too():
    files = sorted(GOLDEN.glob("*.xml"))
    assert len(files) >= 12
    for path in files:
        assert xmlschema_problems(etree.parse(str(path)).getroot()) == [], path.name


def _tree(xml: bytes):
    return etree.fromstring(xml)


def test_foreign_currency_has_ron_tax_total(praho_factory):
    xml = CIUS_RO.render(SCENARIOS["eur_with_ron_vat"](praho_factory))
    root = _tree(xml)
    assert root.findtext(f"{CBC}DocumentCurrencyCode") == "EUR"
    assert root.findtext(f"{CBC}TaxCurrencyCode") == "RON"
    totals = root.findall(f"{CAC}TaxTotal")
    assert [t.find(f"{CBC}TaxAmount").get("currencyID") for t in totals] == ["EUR", "RON"]
    # 274.99 EUR x 4.9750 = 1368.08 RON; 21% = 287.30 RON (BNR rate, Fiscal Code art. 290)
    assert totals[1].findtext(f"{CBC}TaxAmount") == "287.30"
    assert totals[1].find(f"{CAC}TaxSubtotal") is None


def test_reverse_charge_has_exemption_code_and_both_vat_ids(praho_factory):
    root = _tree(CIUS_RO.render(SCENARIOS["reverse_charge"](praho_factory)))
    category = root.find(f"{CAC}TaxTotal/{CAC}TaxSubtotal/{CAC}TaxCategory")
    assert category.findtext(f"{CBC}ID") == "AE"
    assert category.findtext(f"{CBC}Percent") == "0.00"
    assert category.findtext(f"{CBC}TaxExemptionReasonCode") == "VATEX-EU-AE"
    vat_ids = [
        e.text for e in root.iter(f"{CBC}CompanyID") if e.getparent().tag == f"{CAC}PartyTaxScheme"
    ]
    assert vat_ids == ["RO14399840", "DE136695976"]


def test_non_eu_has_no_vat_identifiers_and_no_rate(praho_factory):
    root = _tree(CIUS_RO.render(SCENARIOS["non_eu"](praho_factory)))
    schemes = [e.findtext(f"{CAC}TaxScheme/{CBC}ID") for e in root.iter(f"{CAC}PartyTaxScheme")]
    assert schemes == ["TAX"]  # the seller's CUI as tax registration id (BT-32) only
    assert root.find(f".//{CAC}ClassifiedTaxCategory/{CBC}Percent") is None


@pytest.mark.parametrize(
    "scenario,expected",
    [("individual_with_cnp", "1850315320037"), ("individual_without_cnp", "0000000000000")],
)
def test_individual_buyer_is_identified_by_cnp_or_zeros(praho_factory, scenario, expected):
    root = _tree(CIUS_RO.render(SCENARIOS[scenario](praho_factory)))
    legal = root.find(f"{CAC}AccountingCustomerParty/{CAC}Party/{CAC}PartyLegalEntity")
    assert legal.findtext(f"{CBC}CompanyID") == expected


def test_credit_note_is_a_creditnote_with_positive_amounts_and_reference(praho_factory):
    document = SCENARIOS["credit_note"](praho_factory)
    root = _tree(CIUS_RO.render(document))
    assert etree.QName(root).localname == "CreditNote"
    assert root.findtext(f"{CBC}CreditNoteTypeCode") == "381"
    reference = root.find(f"{CAC}BillingReference/{CAC}InvoiceDocumentReference")
    assert reference.findtext(f"{CBC}ID") == document.original_invoice.full_number
    assert reference.findtext(f"{CBC}IssueDate") == "2026-03-02"
    assert root.findtext(f"{CAC}LegalMonetaryTotal/{CBC}PayableAmount") == "18.15"
    assert root.findtext(f"{CAC}CreditNoteLine/{CBC}CreditedQuantity") == "3"


def test_bucharest_buyer_city_is_a_sector_code(praho_factory):
    root = _tree(CIUS_RO.render(SCENARIOS["bucharest_sectors"](praho_factory)))
    cities = [e.text for e in root.iter(f"{CBC}CityName")]
    assert cities == ["SECTOR1", "SECTOR3"]


def test_line_and_invoice_periods_end_on_the_last_day(praho_factory):
    root = _tree(CIUS_RO.render(SCENARIOS["subscription_periods"](praho_factory)))
    assert root.findtext(f"{CAC}InvoicePeriod/{CBC}EndDate") == "2026-03-31"
    assert root.findtext(f"{CAC}InvoiceLine/{CAC}InvoicePeriod/{CBC}StartDate") == "2026-03-01"
