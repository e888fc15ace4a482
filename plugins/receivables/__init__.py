"""Receivables plugin (``receivables``): wires collections into the billing life cycle.

The services live in the core (:mod:`praho.core.services.customer_credit`,
:mod:`praho.core.services.collections`, :mod:`praho.core.services.refunds`); this
plugin connects them to events, the scheduler and the command line:

* ``invoice_paid``: the invoice's dunning case closes and what non-payment caused
  (past due, a suspension for non-payment) is lifted;
* ``payment_failed``: the failed charge opens (or advances) the invoice's dunning case;
* ``praho collections run [--date]`` and a nightly beat entry (03:30 Bucharest time,
  after the billing run) run the collection run (which first applies waiting customer
  credit to unpaid invoices).

Credit is not applied from ``invoice_issued``: the billing run's collection already
charges credit first (``charge_invoice``), and applying it at issue too would take the
payment layer's job; the nightly run covers invoices issued outside the billing run.

Disabling the plugin in plugin_manifest.toml turns all of that off; the services stay
available to the back office.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab
from praho.core.clock import resolve_now
from praho.core.hookspecs import hookimpl
from praho.core.services.dunning import settle_invoice
from praho.core.services.dunning_retries import open_case_for_failed_attempt
from praho.core.tasks import PeriodicTask
from praho.plugins.receivables import tasks


@hookimpl
def invoice_paid(session: Any, invoice: Any) -> None:
    """Close the invoice's dunning case and reactivate what was held for non-payment."""
    settle_invoice(session, invoice, now=invoice.updated_at or resolve_now(None))


@hookimpl
def payment_failed(session: Any, attempt: Any) -> None:
    """A failed charge opens the invoice's dunning case (a hard decline asks the customer
    to act at once); a failed dunning retry finds its case already open."""
    open_case_for_failed_attempt(session, attempt)


@hookimpl
def register_cli_commands() -> list[Any]:
    """``praho collections ...``."""
    from praho.plugins.receivables.cli import collections_group

    return [collections_group]


@hookimpl
def register_periodic_tasks(app: Any) -> list[Any]:
    """The nightly collection run, after the billing run of 02:00."""
    return [PeriodicTask(name="collections-run-daily", task=tasks.RUN_TASK,
                         schedule=crontab(hour=3, minute=30))]
