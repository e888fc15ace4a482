"""PDF documents: the legally required items, both languages, diacritics and the embedded font.

PDFs are read back with poppler's ``pdftotext`` and ``pdffonts`` (what an auditor's tools
see), not by inspecting our own HTML.
"""

import os
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from praho.core.errors import ValidationFailed
from praho.core.hookspecs import hookimpl
from praho.core.models import DocumentKind
from praho.core.pricing import DraftAllowance, DraftLine
from praho.core.services.credit_notes import convert_proforma, issue_credit_note
from praho.core.services.customers import update_customer
from praho.core.services.invoicing import add_line, apply_allowance
from praho.core.services.issuing import issue_document, void_document
from praho.core.services.pdf import render_document_html, render_document_pdf
from praho.core.services.taxes import apply_decision
from praho.core.tax import ExchangeRateQuote, TaxDecision
from praho.core.testing import PrahoFactory, StaticTaxRegime, StaticTestPlugin

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ROMANIAN_LETTERS = "ăâîșțĂÂÎȘȚ"
CEDILLA_LOOKALIKES = "şţŞŢ"

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("pdftotext", "pdffonts", "pdfinfo")),
    reason="needs poppler-utils (pdftotext, pdffonts, pdfinfo)")


class DatedRegime(StaticTaxRegime):
    """The static test regime, with Romania's 19% standard rate before 1 August 2025."""

    def decide(self, session, request):
        decision = super().decide(session, request)
        before_change = request.tax_point < date(2025, 8, 1)
        if decision.category == "S" and decision.rate == 21 and before_change:
            return TaxDecision("S", Decimal(19), "test regime: 19% before 2025-08-01")
        return decision


class BnrRatesPlugin(StaticTestPlugin):
    """Fixed rates labelled as BNR's, published for the day asked."""

    @hookimpl
    def resolve_exchange_rate(self, currency, on_date):
        if currency not in self.rates:
            return None
        return ExchangeRateQuote(currency, self.rates[currency], on_date, "BNR")


@pytest.fixture
def praho_plugins():
    return [("static_test", BnrRatesPlugin(regime=DatedRegime()))]


def pdf_text(pdf: bytes, tmp_path, *, raw: bool = False) -> str:
    """The text of a PDF as ``pdftotext -layout`` reads it, whitespace collapsed.

    Layout mode keeps a label and its value together; side-by-side blocks (seller and
    buyer) share lines, so addresses are checked line by line. ``raw`` reads in content
    order, which also picks up the rotated watermark.
    """
    path = tmp_path / "document.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", "-enc", "UTF-8", "-raw" if raw else "-layout", str(path), "-"]
    out = subprocess.run(args, capture_output=True, check=True, text=True).stdout
    return " ".join(out.split())


def pdf_fonts(pdf: bytes, tmp_path) -> list[tuple[str, str]]:
    """(font name, embedded yes/no) for each font in the PDF, from pdffonts."""
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout
    rows = out.splitlines()[2:]
    return [(row.split()[0], row.split()[-5]) for row in rows if row.strip()]


def pdf_pages(pdf: bytes, tmp_path) -> int:
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def romanian_customer(factory: PrahoFactory, **overrides):
    values = {
        "legal_name": "Ștefănescu & Țurcanu Construcții SRL", "street": "Bd. Ștefan cel Mare 12",
        "city": "Iași", "county": "RO-IS", "postal_code": "700063",
        "trade_register": "J22/456/2019", "cui": "14399840", "vat_id": "RO14399840",
    }
    values.update(overrides)
    return factory.customer(**values)


@pytest.fixture
def seller(praho_factory, praho_session):
    seller = praho_factory.seller()
    seller.share_capital = "200 RON"
    seller.legal_name = "PRAHO Hosting SRL"
    praho_session.flush()
    return seller


# --- invoices --------------------------------------------------------------------------


