"""BNR rates in the back office: the stored rates and the log of fetches (read-only)."""

from __future__ import annotations

from typing import Any

from praho.admin.views.base import PrahoModelView
from praho.plugins.bnr_rates.models import ExchangeRate, RateFetch


class ExchangeRateView(PrahoModelView):
    """RON per unit, per banking day and currency, exactly as published."""

    column_list = (
        "rate_date",
        "currency",
        "rate",
        "published_value",
        "multiplier",
        "publishing_date",
        "fetched_at",
    )
    column_searchable_list = ("currency",)
    column_filters = ("currency", "rate_date", "source")
    column_default_sort = ("rate_date", True)


class RateFetchView(PrahoModelView):
    """Every read of the feed, good or failed, with its reason."""

    column_list = (
        "started_at",
        "ok",
        "error_code",
        "error",
        "publishing_date",
        "rates_seen",
        "rates_added",
    )
    column_filters = ("ok", "error_code", "started_at")
    column_default_sort = ("started_at", True)


def admin_views(session: Any) -> list[Any]:
    """The plugin's views, for ``register_admin_views``."""
    return [
        ExchangeRateView(
            ExchangeRate, session, name="BNR rates", endpoint="bnr_rates", category="Money"
        ),
        RateFetchView(
            RateFetch, session, name="BNR fetches", endpoint="bnr_fetches", category="System"
        ),
    ]
