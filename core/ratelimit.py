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

import functools
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


# Blueprints whose requests Flask-Limiter never looks at (see skip_blueprint).
_SKIPPED_BLUEPRINTS: set[str] = set()


def skip_blueprint(name: str) -> None:
    """Keep Flask-Limiter off blueprint ``name``'s requests entirely.

    For a surface that limits itself and is called far more often than the others (the
    webhook endpoint counts its refusals itself, :mod:`praho.core.webhooks.refusals`): a
    request filter would still pay for Flask-Limiter's set-up before and after every
    request, which together cost more than verifying a webhook delivery. Limits declared
    on a view with a decorator would still apply; such a blueprint should declare none.
    """
    _SKIPPED_BLUEPRINTS.add(name)


def _unless_skipped(hook: Callable[..., Any], *, after: bool) -> Callable[..., Any]:
    """``hook`` run only for requests outside the skipped blueprints."""

    @functools.wraps(hook)
    def guarded(*args: Any) -> Any:
        if request.blueprint in _SKIPPED_BLUEPRINTS:
            return args[0] if after else None  # an after-request hook passes the response on
        return hook(*args)

    return guarded


def init_rate_limits(app: Flask) -> None:
    """Bind the limiter to ``app`` with the configured storage and surface limits."""
    for name, default in DEFAULTS.items():
        app.config.setdefault(name, default)
    app.config["RATELIMIT_STORAGE_URI"] = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    registries = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
    counts = [len(registry.get(None, ())) for registry in registries]
    limiter.init_app(app)
    # Flask-Limiter has no switch for "not this blueprint" short of a request filter, which
    # runs inside its hooks: put the hooks it just registered behind the skip list.
    for registry, count in zip(registries, counts, strict=True):
        hooks = registry.setdefault(None, [])
        hooks[count:] = [
            _unless_skipped(hook, after=registry is app.after_request_funcs)
            for hook in hooks[count:]
        ]


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
