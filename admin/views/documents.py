"""Invoices, proformas and credit notes: lists, and the actions that go through the services.

Issued documents are never edited here: issue a draft, void, credit, download.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, url_for
from praho.admin.i18n import current_language
from praho.admin.views.base import (
    Action,
    ActionContext,
    Download,
    FormField,
    PrahoModelView,
    amount_input,
    field_value,
    money_text,
)
from praho.admin.views.payment_actions import APPLY_CREDIT, BANK_TRANSFER, RETRY_CHARGE
from praho.core.errors import NotFound
from praho.core.models import DocumentKind, DocumentStatus, Invoice
from praho.core.money import format_amount
from praho.core.services.credit_notes import creditable_minor, issue_credit_note
from praho.core.services.issuing import issue_document, void_document
from praho.core.services.pdf import render_document_pdf
from sqlalchemy.orm import Session

DOCUMENT_ENDPOINTS = {
    DocumentKind.INVOICE: "invoices",
    DocumentKind.PROFORMA: "proformas",
    DocumentKind.CREDIT_NOTE: "credit_notes",
}


def document_url(document: Invoice) -> str:
    """The details page of a document, in the list of its kind."""
    return url_for(
        f"{DOCUMENT_ENDPOINTS[DocumentKind(document.kind)]}.details_view", id=document.id
    )


def _issue(ctx: ActionContext) -> str:
    document = issue_document(ctx.session, ctx.obj, actor=ctx.actor, now=ctx.now)
    return f"{document.full_number}: {document.status}"


def _void(ctx: ActionContext) -> str:
    document = void_document(
        ctx.session, ctx.obj, reason=field_value(ctx.form, "reason"), actor=ctx.actor, now=ctx.now
    )
    return f"{document.full_number}: {document.status}"


def _credit(ctx: ActionContext) -> Any:
    note = issue_credit_note(
        ctx.session,
        ctx.obj,
        reason=field_value(ctx.form, "reason"),
        gross_amount_minor=amount_input(ctx, "amount", currency=ctx.obj.currency, required=False),
        actor=ctx.actor,
        now=ctx.now,
    )
    ctx.session.flush()
    return redirect(document_url(note))


def _credit_preview(ctx: ActionContext) -> list[tuple[str, str]]:
    doc = ctx.obj
    return [
        ("Total", money_text(doc.total_minor, doc.currency)),
        ("Credit notes", money_text(doc.credited_minor, doc.currency)),
        ("Amount", money_text(creditable_minor(doc), doc.currency)),
    ]


def _pdf(session: Session, document: Invoice) -> tuple[bytes, str, str]:
    name = document.full_number or f"draft-{document.id}"
    return render_document_pdf(session, document), "application/pdf", f"{name}.pdf"


def _xml(session: Session, document: Invoice) -> tuple[bytes, str, str]:
    formats = current_app.extensions["praho.plugins"].by_id("register_einvoice_formats")
    if not formats:
        raise NotFound("no e-invoice format plugin is installed")
    fmt = next(iter(formats.values()))
    return fmt.render(document), "application/xml", f"{document.full_number}.xml"


def _is(kind: DocumentKind | None, *statuses: DocumentStatus) -> Any:
    return lambda doc: (kind is None or doc.kind == kind) and doc.status in statuses


ISSUE = Action("issue", "Issue", _issue, applies=_is(None, DocumentStatus.DRAFT))
VOID = Action(
    "void",
    "Void",
    _void,
    style="danger",
    applies=lambda d: d.status == DocumentStatus.ISSUED and d.kind != DocumentKind.CREDIT_NOTE,
    fields=(FormField("reason", "Reason", required=True),),
)
CREDIT = Action(
    "credit_note",
    "Issue credit note",
    _credit,
    style="warning",
    applies=lambda d: (
        d.kind == DocumentKind.INVOICE
        and d.status == DocumentStatus.ISSUED
        and creditable_minor(d) > 0
    ),
    fields=(
        FormField("reason", "Reason", required=True),
        FormField("amount", "Gross amount (empty: the whole invoice)", "amount"),
    ),
    preview=_credit_preview,
)
PDF = Download("pdf", "Download PDF", _pdf)
XML = Download(
    "xml",
    "Download XML",
    _xml,
    applies=lambda d: d.status != DocumentStatus.DRAFT and d.kind != DocumentKind.PROFORMA,
)


class DocumentView(PrahoModelView):
    """One kind of document (the three lists share the model)."""

    kind: DocumentKind = DocumentKind.INVOICE
    notes_object = "invoice"
    column_list = (
        "full_number",
        "status",
        "customer_id",
        "issue_date",
        "due_date",
        "currency",
        "total_minor",
        "payment_status",
        "amount_paid_minor",
        "credited_minor",
    )
    column_details_list = (
        "id",
        "kind",
        "status",
        "full_number",
        "customer_id",
        "currency",
        "issue_date",
        "tax_point_date",
        "due_date",
        "lines_net_minor",
        "allowance_total_minor",
        "taxable_minor",
        "vat_minor",
        "total_minor",
        "payable_minor",
        "amount_paid_minor",
        "payment_status",
        "credited_minor",
        "refunded_minor",
        "exchange_rate",
        "original_invoice_id",
        "subscription_id",
        "period_start",
        "period_end",
        "note",
        "issued_at",
        "issued_by",
        "voided_at",
        "void_reason",
    )
    column_searchable_list = ("full_number", "note")
    column_filters = (
        "status",
        "payment_status",
        "currency",
        "issue_date",
        "due_date",
        "customer_id",
        "subscription_id",
    )
    column_default_sort = ("id", True)
    column_labels = {
        "lines_net_minor": "Lines net",
        "allowance_total_minor": "Allowances",
        "taxable_minor": "Taxable",
        "vat_minor": "VAT",
        "payable_minor": "Payable",
        "refunded_minor": "Refunded",
        "original_invoice_id": "Corrected invoice",
        "subscription_id": "Subscription",
        "full_number": "Number",
        "customer_id": "Customer",
        "total_minor": "Total",
        "amount_paid_minor": "Paid",
        "credited_minor": "Credit notes",
        "payment_status": "Payment status",
    }
    money_columns = {
        k: "currency"
        for k in (
            "total_minor",
            "amount_paid_minor",
            "credited_minor",
            "lines_net_minor",
            "taxable_minor",
            "vat_minor",
            "payable_minor",
            "allowance_total_minor",
            "refunded_minor",
        )
    }
    actions: tuple[Action, ...] = (ISSUE, VOID, CREDIT)
    downloads = (PDF, XML)

    def get_query(self) -> Any:
        """Only this view's kind."""
        return super().get_query().filter(Invoice.kind == self.kind)

    def get_count_query(self) -> Any:
        """Count only this view's kind."""
        return super().get_count_query().filter(Invoice.kind == self.kind)

    def get_one(self, id: Any) -> Any:  # noqa: A002 - Flask-Admin's signature
        """A document of this kind (another kind's id is not found here)."""
        document = super().get_one(id)
        return document if document is not None and document.kind == self.kind else None

    def details_extra(self, obj: Any) -> list[tuple[str, list[list[str]], list[str]]]:
        """The lines, as printed."""
        rows = [
            [
                str(line.position),
                line.item_name,
                str(line.quantity),
                str(line.unit_price),
                format_amount(line.net_amount_minor, obj.currency, current_language()),
                f"{line.tax_category} {line.tax_rate.normalize()}%",
            ]
            for line in obj.lines
        ]
        return [("Lines", rows, ["#", "Item", "Quantity", "Unit price", "Amount", "VAT"])]


class InvoiceView(DocumentView):
    """Invoices."""

    kind = DocumentKind.INVOICE
    actions = (ISSUE, VOID, CREDIT, BANK_TRANSFER, APPLY_CREDIT, RETRY_CHARGE)


class ProformaView(DocumentView):
    """Proformas."""

    kind = DocumentKind.PROFORMA


class CreditNoteView(DocumentView):
    """Credit notes."""

    kind = DocumentKind.CREDIT_NOTE
