"""Virtualmin provisioning plugin (``virtualmin``): hosting accounts follow subscriptions.

The worked example for provisioning plugins (docs/provisioning.md). Subscription hooks
record actions (create, disable, enable, delete after a grace period) in the billing
transaction; Celery tasks call Virtualmin's remote API after commit, with retries and a
recorded outcome per attempt; a periodic reconciliation flags differences for the back
office. Billing never waits for a server and never fails because of one.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from praho.core.hookspecs import hookimpl
from praho.core.tasks import PeriodicTask
from praho.plugins.virtualmin import models, tasks  # noqa: F401 - models for metadata, tasks bind
from praho.plugins.virtualmin.actions import install_dispatch, record_provisioning
from praho.plugins.virtualmin.settings import (
    EXTENSION_KEY,
    VirtualminSettings,
    current_settings,
    parse_settings,
)

logger = logging.getLogger("praho.virtualmin")


@hookimpl
def plugin_configured(app: Any, name: str, settings: dict[str, Any]) -> None:
    """Parse and keep the settings; a bad one stops start-up with its name."""
    app.extensions[EXTENSION_KEY] = parse_settings(settings)
    install_dispatch()


def _record(session: Any, subscription: Any, event_name: str) -> None:
    """Record the event's actions in a savepoint; a failure here is logged, never raised.

    Billing must not fail because provisioning could not be recorded: the periodic
    reconciliation flags an account left behind.
    """
    settings = current_settings()
    if not settings.enabled:
        return
    try:
        with session.begin_nested():
            # The transition stamped updated_at with the service's ``now``: replays and test
            # clocks schedule the grace period from the event's time, not the wall clock.
            record_provisioning(session, subscription, event_name, settings=settings,
                                now=subscription.updated_at)
    except Exception:
        logger.exception("Virtualmin: could not record %s for subscription %s",
                         event_name, getattr(subscription, "id", None))


@hookimpl
def subscription_activated(session: Any, subscription: Any) -> None:
    """Create the hosting account."""
    _record(session, subscription, "activated")


@hookimpl
def subscription_suspended(session: Any, subscription: Any, reason: str) -> None:
    """Disable the hosting account."""
    _record(session, subscription, "suspended")


@hookimpl
def subscription_reactivated(session: Any, subscription: Any, reason: str) -> None:
    """Enable the hosting account again."""
    _record(session, subscription, "reactivated")


@hookimpl
def subscription_terminated(session: Any, subscription: Any, reason: str) -> None:
    """Disable now, delete after the grace period."""
    _record(session, subscription, "terminated")


@hookimpl
def subscription_cancelled(session: Any, subscription: Any, at_period_end: bool) -> None:
    """A cancellation that takes effect now ends the service like a termination."""
    if not at_period_end:
        _record(session, subscription, "cancelled")


@hookimpl
def register_periodic_tasks(app: Any) -> list[Any]:
    """The sweeper every minute and the reconciliation every ``reconcile_minutes``."""
    settings = app.extensions.get(EXTENSION_KEY) or VirtualminSettings()
    if not settings.enabled:
        return []
    return [
        PeriodicTask(name="virtualmin-run-due", task=tasks.RUN_DUE,
                     schedule=timedelta(minutes=1)),
        PeriodicTask(name="virtualmin-reconcile", task=tasks.RECONCILE,
                     schedule=timedelta(minutes=settings.reconcile_minutes)),
    ]


@hookimpl
def register_cli_commands() -> list[Any]:
    """``praho virtualmin failed|retry|run-due|reconcile``."""
    from praho.plugins.virtualmin.cli import virtualmin_group

    return [virtualmin_group]


@hookimpl
def register_admin_views(admin: Any, session: Any) -> list[Any]:
    """Provisioning actions (retry), hosting accounts and reconciliation findings."""
    from praho.plugins.virtualmin.admin_views import admin_views

    return admin_views(session)