def test_invoice_prints_what_art_319_requires(praho_factory, praho_session, seller, tmp_path):
    customer = romanian_customer(praho_factory)
    invoice = praho_factory.invoice(customer, lines=[
        ("Găzduire web Pro – ședință tehnică", "1", "1234.56"),
        ("Înregistrare domeniu .ro (ÎNTÂI, ÂNCĂ)", "2", "45.50"),
    ])
    text = pdf_text(render_document_pdf(praho_session, invoice), tmp_path)

    assert "FACTURĂ" in text and "PROFORM" not in text
    assert "Seria și nr. PRH2026-000001" in text
    assert "Data emiterii 02.03.2026" in text and "Data scadenței 16.03.2026" in text
    assert "Data exigibilității" not in text  # only printed when it differs from the issue date
    # Seller: name, VAT code with RO prefix, trade register, share capital, address, bank.
    for item in ("PRAHO Hosting SRL", "CIF: RO14399840", "Nr. Reg. Com.: J40/1234/2015",
                 "Capital social: 200 RON", "Sediul: Str. Exemplu 1", "Sector 1, București, 010011",
                 "IBAN: RO49AAAA1B31007593840000", "Banca: Banca Exemplu"):
        assert item in text, item
    # Buyer, with its county.
    for item in ("Ștefănescu & Țurcanu Construcții SRL", "Nr. Reg. Com.: J22/456/2019",
                 "Sediul: Bd. Ștefan cel Mare 12", "Iași, jud. Iași, 700063", "România"):
        assert item in text, item
    # Lines: name, unit, quantity, unit price, net amount, VAT rate.
    assert "Găzduire web Pro – ședință tehnică buc. 1 1.234,56 1.234,56 21%" in text
    assert "buc. 2 45,50 91,00 21%" in text
    # VAT breakdown per rate and the totals (BR-CO-17: 21% of 1,325.56 = 278.37).
    assert "S – Taxabilă 21% 1.325,56 278,37" in text
    assert "Total fără TVA 1.325,56" in text and "Total TVA 278,37" in text
    assert "Total factură 1.603,93" in text
    assert "Stare plată Neîncasată" in text and "Rest de plată 1.603,93" in text
    assert "Factura este valabilă fără semnătură și ștampilă" in text
    assert "Pagina 1 din 1" in text


def test_romanian_letters_render_with_comma_below_in_the_shipped_font(praho_factory, praho_session,
                                                                      seller, tmp_path):
    customer = romanian_customer(praho_factory, legal_name="ȘTIINȚA Îmbrăcăminte Âncă SRL")
    invoice = praho_factory.invoice(customer, lines=[("Găzduire și mentenanță țintită", "1", "10")])
    pdf = render_document_pdf(praho_session, invoice)
    text = pdf_text(pdf, tmp_path)
    for letter in ROMANIAN_LETTERS:
        assert letter in text, f"{letter!r} missing from the PDF text"
    for letter in CEDILLA_LOOKALIKES:
        assert letter not in text, f"cedilla form {letter!r} printed instead of comma-below"
    fonts = pdf_fonts(pdf, tmp_path)
    # Every glyph came from the packaged DejaVu Sans (regular and bold), embedded as a
    # subset: no fallback to whatever fonts the machine happens to have.
    assert {name.split("+", 1)[1] for name, _ in fonts} == {"PRAHO-Sans", "PRAHO-Sans-Bold"}
    assert all(embedded == "yes" for _, embedded in fonts)
    assert all(re.fullmatch(r"[A-Z]{6}\+.*", name) for name, _ in fonts)  # subset tag


def test_invoice_in_english_on_request(praho_factory, praho_session, seller, tmp_path):
    invoice = praho_factory.invoice(romanian_customer(praho_factory),
                                    lines=[("Dedicated server", "1", "1234.56")])
    text = pdf_text(render_document_pdf(praho_session, invoice, language="en"), tmp_path)
    for item in ("INVOICE", "Series and number PRH2026-000001", "Issue date 2 March 2026",
                 "Due date 16 March 2026", "SUPPLIER", "CUSTOMER", "VAT ID: RO14399840",
                 "Trade Reg. No.: J40/1234/2015", "Sector 1, Bucharest, 010011",
                 "Iași, Iași County, 700063", "Romania",
                 "Dedicated server unit 1 1,234.56 1,234.56 21%",
                 "S – Standard rated 21% 1,234.56 259.26",
                 "Invoice total 1,493.82", "Amount due 1,493.82", "Page 1 of 1",
                 "Valid without signature or stamp"):
        assert item in text, item
    assert "FACTURĂ" not in text


def test_document_language_is_the_default(praho_factory, praho_session, seller, tmp_path):
    customer = romanian_customer(praho_factory, language="en")
    invoice = praho_factory.invoice(customer)
    assert "INVOICE" in pdf_text(render_document_pdf(praho_session, invoice), tmp_path)
    romanian = render_document_pdf(praho_session, invoice, language="ro")
    assert "FACTURĂ" in pdf_text(romanian, tmp_path)
    with pytest.raises(ValidationFailed, match="language"):
        render_document_pdf(praho_session, invoice, language="de")


