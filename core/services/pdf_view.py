"""What a PDF document shows, computed from an invoice, proforma or credit note.

The templates only lay out a :class:`DocumentView`; every figure, label and legal
mention is decided here so it can be tested without rendering. Issued documents are
printed from their frozen seller and buyer snapshots and frozen totals, never from
live rows; drafts preview the live customer and the totals as they stand.

Credit notes print amounts with a minus sign and refer to the invoice they correct,
as art. 330 alin. (1) of the Romanian Fiscal Code asks of a "factură de stornare".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from praho.core.errors import FieldError, PrahoError, ValidationFailed
from praho.core.models.customers import Customer
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice, PaymentStatus
from praho.core.models.seller import Seller
from praho.core.money import format_amount
from praho.core.services.invoicing import converted_invoice
from praho.core.services.issuing import HOME_CURRENCY, party_snapshot
from praho.core.services.pdf_labels import (
    LABELS,
    PAYMENT_STATUS_LABELS,
    SUPPORTED_LANGUAGES,
    VAT_CATEGORY_LABELS,
    VAT_CATEGORY_MENTIONS,
    city_name,
    country_name,
    county_name,
    format_date,
    format_decimal,
    format_rate,
    unit_label,
)
from praho.core.services.totals import compute_totals
from sqlalchemy.orm import Session


class DocumentNotPrintable(PrahoError):
    """An issued document lacks what its printout needs (e.g. a frozen party snapshot)."""

    code = "document_not_printable"


@dataclass(frozen=True)
class PartyView:
    """A seller or buyer block: name, then labelled identity and payment rows."""

    name: str
    rows: list[tuple[str, str]]


@dataclass(frozen=True)
class LineView:
    """One printed line."""

    position: int
    name: str
    details: list[str]
    unit: str
    quantity: str
    unit_price: str
    net: str
    vat_rate: str


@dataclass(frozen=True)
class AllowanceView:
    """A document-level allowance or charge."""

    kind: str
    reason: str
    vat: str
    amount: str


@dataclass(frozen=True)
class VatRowView:
    """One row of the VAT breakdown."""

    category: str
    rate: str
    taxable: str
    vat: str
    vat_ron: str | None
    mention: str | None


@dataclass(frozen=True)
class TotalRow:
    """One row of the totals box; ``strong`` rows are the amounts people pay or read first."""

    label: str
    value: str
    strong: bool = False


@dataclass
class DocumentView:
    """Everything a document template prints."""

    kind: str
    language: str
    currency: str
    labels: dict[str, str]
    title: str
    watermark: str | None
    number: str
    is_draft: bool
    meta: list[tuple[str, str]]
    seller: PartyView
    buyer: PartyView
    lines: list[LineView]
    allowances: list[AllowanceView]
    vat_rows: list[VatRowView]
    show_vat_ron: bool
    totals: list[TotalRow]
    exchange_rate: str | None
    references: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    payment: list[TotalRow] = field(default_factory=list)
    # The invoice number a proforma was converted into: its payment request is over.
    converted_to: str | None = None
    footer: str = ""
    pdf_title: str = ""
    author: str = ""
    created: str | None = None


def resolve_language(invoice: Invoice, language: str | None) -> str:
    """The language asked for, else the document's; refuse anything not translated."""
    chosen = language or invoice.language or "ro"
    if chosen not in SUPPORTED_LANGUAGES:
        supported = ", ".join(SUPPORTED_LANGUAGES)
        raise ValidationFailed([FieldError("language",
                                           f"{chosen!r} is not supported; use {supported}")])
    return chosen


