"""Drafting documents: create a draft, add lines and allowances, preview its totals.

Issuing, voiding and crediting live in :mod:`praho.core.services.issuing` and
:mod:`praho.core.services.credit_notes`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now
from praho.core.errors import FieldError, InvalidTransition, NotFound, ValidationFailed
from praho.core.models.catalog import Price, Product, TaxClass
from praho.core.models.customers import Customer, CustomerStatus
from praho.core.models.invoices import (
    DocumentKind,
    DocumentStatus,
    Invoice,
    InvoiceAllowance,
    InvoiceLine,
    LineKind,
)
from praho.core.models.seller import Seller
from praho.core.money import allocate
from praho.core.pricing import DraftAllowance, DraftLine, allowance_reason_code
from praho.core.services.taxes import decide_document_taxes
from praho.core.services.totals import DocumentTotals, compute_totals, line_gross_minor
from praho.core.tax import VAT_CATEGORIES
from sqlalchemy import select
from sqlalchemy.orm import Session


def default_seller(session: Session) -> Seller:
    """The seller marked default (the hosting company itself)."""
    seller = session.execute(select(Seller).where(Seller.is_default.is_(True))).scalar_one_or_none()
    if seller is None:
        raise NotFound("no default seller configured; create the company profile first")
    return seller


def create_draft(
    session: Session,
    *,
    customer: Customer,
    kind: DocumentKind = DocumentKind.INVOICE,
    currency: str | None = None,
    seller: Seller | None = None,
    lines: list[DraftLine] | tuple[DraftLine, ...] = (),
    note: str | None = None,
    tax_point_date: date | None = None,
    period_start: date | None = None,
    period_end: date | None = None,
    prepaid_minor: int = 0,
    now: datetime | None = None,
) -> Invoice:
    """Create a draft document for a customer, with optional lines."""
    if customer.status != CustomerStatus.ACTIVE and kind != DocumentKind.CREDIT_NOTE:
        raise InvalidTransition(f"customer {customer.code} is {customer.status}; cannot bill")
    errors = v.Collector()
    doc_currency = errors.check(v.currency, "currency", currency or customer.currency)
    errors.check(v.text, "note", note, max_length=v.LIMITS["note"], required=False)
    errors.check(v.amount_minor, "prepaid_minor", prepaid_minor)
    for name, day in (("tax_point_date", tax_point_date), ("period_start", period_start),
                      ("period_end", period_end)):
        if day is not None:
            errors.check(v.iso_date, name, day)
    if period_start and period_end and period_end < period_start:
        errors.errors.append(FieldError("period_end", "is before period_start"))
    nets: list[int] = []
    for position, line in enumerate(lines):
        try:
            net = validate_line(session, line, doc_currency or customer.currency)["net_amount_minor"]
            assert isinstance(net, int)
            nets.append(net)
        except ValidationFailed as failed:
            errors.errors.extend(failed.prefixed(f"lines[{position}].").errors)
    if not errors.errors:
        errors.check(v.document_amount, "lines", sum(nets))
    errors.raise_if_any()
    moment = resolve_now(now)
    invoice = Invoice(
        kind=kind,
        status=DocumentStatus.DRAFT,
        customer_id=customer.id,
        seller_id=(seller or default_seller(session)).id,
        currency=doc_currency,
        language=customer.language,
        payment_terms_days=customer.payment_terms_days,
        tax_point_date=tax_point_date,
        period_start=period_start,
        period_end=period_end,
        note=note,
        prepaid_minor=prepaid_minor,
        created_at=moment,
        tax_evidence={},
        attributes={},
    )
    session.add(invoice)
    session.flush()
    for line in lines:
        add_line(session, invoice, line, now=moment)
    return invoice


# EN 16931 invoice type codes (BT-3, UNTDID 1001) a hosting company may need.
INVOICE_TYPE_CODES = {
    "380": "commercial invoice",
    "384": "corrected invoice",
    "389": "self-billed invoice",
    "751": "invoice information for accounting purposes",
}


def set_invoice_type(
    session: Session, draft: Invoice, type_code: str, *, corrects: Invoice | None = None
) -> Invoice:
    """Make a draft invoice a corrected (384), self-billed (389) or accounting-only (751) one.

    A corrected invoice names the issued invoice of the same customer it corrects (its
    number and date go on the e-Factura as the billing reference). Refused with the
    field named, and nothing changed, for anything else.
    """
    _require_draft(draft)
    code = str(type_code).strip()
    errors: list[FieldError] = []
    if draft.kind != DocumentKind.INVOICE:
        errors.append(FieldError("type_code", f"a {draft.kind} has no invoice type code"))
    elif code not in INVOICE_TYPE_CODES:
        errors.append(FieldError("type_code", "must be one of " + ", ".join(
            f"{c} ({name})" for c, name in INVOICE_TYPE_CODES.items())))
    elif code == "384" and (
        corrects is None or corrects.kind != DocumentKind.INVOICE
        or corrects.status != DocumentStatus.ISSUED or corrects.customer_id != draft.customer_id
    ):
        errors.append(FieldError(
            "corrects", "a corrected invoice (384) names the issued invoice of the same "
            "customer that it corrects"))
    elif code != "384" and corrects is not None:
        errors.append(FieldError("corrects", "only a corrected invoice (384) names an invoice"))
    if errors:
        raise ValidationFailed(errors)
    attributes = {k: val for k, val in (draft.attributes or {}).items() if k != "corrects"}
    attributes["invoice_type_code"] = code
    if corrects is not None:
        assert corrects.issue_date is not None
        attributes["corrects"] = {"number": corrects.full_number,
                                  "issue_date": corrects.issue_date.isoformat()}
    draft.attributes = attributes
    session.flush()
    return draft


def _require_draft(invoice: Invoice) -> None:
    if invoice.status != DocumentStatus.DRAFT:
        raise InvalidTransition(
            f"{invoice.kind} {invoice.full_number} is {invoice.status}; only drafts can be edited"
        )


def validate_line(session: Session, line: DraftLine, currency: str) -> dict[str, object]:
    """Check a draft line and compute its amounts; raise ValidationFailed naming each field."""
    errors = v.Collector()
    item_name = errors.check(v.text, "item_name", line.item_name, max_length=v.LIMITS["item_name"])
    description = errors.check(v.text, "description", line.description,
                               max_length=v.LIMITS["item_description"], required=False)
    quantity = errors.check(v.quantity, "quantity", line.quantity)
    unit_price = errors.check(v.unit_price, "unit_price", line.unit_price)
    errors.check(v.unit_code, "unit_code", line.unit_code)
    errors.check(v.amount_minor, "line_allowance_minor", line.line_allowance_minor)
    errors.check(v.text, "line_allowance_reason", line.line_allowance_reason,
                 max_length=v.LIMITS["allowance_reason"], required=False)
    if line.net_amount_minor is not None:
        errors.check(v.amount_minor, "net_amount_minor", line.net_amount_minor, allow_negative=True)
    if line.kind not in set(LineKind):
        errors.errors.append(FieldError("kind", f"{v.show(line.kind)} is not a line kind"))
    for name in ("period_start", "period_end"):
        if getattr(line, name) is not None:
            errors.check(v.iso_date, name, getattr(line, name))
    if errors.errors:
        errors.raise_if_any()
    if line.period_start and line.period_end and line.period_end < line.period_start:
        errors.errors.append(FieldError("period_end", "is before period_start"))
    if line.tax_class is not None:
        errors.check(v.choice, "tax_class", line.tax_class, TaxClass)
    for name, ident in (("product_id", line.product_id), ("price_id", line.price_id)):
        if ident is not None and (isinstance(ident, bool) or not isinstance(ident, int)):
            errors.errors.append(FieldError(name, "must be the id of a catalog record"))
    errors.raise_if_any()
    if line.product_id is not None and session.get(Product, line.product_id) is None:
        errors.errors.append(FieldError("product_id", f"no product {line.product_id}"))
    if line.price_id is not None and session.get(Price, line.price_id) is None:
        errors.errors.append(FieldError("price_id", f"no price {line.price_id}"))
    errors.raise_if_any()

    gross = (line.net_amount_minor + line.line_allowance_minor
             if line.net_amount_minor is not None
             else line_gross_minor(quantity, unit_price, currency))
    net = gross - line.line_allowance_minor
    may_be_negative = line.kind in (LineKind.PRORATION, LineKind.ADJUSTMENT)
    errors.check(v.amount_minor, "net_amount", net, allow_negative=may_be_negative)
    if line.line_allowance_minor > abs(gross):
        errors.errors.append(FieldError("line_allowance_minor", "exceeds the line amount"))
    errors.raise_if_any()
    return {"item_name": item_name, "description": description, "quantity": quantity,
            "unit_price": unit_price, "gross_amount_minor": gross, "net_amount_minor": net}


def add_line(session: Session, invoice: Invoice, line: DraftLine, *,
             now: datetime | None = None) -> InvoiceLine:
    """Add a line to a draft. VAT is decided immediately (and again at issue)."""
    _require_draft(invoice)
    record = build_line(session, invoice, line)
    session.add(record)
    decide_document_taxes(session, invoice, lines=[record],
                          tax_point=invoice.tax_point_date or business_date(resolve_now(now)))
    session.flush()
    return record


# The VAT facts of a line, as a correction copies them from the line it corrects.
TAX_FIELDS = (
    "tax_category",
    "tax_rate",
    "tax_exemption_code",
    "tax_exemption_reason",
    "tax_note",
)
# The details key under which a draft line brings the VAT it must keep (see build_line).
FIXED_TAX = "fixed_tax"


def converted_invoice(session: Session, document: Invoice) -> Invoice | None:
    """The fiscal invoice a proforma was converted into; None when it was not (or is no
    proforma)."""
    if document.kind != DocumentKind.PROFORMA or document.converted_to_id is None:
        return None
    return session.get(Invoice, document.converted_to_id)


def fixed_tax(source: Any) -> dict[str, str | None]:
    """The VAT of ``source`` (an issued line) as ``details[FIXED_TAX]`` of a draft line.

    JSON-safe (the rate as text), so it can travel with the line wherever details go.
    """
    facts = {name: getattr(source, name) for name in TAX_FIELDS}
    facts["tax_rate"] = str(source.tax_rate)
    return facts


def copy_corrected_tax(record: Any, source: Any) -> None:
    """Give a credit line the VAT of the supply it reduces: copied, never re-decided.

    A reduction of a supply's taxable base keeps that supply's rate (Cod fiscal art.
    287), even on a document issued after the rate changed. The caller marks the line
    ``tax_fixed`` so that issuing does not decide it again.
    """
    for name in TAX_FIELDS:
        setattr(record, name, getattr(source, name))


def _apply_fixed_tax(record: Any, facts: Any) -> None:
    """Give a built line the VAT it brought and mark it ``tax_fixed`` (never re-decided)."""
    errors = v.Collector()
    if not isinstance(facts, dict) or facts.get("tax_category") not in VAT_CATEGORIES:
        errors.errors.append(FieldError(
            f"details.{FIXED_TAX}",
            f"must name a VAT category ({', '.join(VAT_CATEGORIES)})"))
        errors.raise_if_any()
    rate = errors.check(v.rate_percent, f"details.{FIXED_TAX}.tax_rate", facts.get("tax_rate"))
    errors.raise_if_any()
    for name in TAX_FIELDS:
        setattr(record, name, facts.get(name))
    record.tax_rate = rate
    record.details = {**record.details, "tax_fixed": True}


def build_line(session: Session, invoice: Any, line: DraftLine,
               factory: Callable[..., Any] = InvoiceLine) -> Any:
    """Validate a draft line and append it to ``invoice.lines``, VAT not yet decided.

    Writes nothing by itself; :func:`add_line` adds and flushes it. The billing run
    builds documents in memory with a lighter ``factory`` (same attributes as
    :class:`InvoiceLine`) before writing them in bulk.

    A line that reduces an earlier supply keeps that supply's VAT (Cod fiscal art. 287)
    on whatever document it lands: a credit for unused time that waited for the next
    renewal or for the final invoice. Such a line brings the VAT in
    ``details[FIXED_TAX]`` (:func:`fixed_tax`); it is set here, with ``tax_fixed``, so
    that no decision of the new document replaces it. Marking a line ``tax_fixed``
    without the facts would leave it at S 0%.
    """
    values = validate_line(session, line, invoice.currency)
    net = values["net_amount_minor"]
    assert isinstance(net, int)
    v.document_amount("lines", sum(existing.net_amount_minor for existing in invoice.lines) + net)
    details = dict(line.details)
    kept_tax = details.pop(FIXED_TAX, None)
    if line.tax_class:
        details["tax_class"] = line.tax_class
    record = factory(
        position=len(invoice.lines) + 1,
        kind=line.kind,
        product_id=line.product_id,
        price_id=line.price_id,
        unit_code=line.unit_code,
        line_allowance_minor=line.line_allowance_minor,
        line_allowance_reason=line.line_allowance_reason,
        tax_category="S",
        tax_rate=Decimal(0),
        period_start=line.period_start,
        period_end=line.period_end,
        details=details,
        **values,
    )
    if kept_tax is not None:
        _apply_fixed_tax(record, kept_tax)
    invoice.lines.append(record)
    return record


def apply_allowance(session: Session, invoice: Invoice, allowance: DraftAllowance) -> list[InvoiceAllowance]:
    """Apply a document-level discount, split over the VAT groups of the lines it covers.

    The discount is capped so the covered lines' taxable amount never goes below zero;
    VAT is then computed on the discounted groups (EN 16931).
    """
    _require_draft(invoice)
    created = allowance_records(invoice, allowance)
    session.add_all(created)
    session.flush()
    return created


def _reason_code(allowance: DraftAllowance) -> str:
    try:
        return allowance_reason_code(allowance)
    except ValueError as error:
        raise FieldError("reason_code", str(error)) from None


def allowance_records(invoice: Any, allowance: DraftAllowance) -> list[InvoiceAllowance]:
    """Validate an allowance and attach its per-VAT-group records to ``invoice``; writes nothing.

    See :func:`apply_allowance` for the rules.
    """
    errors = v.Collector()
    errors.check(v.amount_minor, "amount_minor", allowance.amount_minor)
    errors.check(v.text, "reason", allowance.reason, max_length=v.LIMITS["allowance_reason"])
    errors.check(v.text, "reason_code", allowance.reason_code, max_length=4, required=False)
    reason_code = errors.check(_reason_code, allowance)
    errors.check(v.text, "source", allowance.source, max_length=100, required=False)
    if allowance.percent is not None:
        errors.check(v.rate_percent, "percent", allowance.percent)
    errors.raise_if_any()
    if allowance.is_charge:
        v.document_amount("charges", preview_totals(invoice).taxable_minor + allowance.amount_minor)
    covered = [
        line for line in invoice.lines
        if not allowance.applies_to_product_ids or line.product_id in allowance.applies_to_product_ids
    ]
    by_group: dict[tuple[str, Decimal], list[InvoiceLine]] = defaultdict(list)
    for line in covered:
        by_group[(line.tax_category, line.tax_rate)].append(line)
    room = {key: _group_room(invoice, key, lines) for key, lines in by_group.items()}
    available = sum(max(r, 0) for r in room.values())
    amount = allowance.amount_minor if allowance.is_charge else min(allowance.amount_minor, available)
    if amount <= 0 or not by_group:
        return []
    keys = list(by_group)
    parts = allocate(amount, [max(room[k], 0) or (1 if allowance.is_charge else 0) for k in keys])
    created = []
    for key, part in zip(keys, parts, strict=True):
        if part == 0:
            continue
        record = InvoiceAllowance(
            is_charge=allowance.is_charge,
            amount_minor=part,
            base_amount_minor=sum(l.net_amount_minor for l in by_group[key]) if allowance.percent else None,
            percent=allowance.percent,
            reason=allowance.reason,
            reason_code=reason_code,
            tax_category=key[0],
            tax_rate=key[1],
            source=allowance.source,
            details={**allowance.details, "line_positions": [l.position for l in by_group[key]],
                     "requested_minor": allowance.amount_minor},
        )
        created.append(record)
    invoice.allowances.extend(created)
    return created


def _group_room(invoice: Invoice, key: tuple[str, Decimal], lines: list[InvoiceLine]) -> int:
    """How much discount the lines of a group can still take without going negative."""
    taken = sum(a.amount_minor for a in invoice.allowances
                if not a.is_charge and (a.tax_category, a.tax_rate) == key)
    return sum(l.net_amount_minor for l in lines) - taken


def realign_allowances(invoice: Invoice) -> None:
    """After VAT was re-decided, move each allowance to the group its lines are now in."""
    positions = {line.position: line for line in invoice.lines}
    for allowance in invoice.allowances:
        lines = [positions[p] for p in allowance.details.get("line_positions", []) if p in positions]
        groups = {(l.tax_category, l.tax_rate) for l in lines}
        if len(groups) == 1:
            allowance.tax_category, allowance.tax_rate = groups.pop()


def preview_totals(invoice: Invoice) -> DocumentTotals:
    """Totals of a document as they stand (drafts included), without writing anything."""
    return compute_totals(invoice.lines, invoice.allowances, prepaid_minor=invoice.prepaid_minor)


def get_document(session: Session, number_or_id: str | int) -> Invoice:
    """Find a document by its printed number or its id."""
    invoice = None
    if isinstance(number_or_id, int) or str(number_or_id).isdigit():
        invoice = session.get(Invoice, int(number_or_id))
    if invoice is None:
        invoice = session.execute(
            select(Invoice).where(Invoice.full_number == str(number_or_id))
        ).scalar_one_or_none()
    if invoice is None:
        raise NotFound(f"no document {number_or_id}")
    return invoice
