"""The dashboard (/admin/): MRR and ARR, revenue, receivables ageing, dunning, failures.

Plugin views add boxes: any registered view with a ``dashboard_panels(session, today)``
method contributes :class:`praho.admin.views.base.Panel` objects (e-Factura does).
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_admin import AdminIndexView, expose
from praho.admin.charts import bar_chart, line_chart
from praho.admin.i18n import current_language, gettext
from praho.admin.metrics import AGEING_BUCKETS, dashboard_figures
from praho.admin.views.base import Panel, SecureViewMixin
from praho.core.clock import business_date, utcnow
from praho.core.money import format_amount


class DashboardView(SecureViewMixin, AdminIndexView):
    """Figures for finance staff, read-only, for every role."""

    @expose("/")
    def index(self) -> Any:
        """Render the dashboard."""
        today = business_date(utcnow())
        database = current_app.extensions["praho.db"]
        session = database.session_factory()
        try:
            figures = dashboard_figures(session, today)
            panels: list[Panel] = []
            for view in self.admin._views:  # noqa: SLF001 - the admin keeps no public list
                contribute = getattr(view, "dashboard_panels", None)
                if contribute is not None and view.is_accessible():
                    panels.extend(contribute(session, today))
            language = current_language()

            def money_label(currency: str) -> Any:
                # Axis labels in whole units: drop the decimals after the language's separator.
                decimal_mark = "," if language == "ro" else "."
                return lambda minor: format_amount(minor, currency, language).rsplit(
                    decimal_mark, 1
                )[0]

            charts = {}
            if figures["mrr"]:
                first = next(iter(figures["mrr"]))
                charts["mrr"] = line_chart(
                    gettext("MRR and ARR"), figures["months"], figures["mrr"], money_label(first)
                )
            if figures["revenue"]:
                first = next(iter(figures["revenue"]))
                charts["revenue"] = bar_chart(
                    gettext("Revenue by month"),
                    figures["months"],
                    figures["revenue"],
                    money_label(first),
                )
            if figures["ageing"]:
                first = next(iter(figures["ageing"]))
                charts["ageing"] = bar_chart(
                    gettext("Receivables ageing"),
                    list(AGEING_BUCKETS),
                    {c: [b[k] for k in AGEING_BUCKETS] for c, b in figures["ageing"].items()},
                    money_label(first),
                )
            return self.render(
                "praho_admin/dashboard.html",
                figures=figures,
                charts=charts,
                panels=panels,
                buckets=AGEING_BUCKETS,
                fmt=lambda minor, cur: f"{format_amount(minor, cur, language)} {cur}",
            )
        finally:
            # Read-only: nothing to keep; objects stay usable until the page is rendered.
            session.rollback()
            session.close()
