"""Customers: search, notes, credit balance and receivable, and a new draft invoice."""

from __future__ import annotations

from typing import Any

from flask import redirect
from praho.admin.i18n import current_language
from praho.admin.views.base import (
    Action,
    ActionContext,
    FormField,
    PrahoModelView,
    field_value,
    unit_price_input,
)
from praho.admin.views.documents import document_url
from praho.core.models import Customer
from praho.core.money import format_amount
from praho.core.pricing import DraftLine
from praho.core.services.invoicing import (
    INVOICE_TYPE_CODES,
    create_draft,
    get_document,
    set_invoice_type,
)
from praho.core.services.ledger import customer_credit_balance, customer_receivable

DRAFT_LINES = 3


def _new_draft(ctx: ActionContext) -> Any:
    """Create a draft invoice (not fiscal yet: it can be reviewed, then issued)."""
    lines = []
    for n in range(1, DRAFT_LINES + 1):
        item = field_value(ctx.form, f"item_{n}")
        if not item and n > 1:
            continue
        # The price is read strictly here (1.500 is ambiguous); the rest goes to the service
        # as typed: it validates and converts (and names the field).
        lines.append(
            DraftLine(
                item_name=item,
                quantity=field_value(ctx.form, f"quantity_{n}") or "1",  # type: ignore[arg-type]
                unit_price=unit_price_input(ctx, f"unit_price_{n}"),
            )
        )
    draft = create_draft(
        ctx.session,
        customer=ctx.obj,
        lines=lines,
        note=field_value(ctx.form, "note") or None,
        now=ctx.now,
    )
    type_code = field_value(ctx.form, "type_code") or "380"
    corrects_number = field_value(ctx.form, "corrects")
    if type_code != "380" or corrects_number:
        corrects = get_document(ctx.session, corrects_number) if corrects_number else None
        set_invoice_type(ctx.session, draft, type_code, corrects=corrects)
    ctx.session.flush()
    return redirect(document_url(draft))


def _line_fields() -> tuple[FormField, ...]:
    fields: list[FormField] = []
    for n in range(1, DRAFT_LINES + 1):
        fields += [
            FormField(f"item_{n}", "Item", required=n == 1, suffix=str(n)),
            FormField(f"quantity_{n}", "Quantity", suffix=str(n)),
            FormField(f"unit_price_{n}", "Unit price", required=n == 1, suffix=str(n)),
        ]
    type_choices = tuple((code, f"{code} {name}") for code, name in INVOICE_TYPE_CODES.items())
    return (
        *fields,
        FormField("note", "Note"),
        FormField("type_code", "Invoice type", "select", choices=type_choices),
        FormField("corrects", "Corrects invoice (number, for 384)"),
    )


class CustomerView(PrahoModelView):
    """Customers (read-only here; changes go through the import or the API)."""

    notes_object = "customer"
    column_list = (
        "code",
        "legal_name",
        "kind",
        "cui",
        "vat_id",
        "email",
        "country",
        "currency",
        "status",
        "created_at",
    )
    column_searchable_list = ("code", "legal_name", "cui", "vat_id", "email")
    column_filters = (
        "kind",
        "status",
        "country",
        "currency",
        "invoice_mode",
        "vat_payer",
        "created_at",
    )
    column_default_sort = ("id", True)
    column_labels = {
        "legal_name": "Legal name",
        "code": "Code",
        "kind": "Kind",
        "created_at": "Created",
        "currency": "Currency",
        "status": "Status",
    }
    actions = (Action("new_draft", "New draft invoice", _new_draft, fields=_line_fields()),)

    def details_extra(self, obj: Customer) -> list[tuple[str, list[list[str]], list[str]]]:
        """Receivable and credit balance from the ledger, in the customer's currency."""
        currency = obj.currency
        receivable = customer_receivable(self.session, obj.id, currency)
        credit = customer_credit_balance(self.session, obj.id, currency)
        language = current_language()
        return [
            (
                "Money",
                [
                    [
                        format_amount(receivable, currency, language),
                        format_amount(credit, currency, language),
                        currency,
                    ]
                ],
                ["Receivable", "Credit balance", "Currency"],
            )
        ]
