"""Celery task: fetch the BNR feed (scheduled by beat through ``register_periodic_tasks``)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from praho.core.clock import utcnow
from praho.core.tasks import task_transaction
from praho.plugins.bnr_rates.service import fetch_rates
from praho.plugins.bnr_rates.settings import current_settings

TASK_NAME = "praho.plugins.bnr_rates.fetch_rates"
logger = logging.getLogger("praho.bnr_rates")


@shared_task(name=TASK_NAME)
def fetch_bnr_rates(url: str | None = None) -> dict[str, Any]:
    """Fetch and store today's rates; a failure is logged and the stored rates are kept."""
    with task_transaction() as session:
        fetch = fetch_rates(session, settings=current_settings(), url=url, now=utcnow())
        summary = {
            "ok": fetch.ok,
            "url": fetch.url,
            "error": fetch.error,
            "last_rate_date": fetch.last_rate_date.isoformat() if fetch.last_rate_date else None,
            "rates_added": fetch.rates_added,
        }
    if fetch.ok:
        logger.info(
            "BNR rates fetched: %s new, newest banking day %s",
            fetch.rates_added,
            fetch.last_rate_date,
        )
    else:
        logger.warning("BNR rates fetch failed (%s): %s", fetch.error_code, fetch.error)
    return summary
