"""Document scenarios for the golden files (and the benchmark): each returns an issued document.

Every scenario builds through the public services with a fixed clock, so the XML is
byte-for-byte stable and can be compared with the checked-in golden file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from praho.core.models import DocumentKind
from praho.core.pricing import DraftAllowance, DraftLine
from praho.core.services.credit_notes import CreditLine, convert_proforma, issue_credit_note
from praho.core.services.invoicing import apply_allowance, create_draft
from praho.core.services.issuing import issue_document

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
VALID_CNP = "1850315320037"


def _line(name: str, quantity: str, price: str, **extra: Any) -> DraftLine:
    return DraftLine(item_name=name, quantity=Decimal(quantity), unit_price=Decimal(price), **extra)


def _issue(factory: Any, customer: Any, lines: list[DraftLine], **draft: Any) -> Any:
    document = create_draft(factory.session, customer=customer, lines=lines, now=NOW, **draft)
    return issue_document(factory.session, document, now=NOW)


def domestic_21(factory: Any) -> Any:
    """A Romanian company, one standard-rated hosting line at 21%."""
    customer = factory.customer(
        legal_name="Alfa Web SRL", postal_code="400001", phone="0264 123 456"
    )
    return _issue(factory, customer, [_line("Web Hosting Pro", "1", "100.00")])


def mixed_21_11(factory: Any) -> Any:
    """Standard 21% and reduced 11% lines on one invoice: two VAT breakdown groups."""
    customer = factory.customer(legal_name="Beta Media SRL")
    return _issue(
        factory,
        customer,
        [
            _line("Web Hosting Business", "3", "45.50"),
            _line("Carte electronica: Ghid DNS", "2", "30.00", tax_class="reduced"),
        ],
    )


def eur_with_ron_vat(factory: Any) -> Any:
    """An EUR invoice: TaxCurrencyCode RON and a second TaxTotal with the VAT in RON."""
    customer = factory.customer(legal_name="Gamma Cloud SRL", currency="EUR")
    return _issue(
        factory,
        customer,
        [_line("Dedicated Server", "1", "249.99"), _line("Backup 500 GB", "2", "12.50")],
        currency="EUR",
    )


def reverse_charge(factory: Any) -> Any:
    """An EU business buyer with a VAT id: reverse charge, VATEX-EU-AE."""
    customer = factory.customer(
        legal_name="Delta Hosting GmbH",
        country="DE",
        county=None,
        city="Berlin",
        street="Friedrichstrasse 10",
        postal_code="10117",
        cui=None,
        vat_id="DE136695976",
        currency="EUR",
    )
    return _issue(factory, customer, [_line("VPS 8 GB", "1", "40.00")], currency="EUR")


def non_eu(factory: Any) -> Any:
    """A buyer outside the EU: not subject to Romanian VAT (O), no VAT identifiers (BR-O-02)."""
    customer = factory.customer(
        legal_name="Epsilon Inc.",
        country="US",
        county=None,
        city="Austin",
        street="500 Congress Ave",
        postal_code="78701",
        cui=None,
        vat_id=None,
        currency="USD",
    )
    return _issue(factory, customer, [_line("Managed WordPress", "12", "15.00")], currency="USD")


def individual_with_cnp(factory: Any) -> Any:
    """A private person who gave a CNP (B2C, uploaded through uploadb2c)."""
    customer = factory.customer(
        kind="individual",
        legal_name="Ion Popescu",
        cui=None,
        vat_id=None,
        cnp=VALID_CNP,
        city="Iasi",
        county="RO-IS",
        street="Str. Lapusneanu 7",
    )
    return _issue(factory, customer, [_line("Domeniu .ro (1 an)", "1", "49.00")])


def individual_without_cnp(factory: Any) -> Any:
    """A private person without a CNP: identified by 13 zeros."""
    customer = factory.customer(
        kind="individual",
        legal_name="Maria Ionescu",
        cui=None,
        vat_id=None,
        city="Brasov",
        county="RO-BV",
        street="Str. Republicii 3",
    )
    return _issue(factory, customer, [_line("Email Hosting", "1", "19.99")])


def credit_note(factory: Any) -> Any:
    """A credit note for part of an invoice: CreditNote 381 with a billing reference."""
    customer = factory.customer(legal_name="Zeta Soft SRL")
    invoice = _issue(
        factory, customer, [_line("Mailbox", "10", "5.00"), _line("SSL", "1", "80.00")]
    )
    return issue_credit_note(
        factory.session,
        invoice,
        reason="3 casute de email anulate",
        lines=[CreditLine(invoice.lines[0].id, quantity=Decimal(3))],
        now=LATER,
    )


def proforma_converted(factory: Any) -> Any:
    """The fiscal invoice of a paid proforma (the proforma itself has no e-Factura)."""
    customer = factory.customer(legal_name="Eta Consulting SRL")
    proforma = _issue(
        factory,
        customer,
        [_line("Web Hosting Pro (anual)", "1", "1000.00")],
        kind=DocumentKind.PROFORMA,
    )
    return convert_proforma(factory.session, proforma, now=LATER)


def prepaid(factory: Any) -> Any:
    """An invoice on which an advance was already paid: PrepaidAmount and a smaller payable."""
    customer = factory.customer(legal_name="Theta Trade SRL")
    return _issue(factory, customer, [_line("Migrare site", "1", "500.00")], prepaid_minor=20000)


def discount(factory: Any) -> Any:
    """A line discount and a document-level 10% discount split over two VAT groups."""
    customer = factory.customer(legal_name="Iota Retail SRL")
    draft = create_draft(
        factory.session,
        customer=customer,
        now=NOW,
        lines=[
            _line(
                "Web Hosting Pro",
                "2",
                "100.00",
                line_allowance_minor=2000,
                line_allowance_reason="Reducere fidelitate",
            ),
            _line("Manual tiparit", "1", "50.00", tax_class="reduced"),
        ],
    )
    apply_allowance(
        factory.session,
        draft,
        DraftAllowance(amount_minor=2300, reason="Promotie 10%", source="test"),
    )
    return issue_document(factory.session, draft, now=NOW)


def document_charge(factory: Any) -> Any:
    """A document-level charge (an urgency fee) with the default charge reason code, ZZZ."""
    customer = factory.customer(legal_name="Omicron Events SRL")
    draft = create_draft(
        factory.session, customer=customer, now=NOW, lines=[_line("Web Hosting Pro", "1", "200.00")]
    )
    apply_allowance(
        factory.session,
        draft,
        DraftAllowance(amount_minor=5000, reason="Taxa de urgenta", source="test", is_charge=True),
    )
    return issue_document(factory.session, draft, now=NOW)


def bucharest_sectors(factory: Any) -> Any:
    """Seller in SECTOR1 and buyer in SECTOR3 of Bucharest (RO-B)."""
    customer = factory.customer(
        legal_name="Kappa Studio SRL",
        city="Sector 3",
        county="RO-B",
        street="Bd. Unirii 20",
        postal_code="030833",
    )
    return _issue(factory, customer, [_line("Cloud Storage", "5", "9.90")])


def long_names_special_characters(factory: Any) -> Any:
    """Names at their length limits, Romanian diacritics and XML-special characters."""
    name = ("Societatea Comercială „Ţară & Şcoală” <Învăţământ> 'Ăîâşţ' SRL " * 4)[:200]
    customer = factory.customer(
        legal_name=name,
        street=("Strada Mihail Kogălniceanu nr. 12 " * 5)[:150],
        city="Târgu Mureș",
        county="RO-MS",
    )
    return _issue(
        factory,
        customer,
        [
            _line(
                ("Găzduire web „Premium” & e-mail <nelimitat> " * 3)[:100],
                "1",
                "123.45",
                description=(
                    "Perioada: 01.03.2026 – 31.03.2026; include SSL & backup zilnic. " * 4
                )[:200],
            ),
        ],
        note="Vă mulțumim! Plata prin OP în contul RO49AAAA1B31007593840000 & referința facturii.",
    )


def subscription_periods(factory: Any) -> Any:
    """A renewal with the invoice period and line periods, plus an exempt line (category E)."""
    customer = factory.customer(legal_name="Lambda Net SRL")
    return _issue(
        factory,
        customer,
        [
            _line(
                "VPS 4 GB (martie)",
                "1",
                "60.00",
                period_start=date(2026, 3, 1),
                period_end=date(2026, 4, 1),
            ),
            _line("Curs instruire acreditat", "1", "200.00", tax_class="exempt"),
        ],
        period_start=date(2026, 3, 1),
        period_end=date(2026, 4, 1),
    )


SCENARIOS: dict[str, Callable[[Any], Any]] = {
    "domestic_21": domestic_21,
    "mixed_21_11": mixed_21_11,
    "eur_with_ron_vat": eur_with_ron_vat,
    "reverse_charge": reverse_charge,
    "non_eu": non_eu,
    "individual_with_cnp": individual_with_cnp,
    "individual_without_cnp": individual_without_cnp,
    "credit_note": credit_note,
    "proforma_converted": proforma_converted,
    "prepaid": prepaid,
    "discount": discount,
    "document_charge": document_charge,
    "bucharest_sectors": bucharest_sectors,
    "long_names_special_characters": long_names_special_characters,
    "subscription_periods": subscription_periods,
}