def test_tax_point_is_printed_when_it_differs(praho_factory, praho_session, seller, tmp_path):
    invoice = praho_factory.invoice(romanian_customer(praho_factory),
                                    tax_point_date=date(2026, 2, 27))
    text = pdf_text(render_document_pdf(praho_session, invoice), tmp_path)
    assert "Data emiterii 02.03.2026" in text
    assert "Data exigibilității TVA 27.02.2026" in text


def test_allowances_prepaid_period_and_line_discount(praho_factory, praho_session, seller,
                                                     tmp_path):
    draft = praho_factory.draft(romanian_customer(praho_factory),
                                lines=[("Găzduire", "1", "100.00")], prepaid_minor=5000,
                                period_start=date(2026, 3, 1), period_end=date(2026, 3, 31))
    add_line(praho_session, draft, DraftLine(
        item_name="Carte tehnică", quantity=Decimal(1), unit_price=Decimal("50.00"),
        tax_class="reduced", line_allowance_minor=500, line_allowance_reason="client fidel"),
        now=NOW)
    apply_allowance(praho_session, draft, DraftAllowance(
        amount_minor=1000, reason="Reducere de primăvară", source="promo"))
    invoice = issue_document(praho_session, draft, now=NOW)
    text = pdf_text(render_document_pdf(praho_session, invoice), tmp_path)
    assert "Perioada facturată 01.03.2026 – 31.03.2026" in text
    assert "Reducere (client fidel): -5,00 (valoare brută 50,00)" in text
    assert "Reducere Reducere de primăvară" in text
    # Lines 100 + 45, allowance 10 spread over both VAT groups; totals reconcile.
    assert f"Total valoare linii {'145,00'}" in text and "Reduceri -10,00" in text
    assert "Total fără TVA 135,00" in text
    assert f"Total TVA {invoice.vat_minor // 100},{invoice.vat_minor % 100:02d}" in text
    assert "Avans încasat -50,00" in text
    payable = invoice.payable_minor
    assert f"Total de plată {payable // 100},{payable % 100:02d}" in text
    assert "S – Taxabilă 21%" in text and "S – Taxabilă 11%" in text


def test_individual_buyer_with_cnp(praho_factory, praho_session, seller, tmp_path):
    person = praho_factory.customer(legal_name="Ion Popescu", kind="individual", cui=None,
                                    vat_id=None, cnp="1960101400011", street="Str. Florilor 7",
                                    city="Timișoara", county="RO-TM")
    text = pdf_text(render_document_pdf(praho_session, praho_factory.invoice(person)), tmp_path)
    assert "Ion Popescu" in text and "CNP: 1960101400011" in text
    assert "Sediul: Str. Florilor 7" in text and "Timișoara, jud. Timiș" in text


def test_issued_document_prints_its_snapshot_not_the_live_customer(praho_factory, praho_session,
                                                                   seller, tmp_path):
    customer = romanian_customer(praho_factory)
    invoice = praho_factory.invoice(customer)
    draft = praho_factory.draft(customer)
    update_customer(praho_session, customer,
                    {"legal_name": "Nume Nou SRL", "street": "Str. Nouă 1"}, now=NOW)
    issued_text = pdf_text(render_document_pdf(praho_session, invoice), tmp_path)
    assert "Ștefănescu & Țurcanu Construcții SRL" in issued_text and "Nume Nou" not in issued_text
    assert "Bd. Ștefan cel Mare 12" in issued_text
    draft_text = pdf_text(render_document_pdf(praho_session, draft), tmp_path)
    assert "Nume Nou SRL" in draft_text and "Str. Nouă 1" in draft_text


def test_party_text_is_escaped_not_interpreted(praho_factory, praho_session, seller, tmp_path):
    customer = romanian_customer(praho_factory, legal_name="Firma <b>Test</b> & Co SRL")
    invoice = praho_factory.invoice(customer,
                                    lines=[("<img src='http://example.invalid/x'>", "1", "1")])
    assert "&lt;b&gt;Test" in render_document_html(praho_session, invoice)
    text = pdf_text(render_document_pdf(praho_session, invoice), tmp_path)
    assert "Firma <b>Test</b> & Co SRL" in text
    assert "<img src='http://example.invalid/x'>" in text


