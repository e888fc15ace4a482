"""Celery task: report new usage to Stripe meter events (beat, when a key is configured)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from praho.core.clock import utcnow
from praho.core.tasks import task_transaction
from praho.plugins.usage_metering.settings import current_settings
from praho.plugins.usage_metering.stripe_meters import StripeMeterEventClient, report_due

TASK_NAME = "praho.plugins.usage_metering.report_stripe"
logger = logging.getLogger("praho.usage_metering")


@shared_task(name=TASK_NAME)
def report_stripe_meter_events() -> dict[str, Any]:
    """Send each Stripe-linked meter's new events; failures stay for the next run.

    Events Stripe refused for good are recorded (back office: Usage > Stripe refusals)
    and logged; they are not sent again.
    """
    settings = current_settings()
    if not settings.stripe_api_key:
        return {"skipped": "no Stripe API key configured (PRAHO_USAGE_STRIPE_API_KEY)"}
    client = StripeMeterEventClient(
        settings.stripe_api_key,
        base_url=settings.stripe_api_url,
        timeout=settings.stripe_timeout_seconds,
    )
    with task_transaction() as session:
        results = report_due(session, client, now=utcnow())
        summary = {
            code: {
                "sent": r.sent,
                "skipped_no_customer": r.skipped_no_customer,
                "failed": len(r.failed),
                "refused": len(r.refused),
            }
            for code, r in results.items()
        }
        failures = [message for r in results.values() for message in r.failed[:3]]
        refusals = [message for r in results.values() for message in r.refused[:3]]
    for message in failures:
        logger.warning("Stripe meter event not reported (retried next run): %s", message)
    for message in refusals:
        logger.warning("Stripe meter event refused for good (recorded): %s", message)
    return summary