def build_document_view(session: Session, invoice: Invoice, language: str) -> DocumentView:
    """Compute the printable view of a document in ``language`` (``ro`` or ``en``)."""
    labels = LABELS[language]
    kind = DocumentKind(invoice.kind)
    sign = -1 if kind == DocumentKind.CREDIT_NOTE else 1
    seller_data, buyer_data = _parties(session, invoice)
    is_draft = invoice.status == DocumentStatus.DRAFT

    def money(amount_minor: int) -> str:
        return format_amount(sign * amount_minor, invoice.currency, language)

    number = invoice.full_number or labels["draft_number"]
    watermark = None
    if is_draft:
        watermark = labels["watermark_draft"]
    elif invoice.status == DocumentStatus.VOID:
        watermark = labels["watermark_void"]

    view = DocumentView(
        kind=str(kind),
        language=language,
        currency=invoice.currency,
        labels=labels,
        title=labels[f"title_{kind}"],
        watermark=watermark,
        number=number,
        is_draft=is_draft,
        meta=_meta_rows(invoice, labels, language, number),
        seller=_party_view(seller_data, labels, language, seller=True),
        buyer=_party_view(buyer_data, labels, language, seller=False),
        lines=[_line_view(line, invoice.currency, language, sign, labels)
               for line in invoice.lines],
        allowances=[
            AllowanceView(
                kind=labels["charge" if a.is_charge else "allowance"],
                reason=a.reason,
                vat=_rate_text(a.tax_category, a.tax_rate, language),
                amount=money(a.amount_minor if a.is_charge else -a.amount_minor),
            )
            for a in invoice.allowances
        ],
        vat_rows=[],
        show_vat_ron=invoice.currency != HOME_CURRENCY and not is_draft,
        totals=[],
        exchange_rate=_exchange_rate_text(invoice, labels, language),
        pdf_title=f"{labels[f'title_{kind}']} {number}",
        author=str(seller_data.get("legal_name") or ""),
        created=invoice.issued_at.isoformat() if invoice.issued_at else None,
    )
    _add_vat_and_totals(view, invoice, money, labels, language, is_draft)
    view.references = _references(session, invoice, labels, language)
    view.mentions = _mentions(invoice, view, labels, language)
    converted = converted_invoice(session, invoice)
    if converted is not None:
        view.converted_to = converted.full_number
        view.payment = _converted_payment_rows(converted, money, labels)
    elif kind != DocumentKind.CREDIT_NOTE and invoice.status == DocumentStatus.ISSUED:
        view.payment = _payment_rows(invoice, money, labels, language)
    view.footer = f"{view.seller.name} · {view.title} {number}"
    return view


def _parties(session: Session, invoice: Invoice) -> tuple[dict[str, Any], dict[str, Any]]:
    if invoice.status != DocumentStatus.DRAFT:
        if not invoice.seller_snapshot or not invoice.buyer_snapshot:
            raise DocumentNotPrintable(
                f"{invoice.full_number} has no frozen seller/buyer snapshot; it cannot be printed "
                "without inventing party details")
        return invoice.seller_snapshot, invoice.buyer_snapshot
    seller = session.get(Seller, invoice.seller_id)
    customer = session.get(Customer, invoice.customer_id)
    assert seller is not None and customer is not None
    return party_snapshot(seller), party_snapshot(customer)


def _meta_rows(invoice: Invoice, labels: dict[str, str], language: str,
               number: str) -> list[tuple[str, str]]:
    rows = [(labels["number"], number),
            (labels["issue_date"], format_date(invoice.issue_date, language))]
    if invoice.tax_point_date and invoice.tax_point_date != invoice.issue_date:
        rows.append((labels["tax_point"], format_date(invoice.tax_point_date, language)))
    if invoice.kind != DocumentKind.CREDIT_NOTE:
        rows.append((labels["due_date"], format_date(invoice.due_date, language)))
    rows.append((labels["currency"], invoice.currency))
    if invoice.period_start and invoice.period_end:
        rows.append((labels["period"], f"{format_date(invoice.period_start, language)} – "
                                       f"{format_date(invoice.period_end, language)}"))
    return rows


