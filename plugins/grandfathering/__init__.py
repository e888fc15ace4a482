"""Grandfathering plugin (``grandfathering``): price locks, price changes with notice.

* Price locks keep a customer's price (optionally per subscription) until they expire;
  they win in ``resolve_subscription_price`` (``tryfirst``), as a ceiling.
* A new price version (``price_changed``) becomes a migration plan; rises are e-mailed
  ``notice_days`` before the first renewal at the new price, and price resolution never
  bills a rise before its notice has run.
* A daily batch (Celery beat, ``praho pricelocks migrate [--dry-run]``) sends notices,
  announces lock expiries and records migrations. See docs/pricing.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery.schedules import crontab
from jinja2 import FileSystemLoader
from praho.core.hookspecs import hookimpl
from praho.core.tasks import PeriodicTask
from praho.plugins.grandfathering import (
    models,  # noqa: F401 - tables for Alembic and metadata
    tasks,
)
from praho.plugins.grandfathering.changes import record_price_change
from praho.plugins.grandfathering.resolution import resolve_price
from praho.plugins.grandfathering.settings import (
    EXTENSION_KEY,
    GrandfatheringSettings,
    current_settings,
    parse_settings,
)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


@hookimpl
def plugin_configured(app: Any, name: str, settings: dict[str, Any]) -> None:
    """Parse and keep the plugin's settings; a bad setting stops start-up with its name."""
    app.extensions[EXTENSION_KEY] = parse_settings(settings)


@hookimpl(tryfirst=True)
def resolve_subscription_price(
    session: Any, subscription: Any, item: Any, period_start: Any
) -> Any:
    """A lock's price while it covers the period; else hold a rise until its notice has run."""
    return resolve_price(session, subscription, item, period_start)


@hookimpl
def price_changed(session: Any, price: Any, version: Any, now: Any) -> None:
    """Record the change and plan which subscriptions move when."""
    record_price_change(session, price, version, now=now, settings=current_settings())


@hookimpl
def register_templates() -> list[Any]:
    """The notice e-mails (price change, lock expiry), in Romanian and English."""
    return [FileSystemLoader(str(TEMPLATE_DIR))]


@hookimpl
def register_periodic_tasks(app: Any) -> list[Any]:
    """The migration batch, daily at ``batch_hour`` (Bucharest)."""
    settings = app.extensions.get(EXTENSION_KEY) or GrandfatheringSettings()
    return [
        PeriodicTask(
            name="grandfathering-price-migrations",
            task=tasks.TASK_NAME,
            schedule=crontab(minute=15, hour=settings.batch_hour),
        )
    ]


@hookimpl
def register_cli_commands() -> list[Any]:
    """``praho pricelocks grant|bulk|revoke|list|migrate``."""
    from praho.plugins.grandfathering.cli import pricelocks_group

    return [pricelocks_group]


@hookimpl
def register_admin_views(admin: Any, session: Any) -> list[Any]:
    """Back-office lists (and actions) for this plugin's records."""
    from praho.plugins.grandfathering.admin_views import admin_views

    return admin_views(session)
