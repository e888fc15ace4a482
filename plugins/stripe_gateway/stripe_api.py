"""Every call to Stripe, one small function each, through the ``stripe`` library's StripeClient.

The client is built from the settings (API base for stand-ins, timeout, no automatic network
retries: a retry decision belongs to the core, which settles unknown outcomes by asking).
Exceptions of the library are translated here, and only here, into the gateway contract:
a decline becomes :class:`CardDeclined` (turned into an ERROR result by the gateway), a
timeout, reset connection or 5xx becomes :class:`OutcomeUnknown`, and anything Stripe
refused before acting (bad parameters, idempotency conflict, rate limit, bad key)
becomes :class:`GatewayRefused`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import stripe
from praho.core.errors import PluginError
from praho.core.payments.gateway import GatewayRefused, OutcomeUnknown
from praho.plugins.stripe_gateway.settings import StripeSettings

# Declines that retrying the same card cannot fix: dunning stops and asks the customer.
# ``card_declined`` with a generic reason is treated as hard too (Stripe advises against
# retrying it off-session); only the reasons below are worth a later retry.
SOFT_DECLINES = frozenset(
    {
        "insufficient_funds",
        "processing_error",
        "try_again_later",
        "issuer_not_available",
        "reenter_transaction",
        "approve_with_id",
        "rate_limit",
        "withdrawal_count_limit_exceeded",
    }
)


class CardDeclined(Exception):
    """Stripe declined the payment (HTTP 402); carries the codes and the PaymentIntent."""

    def __init__(
        self,
        code: str,
        decline_code: str | None,
        message: str,
        payment_intent: Mapping[str, Any] | None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.decline_code = decline_code
        self.message = message
        self.payment_intent = dict(payment_intent or {})

    @property
    def hard(self) -> bool:
        """True when retrying the same method cannot succeed."""
        return (self.decline_code or self.code) not in SOFT_DECLINES


def client_for(settings: StripeSettings) -> stripe.StripeClient:
    """A StripeClient for the configured account; refuses when no secret key is set."""
    if not settings.secret_key:
        raise PluginError("stripe_gateway: PRAHO_STRIPE_SECRET_KEY is not set")
    return stripe.StripeClient(
        settings.secret_key,
        base_addresses={"api": settings.api_base},
        http_client=stripe.RequestsClient(timeout=settings.timeout_seconds),
        max_network_retries=0,
    )


def _call(
    operation: str, function: Any, params: dict[str, Any], idempotency_key: str | None = None
) -> Any:
    options: dict[str, Any] = {"idempotency_key": idempotency_key} if idempotency_key else {}
    try:
        answer = function(params=params, options=options)
    except stripe.CardError as exc:
        error = exc.error
        body = exc.json_body if isinstance(exc.json_body, dict) else {}
        details = body.get("error")
        intent = details.get("payment_intent") if isinstance(details, dict) else None
        intent = intent if isinstance(intent, dict) else None
        raise CardDeclined(
            str(exc.code or "card_declined"),
            getattr(error, "decline_code", None),
            exc.user_message or str(exc),
            intent,
        ) from None
    except stripe.IdempotencyError as exc:
        raise GatewayRefused(
            f"Stripe {operation}: {exc.user_message or exc}", code="idempotency_error"
        ) from None
    except stripe.APIConnectionError as exc:
        raise OutcomeUnknown(
            f"Stripe {operation}: no answer ({type(exc).__name__}); settle by asking",
            code="timeout",
        ) from None
    except stripe.RateLimitError:
        raise GatewayRefused(
            f"Stripe {operation}: rate limited, nothing done", code="rate_limited"
        ) from None
    except stripe.APIError as exc:
        # An unreadable 2xx (Stripe acted, we cannot tell how) is as unknown as a 5xx.
        if exc.http_status is None or exc.http_status >= 500 or exc.http_status < 400:
            raise OutcomeUnknown(
                f"Stripe {operation}: HTTP {exc.http_status}; settle by asking", code="server_error"
            ) from None
        raise GatewayRefused(
            f"Stripe {operation}: {exc.user_message or exc}", code="api_error"
        ) from None
    except stripe.StripeError as exc:
        # InvalidRequestError, AuthenticationError, PermissionError: refused before acting.
        raise GatewayRefused(
            f"Stripe {operation}: {exc.user_message or exc}",
            code=str(exc.code or type(exc).__name__),
        ) from None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        # The library itself choking on the answer (a body that is not UTF-8 raised
        # UnicodeDecodeError): whatever Stripe did, we cannot tell.
        raise OutcomeUnknown(
            f"Stripe {operation}: unreadable answer ({type(exc).__name__}); settle by asking",
            code="unreadable_answer",
        ) from None
    document = answer.to_dict() if hasattr(answer, "to_dict") else answer
    if not isinstance(document, dict):
        raise OutcomeUnknown(
            f"Stripe {operation}: the answer is not an object; settle by asking",
            code="unreadable_answer",
        )
    return document


EXPAND = ["latest_charge.balance_transaction"]


def create_payment_intent(
    settings: StripeSettings,
    *,
    idempotency_key: str,
    amount_minor: int,
    currency: str,
    customer: str | None,
    payment_method: str | None,
    capture: bool,
    description: str,
    metadata: Mapping[str, str],
) -> dict[str, Any]:
    """Create and confirm a PaymentIntent off-session; the attempt key is the Idempotency-Key."""
    params: dict[str, Any] = {
        "amount": amount_minor,
        "currency": currency.lower(),
        "confirm": True,
        "off_session": True,
        "capture_method": "automatic" if capture else "manual",
        "metadata": {**metadata, "praho_key": idempotency_key},
        "expand": EXPAND,
    }
    if customer:
        params["customer"] = customer
    if payment_method:
        params["payment_method"] = payment_method
    if description:
        params["description"] = description[:1000]
    return dict(
        _call(
            "create payment",
            client_for(settings).v1.payment_intents.create,
            params,
            idempotency_key,
        )
    )


def retrieve_payment_intent(settings: StripeSettings, intent_id: str) -> dict[str, Any]:
    """The PaymentIntent with its charge and balance transaction (for the fee)."""
    client = client_for(settings)
    return dict(
        _call(
            "retrieve payment",
            lambda params, options: client.v1.payment_intents.retrieve(intent_id, params, options),
            {"expand": EXPAND},
        )
    )


def find_payment_intent(settings: StripeSettings, idempotency_key: str) -> dict[str, Any] | None:
    """The PaymentIntent our attempt created, found by its ``praho_key`` metadata, or None."""
    found = _call(
        "search payments",
        client_for(settings).v1.payment_intents.search,
        {"query": f"metadata['praho_key']:'{idempotency_key}'", "limit": 1},
    )
    data = found.get("data") or []
    if not data:
        return None
    first = data[0] if isinstance(data, list) else None
    if not isinstance(first, dict) or not isinstance(first.get("id"), str):
        raise OutcomeUnknown("Stripe search payments: unreadable answer", code="unreadable_answer")
    return retrieve_payment_intent(settings, first["id"])


def capture_payment_intent(
    settings: StripeSettings, intent_id: str, *, amount_minor: int, idempotency_key: str
) -> dict[str, Any]:
    """Capture an authorized PaymentIntent."""
    client = client_for(settings)
    return dict(
        _call(
            "capture",
            lambda params, options: client.v1.payment_intents.capture(intent_id, params, options),
            {"amount_to_capture": amount_minor, "expand": EXPAND},
            idempotency_key,
        )
    )


def cancel_payment_intent(
    settings: StripeSettings, intent_id: str, *, idempotency_key: str
) -> dict[str, Any]:
    """Cancel an uncaptured PaymentIntent (void)."""
    client = client_for(settings)
    return dict(
        _call(
            "void",
            lambda params, options: client.v1.payment_intents.cancel(intent_id, params, options),
            {"cancellation_reason": "requested_by_customer"},
            idempotency_key,
        )
    )


def create_refund(
    settings: StripeSettings,
    *,
    idempotency_key: str,
    payment_intent: str,
    amount_minor: int,
    reason: str,
    metadata: Mapping[str, str],
) -> dict[str, Any]:
    """Refund (part of) a PaymentIntent's charge."""
    params: dict[str, Any] = {
        "payment_intent": payment_intent,
        "amount": amount_minor,
        "metadata": {**metadata, "praho_key": idempotency_key},
    }
    if reason in ("duplicate", "fraudulent", "requested_by_customer"):
        params["reason"] = reason
    return dict(_call("refund", client_for(settings).v1.refunds.create, params, idempotency_key))


