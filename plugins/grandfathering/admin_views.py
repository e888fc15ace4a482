"""Price locks in the back office: the list, and revoking a lock (granting is on the CLI)."""

from __future__ import annotations

from typing import Any

from praho.admin.views.base import (
    Action,
    ActionContext,
    FormField,
    PrahoModelView,
    field_value,
    money,
)
from praho.plugins.grandfathering.locks import revoke_lock
from praho.plugins.grandfathering.models import PriceLock


def _revoke(ctx: ActionContext) -> str:
    lock = revoke_lock(ctx.session, ctx.obj, reason=field_value(ctx.form, "reason"),
                       actor=ctx.actor, now=ctx.now)
    return f"price lock {lock.id} revoked"


class PriceLockView(PrahoModelView):
    """Locked prices per customer (and subscription), with who granted them and until when."""

    column_list = ("customer_id", "price_id", "subscription_id", "unit_amount_minor", "currency",
                   "reason", "granted_by", "locked_at", "expires_on", "revoked_at")
    column_searchable_list = ("reason", "granted_by", "bulk_key")
    column_filters = ("customer_id", "price_id", "currency", "expires_on", "revoked_at")
    column_default_sort = ("id", True)
    column_labels = {"unit_amount_minor": "Locked price", "customer_id": "Customer",
                     "price_id": "Price", "subscription_id": "Subscription"}
    column_formatters = {"unit_amount_minor": money("unit_amount_minor")}
    actions = (
        Action("revoke", "Revoke", _revoke, applies=lambda lock: lock.revoked_at is None,
               fields=(FormField("reason", "Reason", kind="textarea", required=True),),
               style="danger"),
    )


def admin_views(session: Any) -> list[Any]:
    """The plugin's views, for ``register_admin_views``."""
    return [PriceLockView(PriceLock, session, name="Price locks", endpoint="price_locks",
                          category="Pricing")]
