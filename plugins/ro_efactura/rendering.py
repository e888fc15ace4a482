"""Render an issued PRAHO document as a CIUS-RO UBL 2.1 Invoice or CreditNote.

Invoices become ``Invoice`` documents with type code 380 (or 384 corrected, 389
self-billed, 751 for accounting purposes, taken from ``attributes['invoice_type_code']``);
credit notes become ``CreditNote`` documents with type code 381, positive amounts and a
billing reference to the invoice they correct. Amounts come from the totals frozen at
issue (VAT per category and rate, BR-CO-17) and are printed, never recomputed, so the
XML always matches the PDF and the ledger.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from lxml import etree
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice, InvoiceLine
from praho.core.money import format_amount, percent_of, to_major
from praho.plugins.ro_efactura.errors import NotReportable
from praho.plugins.ro_efactura.ubl_parties import (
    CAC,
    CBC,
    NS_CAC,
    NS_CBC,
    NS_CREDIT_NOTE,
    NS_INVOICE,
    amount,
    buyer_party,
    decimal_text,
    exemption_for,
    payment_means,
    seller_party,
    sub,
    tax_category,
)

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:efactura.mfinante.ro:CIUS-RO:1.0.1"
INVOICE_TYPE_CODES = {"380", "384", "389", "751"}
CREDIT_NOTE_TYPE_CODE = "381"
HOME_CURRENCY = "RON"
MAX_NOTES = 20
MAX_NOTE = 300


def document_type_code(invoice: Invoice) -> str:
    """The UNTDID 1001 code of a document (BT-3)."""
    if invoice.kind == DocumentKind.CREDIT_NOTE:
        return CREDIT_NOTE_TYPE_CODE
    code = str((invoice.attributes or {}).get("invoice_type_code") or "380")
    if code not in INVOICE_TYPE_CODES:
        raise NotReportable(
            f"{invoice.full_number}: invoice type code {code} is not allowed by CIUS-RO "
            f"(use one of {', '.join(sorted(INVOICE_TYPE_CODES))})"
        )
    return code


def check_renderable(invoice: Invoice) -> None:
    """Refuse documents that have no e-Factura form: drafts and proformas."""
    if invoice.status == DocumentStatus.DRAFT or not invoice.full_number:
        raise NotReportable("only issued documents can be rendered as e-Factura; issue it first")
    if invoice.kind == DocumentKind.PROFORMA:
        raise NotReportable(
            f"{invoice.full_number} is a proforma, which is not a fiscal document and has no "
            "e-Factura; convert it to an invoice first"
        )
    if not invoice.seller_snapshot or not invoice.buyer_snapshot:
        raise NotReportable(f"{invoice.full_number} has no frozen seller/buyer snapshot")


def render_document(invoice: Invoice) -> bytes:
    """The UTF-8 XML of an issued invoice or credit note."""
    return etree.tostring(
        build_tree(invoice), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )


def build_tree(invoice: Invoice) -> etree._Element:
    """The UBL element tree of an issued invoice or credit note (see the module docstring)."""
    check_renderable(invoice)
    is_credit = invoice.kind == DocumentKind.CREDIT_NOTE
    type_code = document_type_code(invoice)
    currency = invoice.currency
    seller, buyer = invoice.seller_snapshot or {}, invoice.buyer_snapshot or {}
    categories = {s.tax_category for s in invoice.tax_subtotals} | {
        line.tax_category for line in invoice.lines
    }
    not_subject = categories == {"O"}

    namespace = NS_CREDIT_NOTE if is_credit else NS_INVOICE
    root = etree.Element(
        f"{{{namespace}}}{'CreditNote' if is_credit else 'Invoice'}",
        nsmap={None: namespace, "cac": NS_CAC, "cbc": NS_CBC},
    )
    sub(root, CBC + "UBLVersionID", "2.1")
    sub(root, CBC + "CustomizationID", CUSTOMIZATION_ID)
    sub(root, CBC + "ID", invoice.full_number)
    sub(root, CBC + "IssueDate", _date(invoice.issue_date))
    if is_credit:
        sub(root, CBC + "CreditNoteTypeCode", type_code)
    else:
        if invoice.due_date is not None:
            sub(root, CBC + "DueDate", _date(invoice.due_date))
        sub(root, CBC + "InvoiceTypeCode", type_code)
    for note in document_notes(invoice):
        sub(root, CBC + "Note", note)
    if not is_credit and invoice.tax_point_date and invoice.tax_point_date != invoice.issue_date:
        sub(root, CBC + "TaxPointDate", _date(invoice.tax_point_date))
    sub(root, CBC + "DocumentCurrencyCode", currency)
    if currency != HOME_CURRENCY:
        sub(root, CBC + "TaxCurrencyCode", HOME_CURRENCY)
    _period(root, invoice.period_start, invoice.period_end)
    _billing_reference(root, invoice, type_code)

    seller_party(root, seller, not_subject_to_vat=not_subject)
    buyer_party(root, buyer, not_subject_to_vat=not_subject)
    if not is_credit and invoice.payable_minor > 0 and seller.get("iban"):
        payment_means(root, seller, invoice.full_number)
    terms = payment_terms_note(invoice)
    if terms:
        sub(sub(root, CAC + "PaymentTerms"), CBC + "Note", terms)
    for allowance in invoice.allowances:
        _allowance(root, allowance, currency)
    _tax_totals(root, invoice)
    _monetary_total(root, invoice)
    for line in invoice.lines:
        _line(root, line, currency, is_credit)
    return root


def _date(value: date | None) -> str:
    assert value is not None
    return value.isoformat()


def document_notes(invoice: Invoice) -> list[str]:
    """BT-22 notes: the document note, proforma origin, exchange rate (at most 20, 300 chars)."""
    notes: list[str] = []
    if invoice.note:
        notes.append(invoice.note)
    conversion = (invoice.attributes or {}).get("conversion")
    if conversion and conversion.get("proforma"):
        notes.append(f"Factura emisa in baza proformei {conversion['proforma']}")
    if invoice.currency != HOME_CURRENCY and invoice.exchange_rate is not None:
        vat_ron = format_amount(invoice.vat_ron_minor or 0, HOME_CURRENCY, "ro")
        notes.append(
            f"Curs de schimb {invoice.exchange_rate.normalize()} RON/{invoice.currency} "
            f"({invoice.exchange_rate_source or 'BNR'}, {invoice.exchange_rate_date}); "
            f"TVA in RON: {vat_ron}"
        )
    return [note.strip()[:MAX_NOTE] for note in notes if note and note.strip()][:MAX_NOTES]


def payment_terms_note(invoice: Invoice) -> str | None:
    """BT-20, needed when no due date says when the amount due is payable (BR-CO-25)."""
    if invoice.kind == DocumentKind.CREDIT_NOTE:
        if invoice.payable_minor <= 0:
            return None
        return "Suma se compenseaza cu facturile urmatoare sau se restituie la cerere"
    if invoice.payable_minor <= 0:
        return None
    amount_text = format_amount(invoice.payable_minor, invoice.currency, "ro")
    return (
        f"Plata {amount_text} {invoice.currency} in {invoice.payment_terms_days} zile de la emitere"
    )


def _period(parent: etree._Element, start: date | None, end_exclusive: date | None) -> None:
    """An InvoicePeriod. PRAHO periods end exclusively; UBL's EndDate is the last day."""
    if start is None and end_exclusive is None:
        return
    period = sub(parent, CAC + "InvoicePeriod")
    if start is not None:
        sub(period, CBC + "StartDate", start.isoformat())
    if end_exclusive is not None:
        last_day = end_exclusive - timedelta(days=1)
        if start is not None and last_day < start:
            last_day = start
        sub(period, CBC + "EndDate", last_day.isoformat())


