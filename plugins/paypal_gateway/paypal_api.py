"""Every call to PayPal's REST API: OAuth token (cached), Orders v2, captures, refunds, verify.

Money-moving POSTs carry ``PayPal-Request-Id`` = our attempt key, so PayPal answers a
repeated request with the stored result instead of acting twice. Redirects are never
followed. A timeout, a reset connection or a 5xx after sending is :class:`OutcomeUnknown`;
a 4xx other than the business errors callers interpret (422 issues) is
:class:`GatewayRefused`; a 401 refreshes the token once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from praho.core.errors import PluginError
from praho.core.payments.gateway import GatewayRefused, OutcomeUnknown
from praho.core.validation import external_text
from praho.plugins.paypal_gateway.settings import PayPalSettings

USER_AGENT = "PRAHO-Billing/1 (+payments)"
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


@dataclass(frozen=True)
class PayPalAnswer:
    """An HTTP answer PayPal gave (status and JSON body)."""

    status: int
    body: dict[str, Any]

    @property
    def issue(self) -> str | None:
        """The first ``details[].issue`` of an error (``ORDER_ALREADY_CAPTURED``...)."""
        details = self.body.get("details")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            return external_text(details[0].get("issue") or "", max_length=80) or None
        return external_text(self.body.get("name") or "", max_length=80) or None


def _credentials(settings: PayPalSettings) -> tuple[str, str]:
    if not settings.client_id or not settings.client_secret:
        raise PluginError(
            "paypal_gateway: PRAHO_PAYPAL_CLIENT_ID and PRAHO_PAYPAL_CLIENT_SECRET must be set"
        )
    return settings.client_id, settings.client_secret


def access_token(settings: PayPalSettings, *, refresh: bool = False) -> str:
    """A client-credentials access token, cached until a minute before it expires."""
    client_id, client_secret = _credentials(settings)
    cache_key = (settings.api_base, client_id)
    with _TOKENS_LOCK:
        cached = _TOKENS.get(cache_key)
        if cached and not refresh and cached[1] > time.monotonic():
            return cached[0]
    try:
        response = requests.post(
            f"{settings.api_base}/v1/oauth2/token",
            auth=(client_id, client_secret),
            data={"grant_type": "client_credentials"},
            timeout=settings.timeout_seconds,
            allow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
    except requests.RequestException as exc:
        raise GatewayRefused(
            f"PayPal token: {type(exc).__name__}", code="token_unavailable"
        ) from None
    if response.status_code != 200:
        raise GatewayRefused(f"PayPal token: HTTP {response.status_code}", code="token_refused")
    try:
        body = response.json()
        token = body["access_token"]
        expires_in = body.get("expires_in", 0)
        if not isinstance(token, str) or not 0 < len(token) <= 4096 or not token.isprintable():
            raise ValueError("access_token is not a token")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int):
            raise ValueError("expires_in is not a whole number")
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise GatewayRefused("PayPal token: unreadable answer", code="token_refused") from None
    lifetime = min(max(expires_in - 60, 0), 86_400)
    with _TOKENS_LOCK:
        _TOKENS[cache_key] = (token, time.monotonic() + lifetime)
    return token


def call(
    settings: PayPalSettings,
    method: str,
    path: str,
    *,
    json_body: dict[str, Any] | None = None,
    request_id: str | None = None,
    operation: str,
) -> PayPalAnswer:
    """One API request; raises OutcomeUnknown / GatewayRefused, returns 2xx and 422 answers."""
    for attempt in (1, 2):
        headers = {
            "Authorization": f"Bearer {access_token(settings, refresh=attempt == 2)}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Prefer": "return=representation",
            "User-Agent": USER_AGENT,
        }
        if request_id:
            headers["PayPal-Request-Id"] = request_id
        try:
            response = requests.request(
                method,
                f"{settings.api_base}{path}",
                json=json_body,
                headers=headers,
                timeout=settings.timeout_seconds,
                allow_redirects=False,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            if method == "GET":
                raise GatewayRefused(
                    f"PayPal {operation}: {type(exc).__name__}", code="unavailable"
                ) from None
            raise OutcomeUnknown(
                f"PayPal {operation}: no answer ({type(exc).__name__}); settle by asking",
                code="timeout",
            ) from None
        if response.status_code == 401 and attempt == 1:
            continue
        break
    try:
        body = response.json() if response.content else {}
    except (ValueError, RecursionError):  # deep nesting made json raise RecursionError (500)
        body = {}
    answer = PayPalAnswer(response.status_code, body if isinstance(body, dict) else {})
    if response.status_code >= 500:
        if method == "GET":
            raise GatewayRefused(
                f"PayPal {operation}: HTTP {response.status_code}", code="unavailable"
            )
        raise OutcomeUnknown(
            f"PayPal {operation}: HTTP {response.status_code}; settle by asking",
            code="server_error",
        )
    if response.status_code in (200, 201, 202, 204, 422):
        return answer
    # A 404 is "resource_not_found" whatever issue PayPal names (INVALID_RESOURCE_ID, ...).
    code = (
        "resource_not_found"
        if response.status_code == 404
        else (answer.issue or f"http_{response.status_code}")
    )
    raise GatewayRefused(
        f"PayPal {operation}: HTTP {response.status_code} {answer.issue or ''}".strip(),
        code=code.lower(),
    )


def create_order(
    settings: PayPalSettings, *, request_id: str, body: dict[str, Any]
) -> PayPalAnswer:
    """``POST /v2/checkout/orders``."""
    return call(
        settings,
        "POST",
        "/v2/checkout/orders",
        json_body=body,
        request_id=request_id,
        operation="create order",
    )


def capture_order(settings: PayPalSettings, order_id: str, *, request_id: str) -> PayPalAnswer:
    """``POST /v2/checkout/orders/{id}/capture``."""
    return call(
        settings,
        "POST",
        f"/v2/checkout/orders/{order_id}/capture",
        json_body={},
        request_id=request_id,
        operation="capture order",
    )


def get_order(settings: PayPalSettings, order_id: str) -> PayPalAnswer:
    """``GET /v2/checkout/orders/{id}``."""
    return call(settings, "GET", f"/v2/checkout/orders/{order_id}", operation="get order")


def get_capture(settings: PayPalSettings, capture_id: str) -> PayPalAnswer:
    """``GET /v2/payments/captures/{id}``."""
    return call(settings, "GET", f"/v2/payments/captures/{capture_id}", operation="get capture")


def refund_capture(
    settings: PayPalSettings, capture_id: str, *, request_id: str, body: dict[str, Any]
) -> PayPalAnswer:
    """``POST /v2/payments/captures/{id}/refund``."""
    return call(
        settings,
        "POST",
        f"/v2/payments/captures/{capture_id}/refund",
        json_body=body,
        request_id=request_id,
        operation="refund",
    )


def get_refund(settings: PayPalSettings, refund_id: str) -> PayPalAnswer:
    """``GET /v2/payments/refunds/{id}``."""
    return call(settings, "GET", f"/v2/payments/refunds/{refund_id}", operation="get refund")


def verify_webhook_signature(settings: PayPalSettings, body: dict[str, Any]) -> PayPalAnswer:
    """``POST /v1/notifications/verify-webhook-signature`` (online verification)."""
    return call(
        settings,
        "POST",
        "/v1/notifications/verify-webhook-signature",
        json_body=body,
        operation="verify webhook",
    )
