"""PayPal gateway plugin (``paypal_gateway``): Orders v2, refunds, verified webhooks.

Registers the ``paypal`` payment gateway (gateway.py) and the ``paypal`` webhook source at
``/webhooks/paypal`` (webhook.py, verification.py, handlers.py). Every PayPal call lives in
paypal_api.py. Settings come from ``PRAHO_PAYPAL_CLIENT_ID``, ``PRAHO_PAYPAL_CLIENT_SECRET``,
``PRAHO_PAYPAL_WEBHOOK_ID`` and ``PRAHO_PAYPAL_API_BASE`` (docs/gateways.md); testing.py is
a local stand-in for PayPal's API and certificate host, pki.py a throw-away CA for tests.
"""

from __future__ import annotations

from typing import Any

from praho.core.hookspecs import hookimpl
from praho.plugins.paypal_gateway.gateway import PayPalGateway
from praho.plugins.paypal_gateway.settings import EXTENSION_KEY, parse_settings
from praho.plugins.paypal_gateway.webhook import PayPalWebhookSource


@hookimpl
def plugin_configured(app: Any, name: str, settings: dict[str, Any]) -> None:
    """Parse and keep the settings; a bad value stops start-up with the setting's name."""
    app.extensions[EXTENSION_KEY] = parse_settings(settings)


@hookimpl
def register_payment_gateways() -> list[Any]:
    """The ``paypal`` gateway."""
    return [PayPalGateway()]


@hookimpl
def register_webhook_sources() -> list[Any]:
    """The ``paypal`` webhook source (``/webhooks/paypal``)."""
    return [PayPalWebhookSource()]
