"""Usage in the back office: what was rated per subscription and period, alerts fired."""

from __future__ import annotations

from typing import Any

from praho.admin.views.base import PrahoModelView
from praho.plugins.usage_metering.models import Meter, UsageAlertFiring, UsageRating


class UsageRatingView(PrahoModelView):
    """Usage billed per subscription, meter and period (the arrears lines' source)."""

    column_default_sort = ("id", True)


class MeterView(PrahoModelView):
    """Meters as data: unit, aggregation, rounding, category."""

    column_default_sort = ("id", True)


class AlertFiringView(PrahoModelView):
    """Usage alerts fired (once per subscription, meter, threshold and period)."""

    column_default_sort = ("id", True)


def admin_views(session: Any) -> list[Any]:
    """The plugin's views, for ``register_admin_views``."""
    return [
        UsageRatingView(UsageRating, session, name="Usage", endpoint="usage_ratings",
                        category="Usage"),
        MeterView(Meter, session, name="Meters", endpoint="meters", category="Usage"),
        AlertFiringView(UsageAlertFiring, session, name="Usage alerts",
                        endpoint="usage_alerts", category="Usage"),
    ]
