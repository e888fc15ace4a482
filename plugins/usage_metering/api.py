"""``POST /api/usage/events``: batch ingestion over HTTP, authenticated by API key.

Request: ``Authorization: Bearer pk_usage_...`` and a JSON body ``{"events": [...]}``
(at most ``max_batch_events``, 1,000 by default). Answers:

* 200 with per-event outcomes when at least one event was stored or was a duplicate
  (``accepted``, ``duplicates``, ``rejected`` with index, id, reason and message);
* 422 with the same body when every event was rejected (nothing written);
* 400 for a body that is not the expected JSON, 401 for a bad key, 413 for too many
  events or too many bytes, 429 over the rate limit (``PRAHO_RATELIMIT_USAGE_API``,
  per API key); nothing is written for any of these.

The view parses and authenticates, calls :func:`record_usage_events` once in one
transaction, and renders.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from praho.core.clock import utcnow
from praho.core.jsoninput import JSONInputError, parse_limited
from praho.core.ratelimit import bearer_token, usage_api_limit
from praho.plugins.usage_metering.api_keys import authenticate
from praho.plugins.usage_metering.ingestion import record_usage_events
from praho.plugins.usage_metering.settings import current_settings

# The application's own limit (PRAHO_MAX_CONTENT_LENGTH, 2 MiB) applies first; 1,000
# events of typical size take about 200 KB.
MAX_BODY_BYTES = 2 * 1024 * 1024

usage_api = Blueprint("usage_api", __name__, url_prefix="/api/usage")


def _error(status: int, code: str, message: str) -> Any:
    return jsonify({"error": code, "message": message}), status


@usage_api.post("/events")
@usage_api_limit  # per API key: PRAHO_RATELIMIT_USAGE_API (429 with Retry-After)
def post_events() -> Any:
    """Store a batch of usage events; see the module docstring for the answers."""
    # The same parser the rate limiter keys on (any case of "Bearer").
    key = bearer_token(request.headers.get("Authorization"))
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _error(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")
    database = current_app.extensions["praho.db"]
    with database.transaction() as session:
        api_key = authenticate(session, key)
        customer_id = api_key.customer_id
    try:
        body = parse_limited(request.get_data(cache=False), max_bytes=MAX_BODY_BYTES, max_depth=8)
    except JSONInputError as error:
        return _error(400, "invalid_json", error.message)
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or set(body) - {"events"}:
        return _error(400, "invalid_body", 'expected {"events": [...]} and nothing else')
    settings = current_settings()
    if len(events) > settings.max_batch_events:
        return _error(
            413,
            "too_many_events",
            f"{len(events)} events; at most {settings.max_batch_events} per request",
        )
    with database.transaction() as session:
        result = record_usage_events(
            session, events, customer_id=customer_id, now=utcnow(), settings=settings
        )
    status = 422 if events and not result.accepted and not result.duplicates else 200
    return jsonify(result.as_dict()), status
