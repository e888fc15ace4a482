"""One rate limiter for every public HTTP surface (Flask-Limiter).

The limiter's storage is ``PRAHO_RATELIMIT_STORAGE_URI``: ``memory://`` for one process,
Redis in production so limits hold across gunicorn workers and machines. Each surface
has its own limit setting, read when the request arrives so tests and operators can
change it without code:

- ``PRAHO_RATELIMIT_WEBHOOKS`` (default ``3000 per minute``): *refused* deliveries per
  source and client address (:mod:`praho.core.webhooks.refusals`); verified deliveries are
  never throttled.
- ``PRAHO_RATELIMIT_USAGE_API`` (default ``600 per minute``), per API key (hashed), the
  key read by :func:`bearer_token` exactly as the usage API reads it (any case of
  ``Bearer``), so a caller cannot get a fresh budget by respelling the header; requests
  without a key are counted per client address.
- ``PRAHO_RATELIMIT_LOGIN`` (default ``10 per minute; 50 per hour``), per client address.

Use the decorators :func:`usage_api_limit` and :func:`login_limit`
on the view functions; a request over the limit gets 429 with a ``Retry-After`` header.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, jsonify, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

DEFAULTS = {
    "RATELIMIT_WEBHOOKS": "3000 per minute",
    "RATELIMIT_USAGE_API": "600 per minute",
    "RATELIMIT_LOGIN": "10 per minute; 50 per hour",
}


def rate_limited_response(message: str, *, retry_after: int | None = None) -> Any:
    """The 429 every surface answers: ``{"error": "rate_limited", "message": ...}``."""
    response = jsonify(error="rate_limited", message=message)
    response.status_code = 429
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _too_many(limit: RequestLimit) -> Any:
    # Flask-Limiter adds Retry-After itself.
    return rate_limited_response(f"too many requests: limit {limit.limit} exceeded, retry later")


limiter = Limiter(
    key_func=get_remote_address,
    default_limits=[],
    headers_enabled=True,
    strategy="moving-window",
    on_breach=_too_many,
)


def init_rate_limits(app: Flask) -> None:
    """Bind the limiter to ``app`` with the configured storage and surface limits."""
    for name, default in DEFAULTS.items():
        app.config.setdefault(name, default)
    app.config["RATELIMIT_STORAGE_URI"] = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config.get(name) or DEFAULTS[name]


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None when there is none.

    The scheme is matched case-insensitively (RFC 7235: ``bearer`` and ``BEARER`` are the
    same scheme) and the token is trimmed. The usage API authenticates with this function
    and the rate limiter keys on it: one parser, so the limiter's idea of who is calling
    can never differ from the API's (a case-sensitive copy here once let every spelling of
    ``Bearer`` have its own budget).
    """
    if not header or header[:7].lower() != "bearer ":
        return None
    return header[7:].strip() or None


def _api_key_identity() -> str:
    """The caller's API key, hashed (never kept in the limiter's storage in clear).

    Without a bearer token the API answers 401 whatever else is sent, so such requests
    share their client address's budget (an ``X-Api-Key`` header used to pick the bucket,
    which let a caller without a key rotate it for fresh budgets).
    """
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        return "anonymous:" + get_remote_address()
    return "key:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def usage_api_limit(view: Callable[..., Any]) -> Callable[..., Any]:
    """Limit the usage ingestion API per API key."""
    return limiter.limit(_setting("RATELIMIT_USAGE_API"), key_func=_api_key_identity,
                         scope="usage_api")(view)


def login_limit(view: Callable[..., Any]) -> Callable[..., Any]:
    """Limit login attempts per client address (only POSTs count: showing the form is free)."""
    return limiter.limit(_setting("RATELIMIT_LOGIN"), scope="login",
                         methods=["POST"])(view)