def _billing_reference(root: etree._Element, invoice: Invoice, type_code: str) -> None:
    """BG-3: the invoice a credit note (381) or corrected invoice (384) refers to."""
    original = invoice.original_invoice
    if original is None and type_code not in (CREDIT_NOTE_TYPE_CODE, "384"):
        return
    reference = (invoice.attributes or {}).get("corrects") or {}
    number = original.full_number if original is not None else reference.get("number")
    issued = original.issue_date if original is not None else reference.get("issue_date")
    if not number:
        return
    document = sub(sub(root, CAC + "BillingReference"), CAC + "InvoiceDocumentReference")
    sub(document, CBC + "ID", str(number))
    if issued:
        sub(document, CBC + "IssueDate", issued if isinstance(issued, str) else issued.isoformat())


def _allowance(root: etree._Element, allowance: Any, currency: str) -> None:
    node = sub(root, CAC + "AllowanceCharge")
    sub(node, CBC + "ChargeIndicator", "true" if allowance.is_charge else "false")
    reason_code = allowance.reason_code or ("ZZZ" if allowance.is_charge else "95")
    sub(node, CBC + "AllowanceChargeReasonCode", reason_code)
    sub(node, CBC + "AllowanceChargeReason", allowance.reason[:100])
    consistent_percent = (
        allowance.percent is not None
        and allowance.base_amount_minor is not None
        and _percent_matches(allowance.base_amount_minor, allowance.percent, allowance.amount_minor)
    )
    if consistent_percent:
        sub(node, CBC + "MultiplierFactorNumeric", decimal_text(Decimal(allowance.percent)))
    amount(node, "Amount", allowance.amount_minor, currency)
    if consistent_percent:
        amount(node, "BaseAmount", allowance.base_amount_minor, currency)
    tax_category(node, "TaxCategory", allowance.tax_category, allowance.tax_rate)