def tax_identifier(party: dict[str, Any]) -> str | None:
    """The fiscal code as printed: with the RO prefix only for a Romanian VAT payer."""
    vat_id, cui = party.get("vat_id"), party.get("cui")
    if party.get("country", "RO") != "RO":
        return vat_id or cui
    if party.get("vat_payer"):
        return vat_id or (f"RO{cui}" if cui else None)
    return cui


def _party_view(party: dict[str, Any], labels: dict[str, str], language: str, *,
                seller: bool) -> PartyView:
    rows: list[tuple[str, str]] = []
    identifier = tax_identifier(party)
    if identifier:
        if party.get("country", "RO") != "RO":
            label = labels["vat_id_foreign"]
        else:
            label = labels["tax_id_vat" if party.get("vat_payer") else "tax_id"]
        rows.append((label, identifier))
    if party.get("cnp"):
        rows.append((labels["cnp"], party["cnp"]))
    if party.get("trade_register"):
        rows.append((labels["trade_register"], party["trade_register"]))
    if seller and party.get("share_capital"):
        rows.append((labels["share_capital"], party["share_capital"]))
    locality = ", ".join(part for part in (
        city_name(party.get("city")), county_name(party.get("county"), language),
        party.get("postal_code"),
    ) if part)
    # One line each for street, locality and country (printed with white-space: pre-line).
    address = "\n".join(part for part in (
        party.get("street"), locality, country_name(party.get("country"), language)) if part)
    rows.append((labels["address"], address))
    if seller:
        rows += [(labels["iban"], party.get("iban") or ""),
                 (labels["bank"], party.get("bank_name") or ""),
                 (labels["email"], party.get("email") or "")]
        if party.get("phone"):
            rows.append((labels["phone"], party["phone"]))
    return PartyView(name=str(party.get("legal_name") or ""), rows=[r for r in rows if r[1]])


def _rate_text(category: str, rate: Decimal, language: str) -> str:
    if category in ("S", "Z"):
        return format_rate(rate, language)
    return VAT_CATEGORY_LABELS[language].get(category, category)


def _line_view(line: Any, currency: str, language: str, sign: int,
               labels: dict[str, str]) -> LineView:
    details = [line.description] if line.description else []
    if line.period_start and line.period_end:
        details.append(f"{labels['period']}: {format_date(line.period_start, language)} – "
                       f"{format_date(line.period_end, language)}")
    if line.line_allowance_minor:
        reason = f" ({line.line_allowance_reason})" if line.line_allowance_reason else ""
        allowance = format_amount(-sign * line.line_allowance_minor, currency, language)
        gross = format_amount(sign * line.gross_amount_minor, currency, language)
        details.append(
            f"{labels['line_allowance']}{reason}: {allowance} ({labels['line_gross']} {gross})")
    return LineView(
        position=line.position,
        name=line.item_name,
        details=details,
        unit=unit_label(line.unit_code, language),
        quantity=format_decimal(sign * Decimal(line.quantity), language),
        unit_price=format_decimal(Decimal(line.unit_price), language, min_places=2),
        net=format_amount(sign * line.net_amount_minor, currency, language),
        # The narrow column gets the category code; the VAT breakdown spells it out.
        vat_rate=format_rate(line.tax_rate, language) if line.tax_category in ("S", "Z")
        else line.tax_category,
    )