def test_long_invoice_repeats_the_table_header_and_numbers_pages(praho_factory, praho_session,
                                                                 seller, tmp_path):
    lines = [(f"Cutie poștală #{n}", "1", "2.50") for n in range(70)]
    invoice = praho_factory.invoice(romanian_customer(praho_factory), lines=lines)
    pdf = render_document_pdf(praho_session, invoice)
    pages = pdf_pages(pdf, tmp_path)
    text = pdf_text(pdf, tmp_path)
    assert pages >= 2
    for page in range(1, pages + 1):
        assert f"Pagina {page} din {pages}" in text
    assert text.count("Denumirea produselor sau a serviciilor") == pages
    assert "Cutie poștală #69" in text and "Total factură 211,75" in text


# --- foreign currency and VAT without tax -----------------------------------------------


def test_eur_invoice_has_bnr_rate_and_vat_in_ron(praho_factory, praho_session, seller, tmp_path):
    customer = romanian_customer(praho_factory, currency="EUR")
    invoice = praho_factory.invoice(customer, lines=[("VPS Large", "1", "100.00")], currency="EUR")
    pdf = render_document_pdf(praho_session, invoice)
    text = pdf_text(pdf, tmp_path)
    assert "Moneda EUR" in text
    assert "Curs BNR: 1 EUR = 4,9750 RON, din data de 02.03.2026" in text
    # 100 EUR at 4.9750 = 497.50 RON; 21% = 104.475 -> 104.48 RON (art. 290 Cod fiscal).
    assert "S – Taxabilă 21% 100,00 21,00 104,48" in text
    assert "TVA în lei (RON) 104,48 RON" in text
    english = pdf_text(render_document_pdf(praho_session, invoice, language="en"), tmp_path)
    assert "BNR exchange rate: 1 EUR = 4.9750 RON, of 2 March 2026" in english
    assert "VAT in RON 104.48 RON" in english


def test_reverse_charge_invoice_says_taxare_inversa(praho_factory, praho_session, seller, tmp_path):
    buyer = praho_factory.customer(legal_name="Müller Hosting GmbH", street="Hauptstraße 5",
                                   city="München", county=None, country="DE", cui=None,
                                   vat_id="DE136695976", currency="EUR", language="en")
    draft = praho_factory.draft(buyer, lines=[("Dedicated server", "1", "200.00")], currency="EUR")
    # The static test regime knows no reverse charge: decide the line as eu_vat would
    # (tax_fixed keeps the decision through issuing).
    line = draft.lines[0]
    line.details = {**line.details, "tax_fixed": True}
    apply_decision(line, TaxDecision(
        "AE", Decimal(0), "EU B2B, VIES-valid VAT id", exemption_code="VATEX-EU-AE",
        exemption_reason="Taxare inversă / Reverse charge, art. 196 Directive 2006/112/EC"))
    invoice = issue_document(praho_session, draft, now=NOW)
    assert invoice.tax_subtotals[0].tax_category == "AE"

    text = pdf_text(render_document_pdf(praho_session, invoice), tmp_path)
    assert text.startswith("PRAHO Hosting SRL")
    assert "INVOICE" in text and "VAT ID: DE136695976" in text
    assert "Address: Hauptstraße 5" in text and "München" in text and "Germany" in text
    assert "Dedicated server unit 1 200.00 200.00 AE" in text
    assert "AE – Reverse charge 0% 200.00 0.00 0.00" in text
    assert ("Reverse charge: Taxare inversă / Reverse charge, art. 196 Directive 2006/112/EC "
            "(VATEX-EU-AE)") in text
    assert "Invoice total 200.00" in text
    romanian = pdf_text(render_document_pdf(praho_session, invoice, language="ro"), tmp_path)
    assert "Taxare inversă: Taxare inversă / Reverse charge" in romanian
    assert "Cod TVA: DE136695976" in romanian and "Germania" in romanian


def test_non_eu_buyer_is_outside_the_scope(praho_factory, praho_session, seller, tmp_path):
    buyer = praho_factory.customer(legal_name="Acme Inc.", street="1 Main St", city="Austin",
                                   county=None, country="US", cui=None, vat_id=None, currency="USD")
    invoice = praho_factory.invoice(buyer, lines=[("Managed hosting", "3", "20")], currency="USD")
    text = pdf_text(render_document_pdf(praho_session, invoice), tmp_path)
    assert "O – Neimpozabilă în România 0% 60,00 0,00 0,00" in text
    assert "Operațiune neimpozabilă în România: Not subject to VAT (VATEX-EU-O)" in text
    assert "Curs BNR: 1 USD = 4,3000 RON" in text
    assert "Statele Unite ale Americii" in text


