"""Price locks in the back office: grant one on a price (or keep every subscriber), revoke."""

from __future__ import annotations

from typing import Any

from praho.admin.views.base import (
    Action,
    ActionContext,
    FormField,
    PrahoModelView,
    amount_input,
    field_value,
)
from praho.core import validation as v
from praho.core.errors import FieldError
from praho.core.models import Price, Subscription
from praho.core.services.customers import get_customer
from praho.plugins.grandfathering.locks import bulk_lock_price, grant_lock, revoke_lock
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
    money_columns = {"unit_amount_minor": "currency"}
    actions = (
        Action("revoke", "Revoke", _revoke, applies=lambda lock: lock.revoked_at is None,
               fields=(FormField("reason", "Reason", kind="textarea", required=True),),
               style="danger"),
    )


def _expiry(ctx: ActionContext) -> Any:
    text = field_value(ctx.form, "expires_on")
    return v.iso_date("expires_on", text) if text else None


def _grant(ctx: ActionContext) -> str:
    price: Price = ctx.obj
    amount = amount_input(ctx, "amount", currency=price.currency)
    subscription = None
    if field_value(ctx.form, "subscription_id"):
        raw = field_value(ctx.form, "subscription_id")
        if not raw.isdigit() or len(raw) > 18:
            raise FieldError("subscription_id", f"{raw!r} is not a subscription id")
        subscription_id = int(raw)
        subscription = ctx.session.get(Subscription, subscription_id)
        if subscription is None:
            raise FieldError("subscription_id", f"no subscription {subscription_id}")
    customer = get_customer(ctx.session, field_value(ctx.form, "customer"))
    lock = grant_lock(ctx.session, customer=customer,
                      price=price, unit_amount_minor=amount, reason=field_value(ctx.form, "reason"),
                      subscription=subscription, expires_on=_expiry(ctx), actor=ctx.actor,
                      now=ctx.now)
    return f"price lock {lock.id} granted"


def _bulk(ctx: ActionContext) -> str:
    expires_on = _expiry(ctx)
    result = bulk_lock_price(ctx.session, ctx.obj, reason=field_value(ctx.form, "reason"),
                             expires_on=expires_on, months=None if expires_on else 12,
                             actor=ctx.actor, now=ctx.now)
    return (f"{ctx.obj.code}: {len(result.created)} subscriptions locked, "
            f"{len(result.already_locked)} already had a lock")


class LockablePriceView(PrahoModelView):
    """Catalog prices, to grant a price lock on one (or keep every current subscriber)."""

    column_list = ("code", "product_id", "currency", "interval_months", "nickname")
    column_searchable_list = ("code", "nickname")
    column_filters = ("currency", "interval_months")
    actions = (
        Action("grant_lock", "Grant a price lock", _grant, fields=(
            FormField("customer", "Customer code", required=True),
            FormField("amount", "Locked unit price", kind="amount", required=True),
            FormField("reason", "Reason", kind="textarea", required=True),
            FormField("expires_on", "Expires on (YYYY-MM-DD, empty: never)"),
            FormField("subscription_id", "Only this subscription (id, optional)"),
        )),
        Action("bulk_lock", "Keep every current subscriber at today's price", _bulk, fields=(
            FormField("reason", "Reason", kind="textarea", required=True),
            FormField("expires_on", "Expires on (YYYY-MM-DD, empty: 12 months)"),
        ), style="warning"),
    )


def admin_views(session: Any) -> list[Any]:
    """The plugin's views, for ``register_admin_views``."""
    return [
        PriceLockView(PriceLock, session, name="Price locks", endpoint="price_locks",
                      category="Pricing"),
        LockablePriceView(Price, session, name="Prices", endpoint="lockable_prices",
                          category="Pricing"),
    ]
