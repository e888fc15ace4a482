"""Usage in the back office: what was rated per subscription and period, alerts fired,
and the events Stripe refused for good."""

from __future__ import annotations

from typing import Any

from praho.admin.views.base import PrahoModelView
from praho.plugins.usage_metering.models import (
    Meter,
    UsageAlertFiring,
    UsageRating,
    UsageStripeRefusal,
)


class UsageRatingView(PrahoModelView):
    """Usage billed per subscription, meter and period (the arrears lines' source)."""

    column_list = (
        "subscription_id",
        "meter_id",
        "period_start",
        "period_end",
        "revision",
        "quantity",
        "amount_minor",
        "total_amount_minor",
        "currency",
        "invoice_id",
        "rated_at",
    )
    column_searchable_list = ("currency",)
    column_filters = (
        "subscription_id",
        "meter_id",
        "invoice_id",
        "period_start",
        "revision",
        "currency",
        "rated_at",
    )
    column_default_sort = ("id", True)
    money_columns = {"amount_minor": "currency", "total_amount_minor": "currency"}
    column_labels = {"amount_minor": "Amount", "total_amount_minor": "Total amount"}


class MeterView(PrahoModelView):
    """Meters as data: unit, aggregation, rounding, category."""

    column_searchable_list = ("code", "name", "name_en", "unit")
    column_filters = ("category", "aggregation", "rounding", "active")
    column_default_sort = ("id", True)


class AlertFiringView(PrahoModelView):
    """Usage alerts fired (once per subscription, meter, threshold and period)."""

    column_filters = ("alert_id", "period_start", "fired_at")
    column_default_sort = ("id", True)


class StripeRefusalView(PrahoModelView):
    """Usage events Stripe refused for good: never sent again, so Stripe's usage lacks them.

    The same list as ``praho usage stripe-refusals``; finance reconciles these by hand
    (the events are still billed by PRAHO's own rating).
    """

    column_list = ("refused_at", "meter_id", "customer_id", "event_id", "http_status",
                   "error_code", "message", "identifier")
    column_searchable_list = ("event_id", "error_code", "message")
    column_filters = ("meter_id", "customer_id", "http_status", "error_code", "refused_at")
    column_default_sort = ("id", True)
    column_labels = {"http_status": "HTTP status", "error_code": "Stripe error"}


def admin_views(session: Any) -> list[Any]:
    """The plugin's views, for ``register_admin_views``."""
    return [
        UsageRatingView(
            UsageRating, session, name="Usage", endpoint="usage_ratings", category="Usage"
        ),
        MeterView(Meter, session, name="Meters", endpoint="meters", category="Usage"),
        AlertFiringView(
            UsageAlertFiring,
            session,
            name="Usage alerts",
            endpoint="usage_alerts",
            category="Usage",
        ),
        StripeRefusalView(
            UsageStripeRefusal,
            session,
            name="Stripe refusals",
            endpoint="usage_stripe_refusals",
            category="Usage",
        ),
    ]