# --- proformas and credit notes ---------------------------------------------------------


def test_proforma_is_marked_as_not_fiscal(praho_factory, praho_session, seller, tmp_path):
    proforma = praho_factory.invoice(romanian_customer(praho_factory), kind=DocumentKind.PROFORMA)
    text = pdf_text(render_document_pdf(praho_session, proforma), tmp_path)
    assert "FACTURĂ PROFORMĂ" in text and "Seria și nr. PRO2026-000001" in text
    assert "Factura proformă nu este document fiscal" in text
    assert "Total proformă 121,00" in text and "Rest de plată 121,00" in text
    assert "fără semnătură" not in text
    english = pdf_text(render_document_pdf(praho_session, proforma, language="en"), tmp_path)
    assert "PROFORMA INVOICE" in english and "not a tax document" in english


def test_converted_proforma_explains_the_new_vat_rate(praho_factory, praho_session, seller,
                                                      tmp_path):
    customer = romanian_customer(praho_factory)
    proforma = praho_factory.invoice(customer, kind=DocumentKind.PROFORMA,
                                     now=datetime(2025, 7, 20, 9, 0, tzinfo=UTC))
    assert proforma.tax_subtotals[0].tax_rate == 19
    invoice = convert_proforma(praho_session, proforma, now=datetime(2025, 8, 4, 9, 0, tzinfo=UTC))

    text = pdf_text(render_document_pdf(praho_session, invoice), tmp_path)
    assert ("Factură emisă pe baza facturii proforme PRO2025-000001 (total proformă 119,00 RON, "
            "total factură 121,00 RON, diferență +2,00 RON).") in text
    assert ("TVA recalculată la data exigibilității facturii (04.08.2025): 19% pe proforma din "
            "20.07.2025, 21% pe factură.") in text
    english = pdf_text(render_document_pdf(praho_session, invoice, language="en"), tmp_path)
    assert ("VAT re-rated at the invoice tax point (4 August 2025): 19% on the proforma of "
            "20 July 2025, 21% on this invoice.") in english
    proforma_text = pdf_text(render_document_pdf(praho_session, proforma), tmp_path)
    assert f"facturată prin factura {invoice.full_number}" in proforma_text


def test_credit_note_refers_to_the_original_with_negative_amounts(praho_factory, praho_session,
                                                                  seller, tmp_path):
    invoice = praho_factory.invoice(romanian_customer(praho_factory),
                                    lines=[("Găzduire", "1", "100.00"), ("Domeniu", "2", "45.50")])
    credit = issue_credit_note(praho_session, invoice,
                               reason="Serviciu reziliat în perioada de probă",
                               gross_amount_minor=12100, now=NOW)
    text = pdf_text(render_document_pdf(praho_session, credit), tmp_path)
    assert "FACTURĂ DE STORNARE" in text and "Seria și nr. PRHC2026-000001" in text
    assert "Stornează factura PRH2026-000001 din data de 02.03.2026." in text
    assert "Motivul stornării: Serviciu reziliat în perioada de probă" in text
    assert "S – Taxabilă 21% -100,00 -21,00" in text
    assert "Total stornat -121,00" in text
    assert "Data scadenței" not in text and "Rest de plată" not in text
    english = pdf_text(render_document_pdf(praho_session, credit, language="en"), tmp_path)
    assert "CREDIT NOTE" in english and "Credits invoice PRH2026-000001 of 2 March 2026." in english
    # The original now shows what was credited and what is still due.
    original = pdf_text(render_document_pdf(praho_session, invoice), tmp_path)
    assert "Stornat 121,00" in original
    due = invoice.balance_due_minor
    assert f"Rest de plată {due // 100},{due % 100:02d}" in original


def test_fully_credited_invoice_reads_as_credited(praho_factory, praho_session, seller, tmp_path):
    invoice = praho_factory.invoice(romanian_customer(praho_factory))
    issue_credit_note(praho_session, invoice, reason="anulat", now=NOW)
    text = pdf_text(render_document_pdf(praho_session, invoice), tmp_path)
    assert "Stare plată Stornată" in text and "Rest de plată 0,00" in text


