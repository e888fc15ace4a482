"""Refunds in the back office: request one from a payment, then review, approve or refuse.

Every button calls one service of :mod:`praho.core.services.refunds`, which checks the
workflow (pending -> processing -> approved -> completed, or rejected / cancelled /
failed), caps the amount at what remains refundable, writes the history row and the
audit event with the staff user as actor.
"""

from __future__ import annotations

from praho.admin.views.base import (
    Action,
    ActionContext,
    FormField,
    PrahoModelView,
    amount_input,
    field_value,
    money_text,
)
from praho.core.models.payments import Payment
from praho.core.models.refunds import RefundDestination, RefundReason, RefundStatus
from praho.core.services.refunds import (
    approve_refund,
    cancel_refund,
    create_refund,
    record_payout,
    reject_refund,
    start_review,
)

REASONS = tuple((str(reason), str(reason).replace("_", " ")) for reason in RefundReason)
DESTINATIONS = (
    (str(RefundDestination.ORIGINAL), "back the way it came (card, PayPal, bank)"),
    (str(RefundDestination.CUSTOMER_CREDIT), "to the customer's credit"),
)


def _request(ctx: ActionContext) -> str:
    payment: Payment = ctx.obj
    amount = amount_input(ctx, "amount", currency=payment.currency, required=False)
    refund = create_refund(
        ctx.session, payment, amount_minor=amount,
        reason=field_value(ctx.form, "reason") or str(RefundReason.CUSTOMER_REQUEST),
        destination=field_value(ctx.form, "destination") or str(RefundDestination.ORIGINAL),
        internal_note=field_value(ctx.form, "internal_note") or None,
        customer_note=field_value(ctx.form, "customer_note") or None,
        actor=ctx.actor, now=ctx.now,
    )
    return (f"refund {refund.reference} requested: "
            f"{money_text(refund.amount_minor, refund.currency)}")


REQUEST_REFUND = Action(
    "refund", "Refund", _request,
    applies=lambda payment: payment.refunded_minor < payment.amount_minor,
    fields=(
        FormField("amount", "Amount (empty: all that remains)", kind="amount"),
        FormField("reason", "Reason", kind="select", required=True, choices=REASONS),
        FormField("destination", "Refund to", kind="select", required=True, choices=DESTINATIONS),
        FormField("internal_note", "Internal note", kind="textarea"),
        FormField("customer_note", "Note for the customer", kind="textarea"),
    ),
    style="warning",
)


def _is(*statuses: RefundStatus):  # noqa: ANN202 - a predicate for Action.applies
    return lambda refund: refund.status in {str(s) for s in statuses}


def _review(ctx: ActionContext) -> str:
    start_review(ctx.session, ctx.obj, note=field_value(ctx.form, "note") or None,
                 actor=ctx.actor, now=ctx.now)
    return f"refund {ctx.obj.reference} under review"


def _approve(ctx: ActionContext) -> str:
    refund = approve_refund(ctx.session, ctx.obj, note=field_value(ctx.form, "note") or None,
                            actor=ctx.actor, now=ctx.now)
    return f"refund {refund.reference} approved: {refund.status}"


def _reject(ctx: ActionContext) -> str:
    reject_refund(ctx.session, ctx.obj, note=field_value(ctx.form, "note"), actor=ctx.actor,
                  now=ctx.now)
    return f"refund {ctx.obj.reference} rejected"


def _cancel(ctx: ActionContext) -> str:
    cancel_refund(ctx.session, ctx.obj, note=field_value(ctx.form, "note"), actor=ctx.actor,
                  now=ctx.now)
    return f"refund {ctx.obj.reference} cancelled"


def _payout(ctx: ActionContext) -> str:
    record_payout(ctx.session, ctx.obj, bank_reference=field_value(ctx.form, "bank_reference"),
                  actor=ctx.actor, now=ctx.now)
    return f"refund {ctx.obj.reference} paid out"


NOTE = FormField("note", "Note", kind="textarea")
REQUIRED_NOTE = FormField("note", "Reason (shown in the history)", kind="textarea", required=True)


class RefundView(PrahoModelView):
    """Refund requests and their workflow; amounts are reserved until decided."""

    column_list = ("created_at", "reference", "payment_id", "amount_minor", "currency", "reason",
                   "destination", "status", "gateway_reference")
    column_searchable_list = ("reference", "gateway_reference", "internal_note")
    column_filters = ("status", "reason", "destination", "currency", "created_at")
    column_default_sort = ("id", True)
    column_labels = {"created_at": "Requested", "payment_id": "Payment", "amount_minor": "Amount"}
    money_columns = {"amount_minor": "currency"}
    actions = (
        Action("review", "Start review", _review, applies=_is(RefundStatus.PENDING),
               fields=(NOTE,)),
        Action("approve", "Approve and send", _approve, applies=_is(RefundStatus.PROCESSING),
               fields=(NOTE,), style="warning"),
        Action("reject", "Reject", _reject,
               applies=_is(RefundStatus.PENDING, RefundStatus.PROCESSING),
               fields=(REQUIRED_NOTE,), style="danger"),
        Action("cancel", "Cancel", _cancel,
               applies=_is(RefundStatus.PENDING, RefundStatus.PROCESSING),
               fields=(REQUIRED_NOTE,), style="secondary"),
        Action("payout", "Record bank payout", _payout,
               applies=lambda r: r.status == str(RefundStatus.APPROVED) and r.gateway_id is None,
               fields=(FormField("bank_reference", "Bank reference", required=True),)),
    )
