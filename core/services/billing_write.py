"""Writing a chunk of prepared renewal documents in bulk, numbers taken last.

Documents are written as drafts with their lines, allowances and VAT breakdowns, then
their period claims (``subscription_periods``, unique per subscription and period
start: the constraint that makes the run idempotent), and the subscriptions move into
the billed period. Only then is the series counter locked for one block of gapless
numbers; the documents are stamped issued, each posts its journal entry and the audit
events are sealed into the chain. The numbering lock is therefore held only for those
last statements and the commit, so several workers build and write their chunks in
parallel and queue only for that short end. A rolled-back chunk gives its numbers back.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from praho.core.errors import (
    LedgerError,
)
from praho.core.models.invoices import (
    DocumentKind,
    DocumentStatus,
    Invoice,
    InvoiceAllowance,
    InvoiceLine,
    InvoiceTaxSubtotal,
    PaymentStatus,
)
from praho.core.models.ledger import Account, AccountCode, JournalEntry, JournalLine
from praho.core.models.subscriptions import Subscription, SubscriptionPeriod
from praho.core.services.audit import record_audit_batch
from praho.core.services.billing_issue import (
    DraftDocumentLine,
    IssueContext,
    IssuedDocument,
    PreparedDocument,
)
from praho.core.services.bulk_sql import insert_rows, update_rows
from praho.core.services.issuing import HOME_CURRENCY, vat_in_ron
from praho.core.services.numbering import format_number, take_number_block
from praho.core.services.renewal import ItemCharge
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value


def write_documents(ctx: IssueContext, prepared: list[PreparedDocument]) -> list[IssuedDocument]:
    """Write prepared documents, claim their periods, number, post and audit them.

    Must run inside a savepoint or transaction the caller can roll back: a claim that
    already exists raises IntegrityError and nothing of the batch may stay.
    """
    if not prepared:
        return []
    session, now = ctx.session, ctx.now
    invoice_ids = insert_rows(
        session, Invoice.__table__, [_invoice_row(ctx, doc) for doc in prepared], return_ids=True
    )
    line_rows: list[dict[str, Any]] = []
    allowance_rows: list[dict[str, Any]] = []
    subtotal_rows: list[dict[str, Any]] = []
    for doc, invoice_id in zip(prepared, invoice_ids, strict=True):
        line_rows += [_line_row(line, invoice_id) for line in doc.invoice.lines]
        allowance_rows += [_allowance_row(a, invoice_id) for a in doc.invoice.allowances]
        subtotal_rows += [
            {
                "invoice_id": invoice_id,
                "tax_category": g.category,
                "tax_rate": g.rate,
                "taxable_minor": g.taxable_minor,
                "tax_minor": g.tax_minor,
                "tax_ron_minor": vat_in_ron(
                    g.taxable_minor, g.rate, doc.invoice.currency, doc.quote
                ),
                "exemption_code": g.exemption_code,
                "exemption_reason": g.exemption_reason,
            }
            for g in doc.totals.groups
        ]
    insert_rows(session, InvoiceLine.__table__, line_rows)
    insert_rows(session, InvoiceAllowance.__table__, allowance_rows)
    insert_rows(session, InvoiceTaxSubtotal.__table__, subtotal_rows)
    insert_rows(
        session,
        SubscriptionPeriod.__table__,
        [
            {
                "subscription_id": doc.subscription.id,
                "period_start": doc.renewal.period.start,
                "period_end": doc.renewal.period.end,
                "invoice_id": invoice_id,
                "billing_run_id": doc.billing_run_id,
                "total_minor": doc.totals.total_minor,
                "currency": doc.invoice.currency,
                "claimed_at": now,
            }
            for doc, invoice_id in zip(prepared, invoice_ids, strict=True)
        ],
    )
    _advance(ctx, prepared)
    for doc, invoice_id in zip(prepared, invoice_ids, strict=True):
        for row in doc.renewal.pending:
            row.invoice_id = invoice_id
    session.flush()
    # From here to the commit the series counter is locked: only what needs the numbers.
    numbers = _assign_numbers(ctx, prepared, invoice_ids)
    _post_entries(ctx, prepared, invoice_ids, numbers)
    issued = []
    audit = []
    for doc, invoice_id in zip(prepared, invoice_ids, strict=True):
        full_number = numbers[invoice_id]
        kind = str(doc.invoice.kind)
        audit.append(
            {
                "action": f"{kind}.issued",
                "object_type": "invoice",
                "object_id": full_number,
                "amount_minor": doc.totals.total_minor,
                "currency": doc.invoice.currency,
                "data": {"customer_id": doc.customer.id, "vat_minor": doc.totals.vat_minor},
            }
        )
        issued.append(
            IssuedDocument(
                doc.subscription.id,
                doc.renewal.period.start,
                invoice_id,
                full_number,
                kind,
                doc.totals.total_minor,
                doc.invoice.currency,
            )
        )
    record_audit_batch(session, audit, actor=ctx.actor, now=now)
    return issued


def _invoice_row(ctx: IssueContext, doc: PreparedDocument) -> dict[str, Any]:
    invoice, totals, quote = doc.invoice, doc.totals, doc.quote
    if quote is not None:
        vat_ron: int | None = sum(
            vat_in_ron(g.taxable_minor, g.rate, invoice.currency, quote) or 0 for g in totals.groups
        )
    else:
        vat_ron = totals.vat_minor if invoice.currency == HOME_CURRENCY else None
    seller = ctx.seller(invoice.seller_id)
    return {
        "kind": str(invoice.kind),
        "status": str(DocumentStatus.DRAFT),
        "series_id": None,
        "fiscal_year": None,
        "number": None,
        "full_number": None,
        "customer_id": invoice.customer_id,
        "seller_id": invoice.seller_id,
        "seller_snapshot": ctx.snapshot(seller),
        "buyer_snapshot": ctx.snapshot(doc.customer),
        "currency": invoice.currency,
        "language": invoice.language,
        "issue_date": ctx.issue_date,
        "tax_point_date": invoice.tax_point_date,
        "due_date": ctx.issue_date + timedelta(days=invoice.payment_terms_days),
        "payment_terms_days": invoice.payment_terms_days,
        "exchange_rate": quote.rate if quote else None,
        "exchange_rate_date": quote.rate_date if quote else None,
        "exchange_rate_source": quote.source if quote else None,
        "tax_regime": invoice.tax_regime,
        "tax_evidence": invoice.tax_evidence,
        "lines_net_minor": totals.lines_net_minor,
        "allowance_total_minor": totals.allowance_total_minor,
        "charge_total_minor": totals.charge_total_minor,
        "taxable_minor": totals.taxable_minor,
        "vat_minor": totals.vat_minor,
        "total_minor": totals.total_minor,
        "prepaid_minor": 0,
        "payable_minor": totals.payable_minor,
        "vat_ron_minor": vat_ron,
        "amount_paid_minor": 0,
        "payment_status": str(
            PaymentStatus.PAID if totals.payable_minor == 0 else PaymentStatus.UNPAID
        ),
        "credited_minor": 0,
        "refunded_minor": 0,
        "original_invoice_id": None,
        "converted_from_id": None,
        "converted_to_id": None,
        "order_id": None,
        "subscription_id": invoice.subscription_id,
        "period_start": invoice.period_start,
        "period_end": invoice.period_end,
        "note": None,
        "internal_note": None,
        "attributes": invoice.attributes,
        "issued_at": None,
        "locked_at": None,
        "issued_by": str(ctx.actor) if ctx.actor else None,
        "voided_at": None,
        "void_reason": None,
        "updated_at": None,
        "created_at": ctx.now,
    }


def _line_row(line: DraftDocumentLine, invoice_id: int) -> dict[str, Any]:
    return {
        "invoice_id": invoice_id,
        "position": line.position,
        "kind": str(line.kind),
        "item_name": line.item_name,
        "description": line.description,
        "product_id": line.product_id,
        "price_id": line.price_id,
        "quantity": line.quantity,
        "unit_code": line.unit_code,
        "unit_price": line.unit_price,
        "gross_amount_minor": line.gross_amount_minor,
        "line_allowance_minor": line.line_allowance_minor,
        "line_allowance_reason": line.line_allowance_reason,
        "net_amount_minor": line.net_amount_minor,
        "tax_category": line.tax_category,
        "tax_rate": line.tax_rate,
        "tax_exemption_code": line.tax_exemption_code,
        "tax_exemption_reason": line.tax_exemption_reason,
        "tax_note": line.tax_note,
        "period_start": line.period_start,
        "period_end": line.period_end,
        "details": line.details,
    }


def _allowance_row(allowance: InvoiceAllowance, invoice_id: int) -> dict[str, Any]:
    return {
        "invoice_id": invoice_id,
        "is_charge": allowance.is_charge,
        "amount_minor": allowance.amount_minor,
        "base_amount_minor": allowance.base_amount_minor,
        "percent": allowance.percent,
        "reason": allowance.reason,
        "reason_code": allowance.reason_code,
        "tax_category": allowance.tax_category,
        "tax_rate": allowance.tax_rate,
        "source": allowance.source,
        "details": allowance.details,
    }


def _assign_numbers(
    ctx: IssueContext, prepared: list[PreparedDocument], invoice_ids: list[int]
) -> dict[int, str]:
    """Take one block of gapless numbers per series and stamp the documents issued."""
    by_kind: dict[DocumentKind, list[int]] = defaultdict(list)
    for doc, invoice_id in zip(prepared, invoice_ids, strict=True):
        by_kind[DocumentKind(doc.invoice.kind)].append(invoice_id)
    year = ctx.issue_date.year
    numbers: dict[int, str] = {}
    rows: list[dict[str, Any]] = []
    for kind in sorted(by_kind):
        series = ctx.series_for(kind)
        ids = sorted(by_kind[kind])
        block = take_number_block(
            ctx.session, series, year, len(ids), issue_date=ctx.issue_date
        )
        for invoice_id, number in zip(ids, block, strict=True):
            numbers[invoice_id] = format_number(series, year, number)
            rows.append(
                {
                    "id": invoice_id,
                    "series_id": series.id,
                    "number": number,
                    "full_number": numbers[invoice_id],
                }
            )
    update_rows(
        ctx.session,
        Invoice.__table__,
        rows,
        constants={
            "status": str(DocumentStatus.ISSUED),
            "fiscal_year": year,
            "issued_at": ctx.now,
            "locked_at": ctx.now,
        },
    )
    return numbers


def _post_entries(
    ctx: IssueContext,
    prepared: list[PreparedDocument],
    invoice_ids: list[int],
    numbers: dict[int, str],
) -> None:
    """One balanced entry per fiscal document, as issuing.post_document_entry posts it."""
    session = ctx.session
    postable = [
        (doc, invoice_id)
        for doc, invoice_id in zip(prepared, invoice_ids, strict=True)
        if doc.invoice.kind == DocumentKind.INVOICE and doc.totals.total_minor != 0
    ]
    if not postable:
        return
    if not ctx.accounts_ready:
        needed = {
            str(AccountCode.RECEIVABLE),
            str(AccountCode.REVENUE),
            str(AccountCode.VAT_PAYABLE),
        }
        known = set(session.execute(select(Account.code).where(Account.code.in_(needed))).scalars())
        if needed - known:
            raise LedgerError(f"invoice_issued: unknown accounts {sorted(needed - known)}")
        ctx.accounts_ready = True
    entry_ids = insert_rows(
        session,
        JournalEntry.__table__,
        [
            {
                "entry_date": ctx.issue_date,
                "posted_at": ctx.now,
                "kind": "invoice_issued",
                "memo": f"invoice {numbers[invoice_id]}"[:300],
                "source_type": "invoice",
                "source_id": invoice_id,
                "idempotency_key": f"document-issued:{invoice_id}",
                "reversal_of_id": None,
            }
            for _doc, invoice_id in postable
        ],
        return_ids=True,
    )
    line_rows = []
    for (doc, invoice_id), entry_id in zip(postable, entry_ids, strict=True):
        totals, currency = doc.totals, doc.invoice.currency
        for account, amount in (
            (AccountCode.RECEIVABLE, totals.total_minor),
            (AccountCode.REVENUE, -totals.taxable_minor),
            (AccountCode.VAT_PAYABLE, -totals.vat_minor),
        ):
            if amount != 0:
                line_rows.append(
                    {
                        "entry_id": entry_id,
                        "account_code": str(account),
                        "customer_id": doc.customer.id,
                        "invoice_id": invoice_id,
                        "currency": currency,
                        "amount_minor": amount,
                        "description": None,
                    }
                )
    insert_rows(session, JournalLine.__table__, line_rows)


def _advance(ctx: IssueContext, prepared: list[PreparedDocument]) -> None:
    """Move each subscription into its billed period; remember what each item cost.

    One UPDATE for the whole batch; the loaded objects get the same values as committed
    state so the session does not write them again.
    """
    rows = []
    for doc in prepared:
        subscription, period = doc.subscription, doc.renewal.period
        rows.append(
            {
                "id": subscription.id,
                "current_period_start": period.start,
                "current_period_end": period.end,
                "next_billing_date": period.end,
            }
        )
        for key in ("current_period_start", "current_period_end", "next_billing_date"):
            set_committed_value(subscription, key, rows[-1][key])
        set_committed_value(subscription, "updated_at", ctx.now)
        for charge in doc.renewal.charges:
            remember_charge(charge)
    update_rows(ctx.session, Subscription.__table__, rows, constants={"updated_at": ctx.now})


def remember_charge(charge: ItemCharge) -> None:
    """Mark the item billed for the period: the full-period unit price and quantity.

    The mark says the period's unused time can still be credited (a credit with a pause
    or cancellation clears it). How much is credited is read from the issued line itself,
    net of coupons and other allowances, with its VAT (``proration_credits.credit_basis``):
    this price is before allowances.
    """
    if charge.item.billed_unit_amount_minor != charge.price.unit_amount_minor:
        charge.item.billed_unit_amount_minor = charge.price.unit_amount_minor
    if charge.item.billed_quantity != charge.quantity:
        charge.item.billed_quantity = Decimal(charge.quantity)
