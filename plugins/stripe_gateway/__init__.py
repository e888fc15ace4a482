"""Stripe gateway plugin (``stripe_gateway``): PaymentIntents, SetupIntents, refunds, webhooks.

Registers the ``stripe`` payment gateway (gateway.py) and the ``stripe`` webhook source
mounted at ``/webhooks/stripe`` (webhook.py, handlers.py). Every Stripe call lives in
stripe_api.py, including ``send_meter_event`` for the metering plugin. Settings come from
``PRAHO_STRIPE_SECRET_KEY``, ``PRAHO_STRIPE_WEBHOOK_SECRET`` and ``PRAHO_STRIPE_API_BASE``
(see docs/gateways.md); testing.py is a local stand-in for Stripe's API.
"""

from __future__ import annotations

from typing import Any

from praho.core.hookspecs import hookimpl
from praho.plugins.stripe_gateway.gateway import StripeGateway
from praho.plugins.stripe_gateway.settings import EXTENSION_KEY, parse_settings
from praho.plugins.stripe_gateway.webhook import StripeWebhookSource


@hookimpl
def plugin_configured(app: Any, name: str, settings: dict[str, Any]) -> None:
    """Parse and keep the settings; a bad value stops start-up with the setting's name."""
    app.extensions[EXTENSION_KEY] = parse_settings(settings)


@hookimpl
def register_payment_gateways() -> list[Any]:
    """The ``stripe`` gateway."""
    return [StripeGateway()]


@hookimpl
def register_webhook_sources() -> list[Any]:
    """The ``stripe`` webhook source (``/webhooks/stripe``)."""
    return [StripeWebhookSource()]
