"""BNR exchange rates plugin (``bnr_rates``): the National Bank of Romania's reference rates.

Fetches the daily feed (Celery beat, ``praho rates fetch``), stores rates per banking day,
and answers ``resolve_exchange_rate`` with the rate of the last banking day before the
tax point (Fiscal Code art. 290(2)). See docs/tax.md.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab
from praho.core.hookspecs import hookimpl
from praho.core.tasks import PeriodicTask
from praho.plugins.bnr_rates import tasks
from praho.plugins.bnr_rates.service import quote_rate
from praho.plugins.bnr_rates.settings import (
    EXTENSION_KEY,
    BnrSettings,
    current_settings,
    parse_settings,
)


@hookimpl
def plugin_configured(app: Any, name: str, settings: dict[str, Any]) -> None:
    """Parse and keep the plugin's settings; a bad setting stops start-up with its name."""
    app.extensions[EXTENSION_KEY] = parse_settings(settings)


@hookimpl
def resolve_exchange_rate(session: Any, currency: str, on_date: Any) -> Any:
    """RON per unit of ``currency`` from the last banking day before ``on_date`` (or on it)."""
    return quote_rate(session, currency, on_date, current_settings())


@hookimpl
def register_periodic_tasks(app: Any) -> list[Any]:
    """Fetch the feed on banking-day afternoons (BNR publishes around 13:00 Bucharest time)."""
    settings = app.extensions.get(EXTENSION_KEY) or BnrSettings()
    return [
        PeriodicTask(
            name="bnr-rates-fetch",
            task=tasks.TASK_NAME,
            schedule=crontab(
                minute=settings.fetch_minutes, hour=settings.fetch_hours, day_of_week="mon-fri"
            ),
        )
    ]


@hookimpl
def register_cli_commands() -> list[Any]:
    """``praho rates fetch`` and ``praho rates show``."""
    from praho.plugins.bnr_rates.cli import rates_group

    return [rates_group]


@hookimpl
def register_admin_views(admin: Any, session: Any) -> list[Any]:
    """The rates and fetch log (back office, read-only)."""
    from praho.plugins.bnr_rates.admin_views import admin_views

    return admin_views(session)
