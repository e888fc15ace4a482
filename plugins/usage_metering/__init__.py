"""Usage-based billing (``usage_metering``): meters, fast idempotent ingestion, rating, alerts.

Hosting sells storage, bandwidth, compute hours and mailboxes by use. Meters and their
charges are data; events arrive through :func:`record_usage_events` or
``POST /api/usage/events``; each renewal document gets the closed period's usage in
arrears (``collect_renewal_charges``), and what it billed is recorded once the document
is issued (``subscription_renewed``). When a subscription ends, its last window goes on
its final document (``collect_final_charges``, ``subscription_final_invoiced``). See
docs/metering.md.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader
from praho.core.hookspecs import hookimpl
from praho.core.tasks import PeriodicTask
from praho.plugins.usage_metering import (
    models,  # noqa: F401 - tables in the metadata
    tasks,
)
from praho.plugins.usage_metering.ingestion import IngestResult, record_usage_events
from praho.plugins.usage_metering.settings import EXTENSION_KEY, parse_settings

__all__ = ["IngestResult", "record_usage_events"]


@hookimpl
def plugin_configured(app: Any, name: str, settings: dict[str, Any]) -> None:
    """Parse and keep the plugin's settings; a bad setting stops start-up with its name."""
    app.extensions[EXTENSION_KEY] = parse_settings(settings)


@hookimpl
def register_blueprints(app: Any) -> list[Any]:
    """``POST /api/usage/events``."""
    from praho.plugins.usage_metering.api import usage_api

    return [usage_api]


@hookimpl
def register_cli_commands() -> list[Any]:
    """``praho usage ...``."""
    from praho.plugins.usage_metering.cli import usage_group

    return [usage_group]


@hookimpl
def register_periodic_tasks(app: Any) -> list[Any]:
    """Report usage to Stripe every 15 minutes, only when a Stripe key is configured."""
    settings = app.extensions.get(EXTENSION_KEY)
    if settings is None or not settings.stripe_api_key:
        return []
    return [
        PeriodicTask(
            name="usage-stripe-report", task=tasks.TASK_NAME, schedule=timedelta(minutes=15)
        )
    ]


@hookimpl
def register_templates() -> list[Any]:
    """The usage alert e-mail (ro, en)."""
    return [FileSystemLoader(str(Path(__file__).resolve().parent / "templates"))]


@hookimpl
def collect_renewal_charges(
    session: Any, subscription: Any, period_start: Any, period_end: Any, invoice: Any, now: Any
) -> list[Any]:
    """The closed period's usage in arrears, and adjustments for late events."""
    from praho.plugins.usage_metering.rating import usage_lines

    return usage_lines(session, subscription, period_start, language=invoice.language, now=now)


@hookimpl
def subscription_renewed(session: Any, subscription: Any, invoice: Any) -> None:
    """Record what the issued document billed for usage (so it is never billed twice)."""
    from praho.plugins.usage_metering.rating import record_ratings

    record_ratings(session, subscription, invoice)


@hookimpl
def collect_final_charges(
    session: Any, subscription: Any, end_date: Any, invoice: Any, now: Any
) -> list[Any]:
    """The ending subscription's last usage window (and late events), up to its end."""
    from praho.plugins.usage_metering.rating import usage_lines

    return usage_lines(session, subscription, end_date, language=invoice.language, now=now)


@hookimpl
def subscription_final_invoiced(
    session: Any, subscription: Any, invoice: Any, end_date: Any
) -> None:
    """Record what the final document billed for usage."""
    from praho.plugins.usage_metering.rating import record_ratings

    record_ratings(session, subscription, invoice, up_to=end_date)


@hookimpl
def register_admin_views(admin: Any, session: Any) -> list[Any]:
    """Back-office lists (and actions) for this plugin's records."""
    from praho.plugins.usage_metering.admin_views import admin_views

    return admin_views(session)
