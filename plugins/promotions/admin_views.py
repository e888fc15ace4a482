"""Coupons, campaigns and redemptions in the back office (read-only lists; see the CLI to create)."""

from __future__ import annotations

from typing import Any

from praho.admin.views.base import PrahoModelView
from praho.plugins.promotions.models import Campaign, Coupon, Redemption


class CouponView(PrahoModelView):
    """Coupons with their discount, limits, validity and how often they were redeemed."""

    column_list = (
        "code",
        "name",
        "discount_type",
        "percent",
        "amounts",
        "duration",
        "duration_cycles",
        "times_redeemed",
        "max_redemptions",
        "valid_from",
        "valid_until",
        "active",
    )
    column_searchable_list = ("code", "name")
    column_filters = ("discount_type", "duration", "active", "valid_from", "valid_until")
    column_default_sort = ("id", True)
    # A fixed discount per currency, in minor units: shown as money, exported as decimals.
    money_by_currency_columns = ("amounts", "min_order")


class CampaignView(PrahoModelView):
    """Campaigns: dates and budget."""

    column_searchable_list = ("code", "name")
    column_filters = ("starts_on", "ends_on", "currency")
    column_default_sort = ("id", True)
    money_columns = {"budget_minor": "currency", "spent_minor": "currency"}
    column_labels = {"budget_minor": "Budget", "spent_minor": "Spent"}


class RedemptionView(PrahoModelView):
    """Every redemption (who, which coupon, when), audited."""

    column_searchable_list = ("key", "redeemed_by")
    column_filters = (
        "status",
        "coupon_id",
        "customer_id",
        "subscription_id",
        "invoice_id",
        "currency",
        "redeemed_at",
    )
    column_default_sort = ("id", True)
    money_columns = {"discount_total_minor": "currency"}
    column_labels = {"discount_total_minor": "Discount total"}


def admin_views(session: Any) -> list[Any]:
    """The plugin's views, for ``register_admin_views``."""
    return [
        CouponView(Coupon, session, name="Coupons", endpoint="coupons", category="Pricing"),
        CampaignView(Campaign, session, name="Campaigns", endpoint="campaigns", category="Pricing"),
        RedemptionView(
            Redemption, session, name="Redemptions", endpoint="redemptions", category="Pricing"
        ),
    ]
