"""Subscriptions: pause, resume and cancel, each with a preview of the proration first."""

from __future__ import annotations

from decimal import Decimal

from praho.admin.views.base import (
    Action,
    ActionContext,
    FormField,
    PrahoModelView,
    checked,
    field_value,
    money_text,
)
from praho.core.models import Subscription, SubscriptionStatus
from praho.core.services.billing_preview import preview_next_invoice
from praho.core.services.proration import ItemChange, ProrationBehavior, compute_proration
from praho.core.services.subscriptions import (
    cancel_subscription,
    pause_subscription,
    resume_subscription,
)

S = SubscriptionStatus


def _preview(ctx: ActionContext) -> list[tuple[str, str]]:
    """What stopping now would credit (by the second), and the next document otherwise.

    Both come from the core's own computations (compute_proration reads only; the
    next-document preview runs in a savepoint that is rolled back).
    """
    sub: Subscription = ctx.obj
    rows: list[tuple[str, str]] = [
        ("Status", str(sub.status)),
        ("Period start", str(sub.current_period_start)),
        ("Period end", str(sub.current_period_end)),
    ]
    changes = [ItemChange(item, None, Decimal(0)) for item in sub.active_items]
    plan = compute_proration(
        ctx.session, sub, changes, behavior=ProrationBehavior.INVOICE_NOW, now=ctx.now
    )
    for line in plan.lines:
        rows.append(
            (line.item_name, f"{line.description}: {money_text(line.amount_minor, sub.currency)}")
        )
    rows.append(("Credit the unused part", money_text(plan.credit_minor, sub.currency)))
    upcoming = preview_next_invoice(ctx.session, sub, now=ctx.now)
    if upcoming.document is not None:
        doc = upcoming.document
        rows.append(
            (
                "Next document if nothing changes",
                f"{doc.issue_date}: {money_text(doc.total_minor, doc.currency)}",
            )
        )
    elif upcoming.reason:
        rows.append(("Next document if nothing changes", upcoming.reason))
    return rows


def _pause(ctx: ActionContext) -> str:
    sub = pause_subscription(
        ctx.session,
        ctx.obj,
        reason=field_value(ctx.form, "reason") or None,
        credit_unused=checked(ctx.form, "credit_unused"),
        actor=ctx.actor,
        now=ctx.now,
    )
    return f"#{sub.id}: {sub.status}"


def _resume(ctx: ActionContext) -> str:
    sub = resume_subscription(ctx.session, ctx.obj, actor=ctx.actor, now=ctx.now)
    return f"#{sub.id}: {sub.status}"


def _cancel(ctx: ActionContext) -> str:
    at_end = field_value(ctx.form, "when") != "now"
    sub = cancel_subscription(
        ctx.session,
        ctx.obj,
        at_period_end=at_end,
        reason=field_value(ctx.form, "reason") or None,
        credit_unused=checked(ctx.form, "credit_unused") and not at_end,
        actor=ctx.actor,
        now=ctx.now,
    )
    return f"#{sub.id}: {sub.status}" + (
        " (cancel at period end)" if sub.cancel_at_period_end else ""
    )


RUNNING = (S.TRIALING, S.ACTIVE, S.PAST_DUE)
REASON = FormField("reason", "Reason")
CREDIT = FormField("credit_unused", "Credit the unused part", "checkbox")

PAUSE = Action(
    "pause",
    "Pause",
    _pause,
    applies=lambda s: s.status in (S.ACTIVE, S.TRIALING),
    fields=(REASON, CREDIT),
    preview=_preview,
    style="warning",
)
RESUME = Action(
    "resume", "Resume", _resume, applies=lambda s: s.status == S.PAUSED, preview=_preview
)
CANCEL = Action(
    "cancel",
    "Cancel",
    _cancel,
    style="danger",
    applies=lambda s: s.status in RUNNING or s.status in (S.PAUSED, S.SUSPENDED),
    fields=(
        FormField(
            "when",
            "Cancel",
            "select",
            choices=(("period_end", "Cancel at period end"), ("now", "Now")),
        ),
        REASON,
        CREDIT,
    ),
    preview=_preview,
)


class SubscriptionView(PrahoModelView):
    """Subscriptions and their life-cycle actions."""

    notes_object = "subscription"
    column_list = (
        "id",
        "customer_id",
        "status",
        "currency",
        "billing_cycle_months",
        "current_period_start",
        "current_period_end",
        "next_billing_date",
        "cancel_at_period_end",
    )
    column_searchable_list = ("customer.legal_name", "customer.code", "cancellation_reason")
    column_filters = (
        "status",
        "currency",
        "customer_id",
        "next_billing_date",
        "cancel_at_period_end",
        "billing_cycle_months",
    )
    column_default_sort = ("id", True)
    column_labels = {
        "customer_id": "Customer",
        "status": "Status",
        "currency": "Currency",
        "current_period_start": "Period start",
        "current_period_end": "Period end",
    }
    actions = (PAUSE, RESUME, CANCEL)

    def details_extra(self, obj: Subscription) -> list[tuple[str, list[list[str]], list[str]]]:
        """Items and the latest events."""
        items = [
            [
                str(i.id),
                str(i.price_id),
                str(i.role),
                str(i.quantity),
                "" if i.removed_at is None else i.removed_at.date().isoformat(),
            ]
            for i in obj.items
        ]
        return [("Lines", items, ["#", "Price", "Kind", "Quantity", "Removed"])]