def _add_vat_and_totals(view: DocumentView, invoice: Invoice, money: Any, labels: dict[str, str],
                        language: str, is_draft: bool) -> None:
    if is_draft:
        totals = compute_totals(invoice.lines, invoice.allowances,
                                prepaid_minor=invoice.prepaid_minor)
        groups = [(g.category, g.rate, g.taxable_minor, g.tax_minor, None, g.exemption_code,
                   g.exemption_reason) for g in totals.groups]
        figures = totals
    else:
        groups = [(s.tax_category, s.tax_rate, s.taxable_minor, s.tax_minor, s.tax_ron_minor,
                   s.exemption_code, s.exemption_reason) for s in invoice.tax_subtotals]
        figures = invoice  # type: ignore[assignment]
    sign = -1 if invoice.kind == DocumentKind.CREDIT_NOTE else 1
    for category, rate, taxable, tax, tax_ron, code, reason in groups:
        explained = _exemption_mention(category, reason, code, language)
        view.vat_rows.append(VatRowView(
            category=f"{category} – {VAT_CATEGORY_LABELS[language].get(category, category)}",
            rate=format_rate(rate, language),
            taxable=money(taxable),
            vat=money(tax),
            vat_ron=(format_amount(sign * tax_ron, HOME_CURRENCY, language)
                     if tax_ron is not None else None),
            mention=explained,
        ))
    rows = view.totals
    if figures.allowance_total_minor or figures.charge_total_minor:
        rows.append(TotalRow(labels["lines_net"], money(figures.lines_net_minor)))
        if figures.allowance_total_minor:
            rows.append(TotalRow(labels["allowance_total"], money(-figures.allowance_total_minor)))
        if figures.charge_total_minor:
            rows.append(TotalRow(labels["charge_total"], money(figures.charge_total_minor)))
    rows.append(TotalRow(labels["taxable"], money(figures.taxable_minor)))
    rows.append(TotalRow(labels["vat"], money(figures.vat_minor)))
    total_label = labels[f"total_{invoice.kind}"]
    rows.append(TotalRow(total_label, money(figures.total_minor), strong=not figures.prepaid_minor))
    if figures.prepaid_minor:
        rows.append(TotalRow(labels["prepaid"], money(-figures.prepaid_minor)))
        rows.append(TotalRow(labels["payable"], money(figures.payable_minor), strong=True))
    if view.show_vat_ron and invoice.vat_ron_minor is not None:
        vat_ron = format_amount(sign * invoice.vat_ron_minor, HOME_CURRENCY, language)
        rows.append(TotalRow(labels["vat_ron"], f"{vat_ron} {HOME_CURRENCY}"))


def _exemption_mention(category: str, reason: str | None, code: str | None,
                       language: str) -> str | None:
    """``Taxare inversă: <the regime's reason> (VATEX-EU-AE)``; None for taxed groups."""
    mention = VAT_CATEGORY_MENTIONS[language].get(category)
    if mention is None and not reason:
        return None
    text = ": ".join(part for part in (mention, reason) if part)
    return f"{text} ({code})" if code else text


def _exchange_rate_text(invoice: Invoice, labels: dict[str, str], language: str) -> str | None:
    if invoice.currency == HOME_CURRENCY:
        return None
    if invoice.exchange_rate is None:
        return labels["exchange_rate_pending"]
    source = invoice.exchange_rate_source or ""
    if source.upper().startswith("BNR"):
        label = labels["exchange_rate_bnr"]
    else:
        label = labels["exchange_rate_other"] + (f" ({source})" if source else "")
    rate = format_decimal(Decimal(invoice.exchange_rate), language, min_places=4)
    rate_date = format_date(invoice.exchange_rate_date, language)
    return (f"{label}: 1 {invoice.currency} = {rate} {HOME_CURRENCY}, "
            f"{labels['exchange_rate_date']} {rate_date}")


def _references(session: Session, invoice: Invoice, labels: dict[str, str],
                language: str) -> list[str]:
    references: list[str] = []
    original = invoice.original_invoice
    if invoice.kind == DocumentKind.CREDIT_NOTE and original is not None:
        references.append(labels["credit_reference"].format(
            number=original.full_number, date=format_date(original.issue_date, language)))
        reason = (invoice.attributes or {}).get("reason")
        if reason:
            references.append(f"{labels['credit_reason']}: {reason}")
    conversion = (invoice.attributes or {}).get("conversion")
    if invoice.kind == DocumentKind.INVOICE and conversion:
        references += _conversion_text(session, invoice, conversion, labels, language)
    converted = converted_invoice(session, invoice)
    if converted is not None:
        references.append(labels["converted_to"].format(number=converted.full_number))
    return references