def _percent_matches(base_minor: int, percent: Decimal, amount_minor: int) -> bool:
    """True when amount = base x percent / 100 to the cent (otherwise print the amount only)."""
    return percent_of(base_minor, Decimal(percent)) == amount_minor


def _tax_totals(root: etree._Element, invoice: Invoice) -> None:
    """BG-23 per (category, rate) in the document currency, plus the RON total (BT-111)."""
    currency = invoice.currency
    total = sub(root, CAC + "TaxTotal")
    amount(total, "TaxAmount", invoice.vat_minor, currency)
    for group in invoice.tax_subtotals:
        subtotal = sub(total, CAC + "TaxSubtotal")
        amount(subtotal, "TaxableAmount", group.taxable_minor, currency)
        amount(subtotal, "TaxAmount", group.tax_minor, currency)
        tax_category(
            subtotal,
            "TaxCategory",
            group.tax_category,
            group.tax_rate,
            exemption_for(group.tax_category, group.exemption_code, group.exemption_reason),
        )
    if currency != HOME_CURRENCY:
        ron_total = sub(root, CAC + "TaxTotal")
        vat_ron = invoice.vat_ron_minor
        if vat_ron is None:
            vat_ron = sum(s.tax_ron_minor or 0 for s in invoice.tax_subtotals)
        amount(ron_total, "TaxAmount", vat_ron, HOME_CURRENCY)


def _monetary_total(root: etree._Element, invoice: Invoice) -> None:
    currency = invoice.currency
    total = sub(root, CAC + "LegalMonetaryTotal")
    amount(total, "LineExtensionAmount", invoice.lines_net_minor, currency)
    amount(total, "TaxExclusiveAmount", invoice.taxable_minor, currency)
    amount(total, "TaxInclusiveAmount", invoice.total_minor, currency)
    if invoice.allowance_total_minor:
        amount(total, "AllowanceTotalAmount", invoice.allowance_total_minor, currency)
    if invoice.charge_total_minor:
        amount(total, "ChargeTotalAmount", invoice.charge_total_minor, currency)
    if invoice.prepaid_minor:
        amount(total, "PrepaidAmount", invoice.prepaid_minor, currency)
    amount(total, "PayableAmount", invoice.payable_minor, currency)


def _line(root: etree._Element, line: InvoiceLine, currency: str, is_credit: bool) -> None:
    """One InvoiceLine / CreditNoteLine (BG-25).

    A negative line (a proration credit) is written with a negative quantity and a
    positive unit price: the item net price may never be negative (BR-27).
    """
    node = sub(root, CAC + ("CreditNoteLine" if is_credit else "InvoiceLine"))
    sub(node, CBC + "ID", str(line.position))
    quantity = Decimal(line.quantity)
    if line.net_amount_minor < 0 and quantity > 0:
        quantity = -quantity
    sub(
        node,
        CBC + ("CreditedQuantity" if is_credit else "InvoicedQuantity"),
        decimal_text(quantity),
        unitCode=line.unit_code or "C62",
    )
    amount(node, "LineExtensionAmount", line.net_amount_minor, currency)
    _period(node, line.period_start, line.period_end)
    if line.line_allowance_minor:
        allowance = sub(node, CAC + "AllowanceCharge")
        sub(allowance, CBC + "ChargeIndicator", "false")
        sub(allowance, CBC + "AllowanceChargeReasonCode", "95")
        sub(
            allowance,
            CBC + "AllowanceChargeReason",
            (line.line_allowance_reason or "Discount")[:100],
        )
        amount(allowance, "Amount", abs(line.line_allowance_minor), currency)
    item = sub(node, CAC + "Item")
    if line.description:
        sub(item, CBC + "Description", line.description[:200])
    sub(item, CBC + "Name", line.item_name[:100])
    tax_category(item, "ClassifiedTaxCategory", line.tax_category, line.tax_rate)
    price = sub(node, CAC + "Price")
    sub(price, CBC + "PriceAmount", _unit_price(line, currency), currencyID=currency)


def _unit_price(line: InvoiceLine, currency: str) -> str:
    """The item net price (BT-146), never negative, with at least the currency's decimals."""
    price = abs(Decimal(line.unit_price))
    if price == 0 and line.quantity and line.gross_amount_minor:
        price = abs(to_major(line.gross_amount_minor, currency) / Decimal(line.quantity))
    places = max(len(str(to_major(1, currency)).partition(".")[2]), 0)
    return decimal_text(price, min_places=places)
