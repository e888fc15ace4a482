"""Read-only records: credit movements, payments, webhook events, audit events, staff users."""

from __future__ import annotations

from typing import Any

from praho.admin.auth import ADMIN_ONLY
from praho.admin.models import StaffUser
from praho.admin.views.base import Action, ActionContext, PrahoModelView
from praho.admin.views.refunds import REQUEST_REFUND
from praho.core.models import AccountCode, JournalEntry, JournalLine
from praho.core.services.webhook_replay import REPLAYABLE, replay_webhook_event
from sqlalchemy.orm import contains_eager


class CreditMovementView(PrahoModelView):
    """Ledger lines on the customer credit account (419): credit added, used, refunded.

    Amounts are signed as posted: negative (credit) increases what we owe the customer.
    """

    column_list = (
        "entry.entry_date",
        "customer_id",
        "currency",
        "amount_minor",
        "invoice_id",
        "entry.kind",
        "entry.memo",
    )
    column_details_list = (
        "id",
        "entry.entry_date",
        "entry.posted_at",
        "entry.kind",
        "entry.memo",
        "entry.idempotency_key",
        "customer_id",
        "invoice_id",
        "currency",
        "amount_minor",
        "description",
    )
    column_searchable_list = ("description",)
    column_filters = ("customer_id", "currency", "invoice_id")
    column_default_sort = ("id", True)
    column_labels = {
        "entry.entry_date": "Date",
        "customer_id": "Customer",
        "currency": "Currency",
        "amount_minor": "Amount",
        "entry.kind": "Kind",
        "entry.memo": "Description",
    }
    money_columns = {"amount_minor": "currency"}

    def get_query(self) -> Any:
        """Only the customer credit account, each line with its journal entry.

        The entry is filled from the join (contains_eager): the list and the CSV export
        print ``entry.*`` without one query per line, and without touching the session
        after the request.
        """
        return (
            super()
            .get_query()
            .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
            .options(contains_eager(JournalLine.entry))
            .filter(JournalLine.account_code == AccountCode.CUSTOMER_CREDIT)
        )

    def get_count_query(self) -> Any:
        """Count only the customer credit account."""
        return (
            super()
            .get_count_query()
            .filter(JournalLine.account_code == AccountCode.CUSTOMER_CREDIT)
        )


def _replay(ctx: ActionContext) -> str:
    event = replay_webhook_event(ctx.session, ctx.obj, actor=ctx.actor, now=ctx.now)
    return f"{event.source}/{event.event_id}: {event.status}"


class WebhookEventView(PrahoModelView):
    """Inbound webhook events (payload copies are stored redacted)."""

    column_list = (
        "received_at",
        "source",
        "event_type",
        "event_id",
        "status",
        "attempts",
        "last_error",
    )
    column_searchable_list = ("event_id", "event_type", "last_error")
    column_filters = ("source", "status", "event_type", "received_at")
    column_default_sort = ("received_at", True)
    column_labels = {
        "received_at": "Received",
        "source": "Source",
        "event_type": "Event type",
        "status": "Status",
        "attempts": "Attempts",
        "last_error": "Last error",
    }
    actions = (Action("replay", "Replay", _replay, applies=lambda e: e.status in REPLAYABLE),)


class AuditEventView(PrahoModelView):
    """The audit trail: who did what to which money. Append-only, never editable."""

    column_list = (
        "seq",
        "occurred_at",
        "actor_type",
        "actor_id",
        "action",
        "object_type",
        "object_id",
        "amount_minor",
        "currency",
    )
    column_searchable_list = ("actor_id", "action", "object_id")
    column_filters = ("actor_type", "action", "object_type", "currency", "occurred_at")
    column_default_sort = ("id", True)
    column_labels = {
        "occurred_at": "Occurred",
        "actor_id": "Actor",
        "action": "Action",
        "object_id": "Object",
        "amount_minor": "Amount",
        "currency": "Currency",
    }
    money_columns = {"amount_minor": "currency"}


class StaffUserView(PrahoModelView):
    """Staff accounts (admins only). Created with ``praho admin create-user``."""

    roles_to_view = ADMIN_ONLY
    column_list = ("email", "name", "role", "active", "language", "last_login_at", "created_at")
    column_details_list = column_list
    column_export_list = column_list
    column_searchable_list = ("email", "name")
    column_filters = ("role", "active")
    column_labels = {"name": "Name", "role": "Role", "active": "Active", "created_at": "Created"}

    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(StaffUser, session, **kwargs)


class PaymentView(PrahoModelView):
    """Payments received (gateway, bank, credit used) and how much was refunded."""

    notes_object = None
    column_list = (
        "received_at",
        "customer_id",
        "kind",
        "amount_minor",
        "currency",
        "fee_minor",
        "gateway_id",
        "gateway_reference",
        "bank_reference",
        "status",
        "refunded_minor",
    )
    column_searchable_list = ("gateway_reference", "bank_reference", "note")
    column_filters = ("kind", "status", "currency", "gateway_id", "customer_id", "received_at")
    column_default_sort = ("id", True)
    column_labels = {
        "received_at": "Received",
        "customer_id": "Customer",
        "kind": "Kind",
        "amount_minor": "Amount",
        "currency": "Currency",
        "status": "Status",
        "fee_minor": "Fee",
        "refunded_minor": "Refunded",
    }
    money_columns = {k: "currency" for k in ("amount_minor", "fee_minor", "refunded_minor")}
    actions = (REQUEST_REFUND,)