def _conversion_text(session: Session, invoice: Invoice, conversion: dict[str, Any],
                     labels: dict[str, str], language: str) -> list[str]:
    def amount(minor: int) -> str:
        return f"{format_amount(minor, invoice.currency, language)} {invoice.currency}"

    difference = int(conversion.get("difference_minor", 0))
    texts = [labels["conversion"].format(
        proforma=conversion.get("proforma", ""),
        proforma_total=amount(int(conversion.get("proforma_total_minor", 0))),
        invoice_total=amount(int(conversion.get("invoice_total_minor", invoice.total_minor))),
        difference=("+" if difference > 0 else "") + amount(difference),
    )]
    proforma = None
    if invoice.converted_from_id is not None:
        proforma = session.get(Invoice, invoice.converted_from_id)
    if proforma is None:
        return texts
    # Described from the two documents' frozen VAT groups, in the document language.
    before = sorted({_rate_text(s.tax_category, s.tax_rate, language)
                     for s in proforma.tax_subtotals})
    after = sorted({_rate_text(s.tax_category, s.tax_rate, language)
                    for s in invoice.tax_subtotals})
    if before == after:
        texts.append(labels["conversion_same"])
    else:
        texts.append(labels["conversion_rerated"].format(
            tax_point=format_date(invoice.tax_point_date, language), before=", ".join(before),
            proforma_date=format_date(proforma.tax_point_date, language), after=", ".join(after)))
    return texts


def _mentions(invoice: Invoice, view: DocumentView, labels: dict[str, str],
              language: str) -> list[str]:
    mentions: list[str] = []
    if invoice.status == DocumentStatus.DRAFT:
        mentions.append(labels["draft_notice"])
    if invoice.status == DocumentStatus.VOID and invoice.voided_at:
        mentions.append(labels["void_notice"].format(
            date=format_date(invoice.voided_at.date(), language), reason=invoice.void_reason or ""))
    for row in view.vat_rows:
        if row.mention:
            mentions.append(row.mention)
    if invoice.kind == DocumentKind.PROFORMA:
        mentions.append(labels["proforma_notice"])
    if invoice.note and invoice.kind != DocumentKind.CREDIT_NOTE:
        # A credit note's note repeats its reference, which is printed structured above.
        mentions.append(invoice.note)
    if invoice.kind != DocumentKind.PROFORMA and invoice.status != DocumentStatus.DRAFT:
        mentions.append(labels["no_signature"])
    return mentions


def _payment_rows(invoice: Invoice, money: Any, labels: dict[str, str],
                  language: str) -> list[TotalRow]:
    status = str(invoice.payment_status)
    if invoice.credited_minor and invoice.balance_due_minor == 0 and not invoice.amount_paid_minor:
        status = "credited"  # settled by credit notes, not by a payment
    rows = [TotalRow(labels["payment_status"], PAYMENT_STATUS_LABELS[language].get(status, status))]
    if invoice.amount_paid_minor:
        rows.append(TotalRow(labels["paid"], money(invoice.amount_paid_minor)))
    if invoice.credited_minor:
        rows.append(TotalRow(labels["credited"], money(invoice.credited_minor)))
    rows.append(TotalRow(labels["balance_due"], money(invoice.balance_due_minor), strong=True))
    return rows


def _converted_payment_rows(converted: Invoice, money: Any,
                            labels: dict[str, str]) -> list[TotalRow]:
    """A converted proforma asks for no money: the debt, and any payment, now belong to
    the invoice. The proforma's own payment figures never move (it is not a fiscal
    document and carries no payments), so printing them would ask for the total again."""
    if converted.payment_status in (PaymentStatus.PAID, PaymentStatus.OVERPAID):
        state = "paid"
    elif converted.balance_due_minor > 0:
        state = "due"
    else:
        state = "settled"  # e.g. cancelled by a credit note
    status = labels[f"converted_{state}"].format(number=converted.full_number)
    return [TotalRow(labels["payment_status"], status),
            TotalRow(labels["balance_due"], money(0), strong=True)]