# --- drafts and void documents -----------------------------------------------------------


def test_draft_has_a_watermark_and_no_number(praho_factory, praho_session, seller, tmp_path):
    draft = praho_factory.draft(romanian_customer(praho_factory),
                                lines=[("Găzduire", "2", "10.00")])
    assert "CIORNĂ" in pdf_text(render_document_pdf(praho_session, draft), tmp_path, raw=True)
    text = pdf_text(render_document_pdf(praho_session, draft), tmp_path)
    assert "Seria și nr. ciornă, fără număr" in text
    assert "PRH2026" not in text
    assert "Total factură 24,20" in text  # previewed totals
    assert "fără semnătură" not in text
    english = pdf_text(render_document_pdf(praho_session, draft, language="en"), tmp_path)
    assert "DRAFT" in pdf_text(render_document_pdf(praho_session, draft, language="en"), tmp_path,
                               raw=True)
    assert "draft, not numbered" in english


def test_void_document_is_marked_void(praho_factory, praho_session, seller, tmp_path):
    invoice = praho_factory.invoice(romanian_customer(praho_factory))
    void_document(praho_session, invoice, reason="emisă din greșeală", now=NOW)
    assert "ANULATĂ" in pdf_text(render_document_pdf(praho_session, invoice), tmp_path, raw=True)
    text = pdf_text(render_document_pdf(praho_session, invoice), tmp_path)
    assert "PRH2026-000001" in text
    assert "Document anulat la 02.03.2026: emisă din greșeală" in text
    assert "Rest de plată" not in text


def test_rendering_changes_nothing_and_is_reproducible(praho_factory, praho_session, seller,
                                                       tmp_path):
    invoice = praho_factory.invoice(romanian_customer(praho_factory))
    first = render_document_pdf(praho_session, invoice)
    assert not praho_session.dirty and not praho_session.new
    # Same document, same state: the same bytes (no render-time clock or random id inside).
    assert render_document_pdf(praho_session, invoice) == first
    path = tmp_path / "info.pdf"
    path.write_bytes(first)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True,
                          env={**os.environ, "TZ": "UTC"}).stdout
    assert re.search(r"^Title:\s+FACTURĂ PRH2026-000001$", info, re.M)
    assert re.search(r"^Author:\s+PRAHO Hosting SRL$", info, re.M)
    assert re.search(r"^CreationDate:\s+Mon Mar\s+2 10:00:00 2026 UTC$", info, re.M)  # issued_at


# --- the command line ---------------------------------------------------------------------


def test_cli_invoice_pdf(praho_committing, praho_app, tmp_path):
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        factory.seller()
        number = factory.invoice(romanian_customer(factory)).full_number
    runner = praho_app.test_cli_runner()

    target = tmp_path / "out.pdf"
    result = runner.invoke(args=["invoice", "pdf", number, "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert f"wrote {target}" in result.output
    assert target.read_bytes().startswith(b"%PDF-")
    assert "FACTURĂ" in pdf_text(target.read_bytes(), tmp_path)

    result = runner.invoke(args=["invoice", "pdf", number, "--language", "en", "-o", "-"])
    assert result.exit_code == 0
    assert "INVOICE" in pdf_text(result.stdout_bytes, tmp_path)


def test_cli_invoice_pdf_default_file_name(praho_committing, praho_app, tmp_path, monkeypatch):
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        factory.seller()
        number = factory.invoice(romanian_customer(factory)).full_number
    monkeypatch.chdir(tmp_path)
    result = praho_app.test_cli_runner().invoke(args=["invoice", "pdf", number])
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"{number}.pdf").read_bytes().startswith(b"%PDF-")


def test_cli_invoice_pdf_bad_input(praho_committing, praho_app, tmp_path):
    runner = praho_app.test_cli_runner()
    result = runner.invoke(args=["invoice", "pdf", "PRH2099-999999"])
    assert result.exit_code != 0
    assert "no document PRH2099-999999" in result.output
    result = runner.invoke(args=["invoice", "pdf", "1", "--language", "de"])
    assert result.exit_code != 0 and "Invalid value for '--language'" in result.output
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        factory.seller()
        number = factory.invoice(romanian_customer(factory)).full_number
    unwritable = tmp_path / "missing" / "x.pdf"
    result = runner.invoke(args=["invoice", "pdf", number, "-o", str(unwritable)])
    assert result.exit_code != 0 and "cannot write" in result.output
