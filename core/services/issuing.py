"""Issuing and voiding documents, with their ledger postings.

Issuing is the fiscal moment: VAT is decided at the tax point, the exchange rate is
fixed (a credit note takes the rate of the invoice it corrects), totals and the VAT
breakdown are frozen, the gapless number is taken under a row lock, seller and buyer
are snapshotted, the ledger entry is posted and ``invoice_issued`` fires, all in the
caller's transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now
from praho.core.errors import (
    ExchangeRateUnavailable,
    FieldError,
    InvalidTransition,
    ValidationFailed,
)
from praho.core.models.customers import Customer
from praho.core.models.invoices import (
    DocumentKind,
    DocumentSeries,
    DocumentStatus,
    Invoice,
    InvoiceTaxSubtotal,
    PaymentStatus,
)
from praho.core.models.ledger import AccountCode
from praho.core.models.seller import Seller
from praho.core.money import convert_minor, percent_of
from praho.core.plugins import get_registry
from praho.core.services import ledger
from praho.core.services.audit import Actor, record_audit
from praho.core.services.invoicing import realign_allowances
from praho.core.services.numbering import default_series, format_number, take_next_number
from praho.core.services.taxes import decide_document_taxes
from praho.core.services.totals import DocumentTotals, compute_totals
from praho.core.tax import ExchangeRateQuote
from sqlalchemy.orm import Session

HOME_CURRENCY = "RON"


def party_snapshot(party: Customer | Seller) -> dict[str, Any]:
    """The identity and address printed on a document, frozen at issue."""
    fields = ["code", "legal_name", "cui", "vat_id", "vat_payer", "trade_register", "street",
              "city", "postal_code", "county", "country", "email", "phone"]
    if isinstance(party, Customer):
        fields += ["kind", "cnp", "language"]
    else:
        fields += ["iban", "bank_name", "share_capital"]
    return {name: getattr(party, name) for name in fields}


def _exchange_rate(session: Session, invoice: Invoice) -> ExchangeRateQuote | None:
    if invoice.currency == HOME_CURRENCY:
        return None
    if invoice.kind == DocumentKind.CREDIT_NOTE and invoice.original_invoice_id is not None:
        return _corrected_invoice_rate(session, invoice.original_invoice_id)
    assert invoice.tax_point_date is not None
    quote = get_registry().hook.resolve_exchange_rate(
        session=session, currency=invoice.currency, on_date=invoice.tax_point_date
    )
    if quote is None:
        raise ExchangeRateUnavailable(
            f"no {invoice.currency}/RON exchange rate for tax point {invoice.tax_point_date}; "
            "fetch BNR rates (praho rates fetch) or enter the rate"
        )
    return quote


def _corrected_invoice_rate(session: Session, original_id: int) -> ExchangeRateQuote:
    """The rate of the invoice a credit note corrects, never a fresh lookup.

    A storno reverses the VAT in RON the invoice declared; at another rate (a rate
    fetched late for the same tax point, or revised) the VAT return would not net out.
    """
    original = session.get(Invoice, original_id)
    assert original is not None
    if original.exchange_rate is None or original.exchange_rate_date is None:
        raise ExchangeRateUnavailable(
            f"{original.full_number} has no exchange rate recorded; a credit note must use "
            "the rate of the invoice it corrects"
        )
    return ExchangeRateQuote(original.currency, original.exchange_rate,
                             original.exchange_rate_date, original.exchange_rate_source or "")


def vat_in_ron(taxable_minor: int, rate: Any, currency: str,
               quote: ExchangeRateQuote | None) -> int | None:
    """VAT in RON for a foreign-currency group: the base converted at the BNR rate, then taxed
    (Fiscal Code art. 290)."""
    if quote is None:
        return None
    return percent_of(convert_minor(taxable_minor, currency, quote.rate, HOME_CURRENCY), rate)


def _check_issuable(session: Session, invoice: Invoice) -> None:
    if invoice.status != DocumentStatus.DRAFT:
        raise InvalidTransition(f"{invoice.kind} {invoice.full_number} is already {invoice.status}")
    errors = v.Collector()
    if not invoice.lines:
        errors.errors.append(FieldError("lines", "a document needs at least one line"))
    customer = session.get(Customer, invoice.customer_id)
    assert customer is not None
    if customer.country == "RO" and customer.is_business and not customer.cui:
        errors.errors.append(FieldError("customer.cui", "a Romanian company needs its CUI"))
    errors.raise_if_any()
    # Before anything is touched: the amounts as drafted must fit the document bound
    # (VAT is re-decided at the tax point and checked again after).
    _check_document_amounts(compute_totals(invoice.lines, invoice.allowances,
                                           prepaid_minor=invoice.prepaid_minor))


def _check_document_amounts(totals: DocumentTotals) -> None:
    errors = v.Collector()
    for name, value in (("lines", totals.lines_net_minor), ("taxable", totals.taxable_minor),
                        ("vat", totals.vat_minor), ("total", totals.total_minor),
                        ("payable", totals.payable_minor)):
        errors.check(v.document_amount, name, value)
    if totals.total_minor < 0:
        errors.errors.append(FieldError("total", "must not be negative"))
    if totals.payable_minor < 0:
        errors.errors.append(FieldError("prepaid_minor", "exceeds the document total"))
    errors.raise_if_any()


def issue_document(
    session: Session,
    invoice: Invoice,
    *,
    actor: Actor | None = None,
    series: DocumentSeries | None = None,
    now: datetime | None = None,
) -> Invoice:
    """Issue a draft invoice, proforma or credit note (see the module docstring)."""
    moment = resolve_now(now)
    _check_issuable(session, invoice)
    issue_date = business_date(moment)
    invoice.issue_date = issue_date
    invoice.tax_point_date = invoice.tax_point_date or issue_date
    if invoice.kind != DocumentKind.CREDIT_NOTE:
        decide_document_taxes(session, invoice, tax_point=invoice.tax_point_date)
        realign_allowances(invoice)

    quote = _exchange_rate(session, invoice)
    totals = compute_totals(invoice.lines, invoice.allowances, prepaid_minor=invoice.prepaid_minor)
    _check_document_amounts(totals)

    for group in totals.groups:
        session.add(InvoiceTaxSubtotal(
            invoice=invoice, tax_category=group.category, tax_rate=group.rate,
            taxable_minor=group.taxable_minor, tax_minor=group.tax_minor,
            tax_ron_minor=vat_in_ron(group.taxable_minor, group.rate, invoice.currency, quote),
            exemption_code=group.exemption_code, exemption_reason=group.exemption_reason,
        ))
    invoice.lines_net_minor = totals.lines_net_minor
    invoice.allowance_total_minor = totals.allowance_total_minor
    invoice.charge_total_minor = totals.charge_total_minor
    invoice.taxable_minor = totals.taxable_minor
    invoice.vat_minor = totals.vat_minor
    invoice.total_minor = totals.total_minor
    invoice.payable_minor = totals.payable_minor
    if quote is not None:
        invoice.exchange_rate = quote.rate
        invoice.exchange_rate_date = quote.rate_date
        invoice.exchange_rate_source = quote.source
        invoice.vat_ron_minor = sum(s.tax_ron_minor or 0 for s in invoice.tax_subtotals)
    else:
        invoice.vat_ron_minor = invoice.vat_minor if invoice.currency == HOME_CURRENCY else None
    session.flush()  # lines and subtotals are written before the document locks

    series = series or default_series(session, DocumentKind(invoice.kind))
    if series.kind != invoice.kind:
        raise ValidationFailed([FieldError("series", f"series {series.code} is for {series.kind}")])
    number = take_next_number(session, series, issue_date.year, issue_date=issue_date)
    invoice.series_id = series.id
    invoice.fiscal_year = issue_date.year
    invoice.number = number
    invoice.full_number = format_number(series, issue_date.year, number)
    invoice.seller_snapshot = party_snapshot(session.get(Seller, invoice.seller_id))  # type: ignore[arg-type]
    invoice.buyer_snapshot = party_snapshot(session.get(Customer, invoice.customer_id))  # type: ignore[arg-type]
    invoice.due_date = issue_date + timedelta(days=invoice.payment_terms_days)
    invoice.status = DocumentStatus.ISSUED
    invoice.payment_status = (PaymentStatus.PAID if invoice.payable_minor == 0
                              else PaymentStatus.UNPAID)
    invoice.issued_at = moment
    invoice.locked_at = moment
    invoice.issued_by = str(actor) if actor else None
    session.flush()

    post_document_entry(session, invoice, now=moment)
    record_audit(session, actor=actor, action=f"{invoice.kind}.issued", object_type="invoice",
                 object_id=invoice.full_number, amount_minor=invoice.total_minor,
                 currency=invoice.currency, now=moment,
                 data={"customer_id": invoice.customer_id, "vat_minor": invoice.vat_minor})
    get_registry().hook.invoice_issued(session=session, invoice=invoice)
    return invoice


def post_document_entry(session: Session, invoice: Invoice, *, now: datetime) -> None:
    """Post an issued invoice (Dr receivable / Cr revenue, VAT) or credit note (reverse).

    Proformas are not fiscal documents and post nothing.
    """
    if invoice.kind == DocumentKind.PROFORMA or invoice.total_minor == 0:
        return
    sign = 1 if invoice.kind == DocumentKind.INVOICE else -1
    common = {"customer_id": invoice.customer_id, "invoice_id": invoice.id}
    currency = invoice.currency
    ledger.post_entry(
        session,
        kind=f"{invoice.kind}_issued",
        memo=f"{invoice.kind} {invoice.full_number}",
        postings=[
            ledger.Posting(AccountCode.RECEIVABLE, sign * invoice.total_minor, currency, **common),
            ledger.Posting(AccountCode.REVENUE, -sign * invoice.taxable_minor, currency, **common),
            ledger.Posting(AccountCode.VAT_PAYABLE, -sign * invoice.vat_minor, currency, **common),
        ],
        idempotency_key=f"document-issued:{invoice.id}",
        source_type="invoice",
        source_id=invoice.id,
        entry_date=invoice.issue_date,
        now=now,
    )


def void_document(session: Session, invoice: Invoice, *, reason: str, actor: Actor | None = None,
                  now: datetime | None = None) -> Invoice:
    """Void an issued document that nothing was paid or credited on; the number stays used.

    The ledger entry is reversed. Plugins may refuse (e.g. a document already accepted
    by ANAF can only be corrected with a credit note).
    """
    moment = resolve_now(now)
    reason_text = v.text("reason", reason, max_length=300)
    if invoice.status != DocumentStatus.ISSUED:
        raise InvalidTransition(
            f"only issued documents can be voided; this one is {invoice.status}")
    if invoice.amount_paid_minor or invoice.credited_minor:
        raise InvalidTransition(
            f"{invoice.full_number} has payments or credit notes; refund or credit it instead"
        )
    vetoes = [r for reasons in get_registry().hook.validate_document_action(
        session=session, document=invoice, action="void") for r in (reasons or [])]
    if vetoes:
        raise InvalidTransition(f"cannot void {invoice.full_number}: " + "; ".join(vetoes))
    invoice.status = DocumentStatus.VOID
    invoice.voided_at = moment
    invoice.void_reason = reason_text
    invoice.updated_at = moment
    session.flush()
    original = ledger.find_entry(session, f"document-issued:{invoice.id}")
    if original is not None:
        ledger.reverse_entry(session, original, memo=f"void {invoice.full_number}: {reason_text}",
                             idempotency_key=f"document-voided:{invoice.id}", now=moment)
    record_audit(session, actor=actor, action=f"{invoice.kind}.voided", object_type="invoice",
                 object_id=invoice.full_number, amount_minor=invoice.total_minor,
                 currency=invoice.currency, data={"reason": reason_text}, now=moment)
    get_registry().hook.invoice_voided(session=session, invoice=invoice)
    return invoice
