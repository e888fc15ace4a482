"""Provisioning in the back office: Virtualmin actions (retry a failed one), accounts and
reconciliation findings, and a dashboard box for what needs a person.

Registered through ``register_admin_views``; the retry calls the same service as
``praho virtualmin retry`` (the action runs on a worker once the retry is committed).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import url_for
from praho.admin.views.base import Action, ActionContext, Panel, PrahoModelView
from praho.plugins.virtualmin.actions import retry_action
from praho.plugins.virtualmin.models import (
    ActionStatus,
    VirtualminAccount,
    VirtualminAction,
    VirtualminFinding,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session


def _retry(ctx: ActionContext) -> str:
    action = retry_action(ctx.session, ctx.obj.id, actor=ctx.actor, now=ctx.now)
    return f"{action.kind} {action.domain}: queued again"


class VirtualminActionView(PrahoModelView):
    """Every create/disable/enable/delete sent (or to be sent) to a Virtualmin server."""

    column_list = (
        "id",
        "kind",
        "domain",
        "server",
        "status",
        "attempts",
        "next_attempt_at",
        "completed_at",
        "cause",
        "subscription_id",
        "last_error",
    )
    column_details_list = (*column_list, "idempotency_key", "started_at", "params", "created_at")
    column_export_list = column_details_list
    column_searchable_list = ("domain", "cause", "last_error")
    column_filters = ("status", "kind", "server", "subscription_id", "created_at")
    column_default_sort = ("id", True)
    actions = (
        Action(
            "retry",
            "Retry now",
            _retry,
            applies=lambda a: a.status == ActionStatus.FAILED and bool(a.domain),
            style="warning",
        ),
    )

    def dashboard_panels(self, session: Session, today: date) -> list[Panel]:
        """Failed provisioning actions and open reconciliation findings."""
        failed = session.execute(
            select(VirtualminAction)
            .where(VirtualminAction.status == ActionStatus.FAILED)
            .order_by(VirtualminAction.id)
            .limit(15)
        ).scalars()
        panel = Panel(
            "Provisioning failed",
            ["Domain", "Action", "Error"],
            link=url_for(f"{self.endpoint}.index_view"),
        )
        panel.rows = [[a.domain, str(a.kind), (a.last_error or "")[:80]] for a in failed]
        findings = session.execute(
            select(func.count(VirtualminFinding.id)).where(VirtualminFinding.resolved_at.is_(None))
        ).scalar_one()
        if findings:
            panel.rows.append(["", "reconciliation", f"{findings} open finding(s)"])
        return [panel]


class VirtualminAccountView(PrahoModelView):
    """The hosting account of each provisioned subscription: expected and confirmed state."""

    column_list = (
        "domain",
        "server",
        "username",
        "plan",
        "expected_state",
        "confirmed_state",
        "subscription_id",
        "updated_at",
    )
    column_export_list = (*column_list, "template", "created_at")
    column_searchable_list = ("domain", "username", "plan")
    column_filters = ("server", "expected_state", "confirmed_state", "plan")
    column_default_sort = ("id", True)


class VirtualminFindingView(PrahoModelView):
    """What reconciliation found different on the servers (open until it matches again)."""

    column_list = (
        "server",
        "domain",
        "kind",
        "expected",
        "actual",
        "subscription_id",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
    )
    column_export_list = column_list
    column_searchable_list = ("domain",)
    column_filters = ("kind", "server", "resolved_at", "first_seen_at")
    column_default_sort = ("id", True)


def admin_views(session: Any) -> list[Any]:
    """The plugin's views, for ``register_admin_views``."""
    return [
        VirtualminActionView(
            VirtualminAction,
            session,
            name="Provisioning actions",
            endpoint="virtualmin_actions",
            category="Provisioning",
        ),
        VirtualminAccountView(
            VirtualminAccount,
            session,
            name="Hosting accounts",
            endpoint="virtualmin_accounts",
            category="Provisioning",
        ),
        VirtualminFindingView(
            VirtualminFinding,
            session,
            name="Reconciliation",
            endpoint="virtualmin_findings",
            category="Provisioning",
        ),
    ]