def retrieve_refund(settings: StripeSettings, refund_id: str) -> dict[str, Any]:
    """A refund by id."""
    client = client_for(settings)
    return dict(
        _call(
            "retrieve refund",
            lambda params, options: client.v1.refunds.retrieve(refund_id, params, options),
            {},
        )
    )


def retrieve_setup_intent(settings: StripeSettings, setup_intent_id: str) -> dict[str, Any]:
    """A SetupIntent with its payment method expanded (brand, last4, expiry)."""
    client = client_for(settings)
    return dict(
        _call(
            "retrieve setup",
            lambda params, options: client.v1.setup_intents.retrieve(
                setup_intent_id, params, options
            ),
            {"expand": ["payment_method"]},
        )
    )


def detach_payment_method(settings: StripeSettings, method_id: str) -> dict[str, Any]:
    """Detach a payment method from its customer."""
    client = client_for(settings)
    return dict(
        _call(
            "detach method",
            lambda params, options: client.v1.payment_methods.detach(method_id, params, options),
            {},
        )
    )


def send_meter_event(
    settings: StripeSettings,
    *,
    event_name: str,
    identifier: str,
    stripe_customer_id: str,
    value: int | str,
    timestamp: datetime,
) -> dict[str, Any]:
    """Report usage to a Stripe meter (``POST /v1/billing/meter_events``).

    ``identifier`` is our usage event's key: Stripe refuses a second event with the same one
    (kept at least 24 h), so a retried report never counts twice. For the metering plugin.
    """
    params = {
        "event_name": event_name,
        "identifier": identifier,
        "timestamp": int(timestamp.timestamp()),
        "payload": {"stripe_customer_id": stripe_customer_id, "value": str(value)},
    }
    return dict(
        _call(
            "meter event", client_for(settings).v1.billing.meter_events.create, params, identifier
        )
    )
