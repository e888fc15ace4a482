"""``POST /webhooks/<source id>``: the HTTP face of the pipeline (parse input, call, render).

The raw body is read with a hard cap before anything else, so an oversized delivery is
refused without being held in memory. A verified delivery is recorded (one statement,
committed at once) and answered 200, new (``received``) or ``duplicate``: the gateway must
not redeliver an event we hold. The workers then apply it (:mod:`.wakeup`). Refusals
carry a reason; nothing is written for them. Only refusals count against the rate limit
(:mod:`.refusals`): over it, a refusal is answered 429; a verified delivery never is.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_limiter.util import get_remote_address
from praho.core.ratelimit import rate_limited_response, skip_blueprint
from praho.core.webhooks import refusals
from praho.core.webhooks.pipeline import record_webhook, webhook_sources
from praho.core.webhooks.source import WebhookRejected
from praho.core.webhooks.verification import DEFAULT_MAX_BODY_BYTES
from praho.core.webhooks.wakeup import request_apply
from werkzeug.exceptions import RequestEntityTooLarge

logger = logging.getLogger("praho.webhooks")
webhooks_blueprint = Blueprint("praho_webhooks", __name__, url_prefix="/webhooks")


# Webhooks count their refusals themselves (.refusals): Flask-Limiter has nothing to
# count here, and its per-request check costs more than verifying a delivery.
skip_blueprint(webhooks_blueprint.name)


def _read_body(max_bytes: int) -> bytes:
    if request.content_length is not None and request.content_length > max_bytes:
        raise WebhookRejected(
            f"body of {request.content_length} bytes exceeds the limit of {max_bytes}",
            http_status=413,
        )
    try:
        body = request.stream.read(max_bytes + 1)
    except RequestEntityTooLarge:
        raise WebhookRejected(
            f"body exceeds the limit of {max_bytes} bytes", http_status=413
        ) from None
    if len(body) > max_bytes:
        raise WebhookRejected(f"body exceeds the limit of {max_bytes} bytes", http_status=413)
    return body


@webhooks_blueprint.post("/<source>")
def receive(source: str) -> Any:
    """Record one delivery (its own transaction), answer, and wake the workers."""
    source_id = source
    found = webhook_sources().get(source_id)
    if found is None:
        return jsonify(
            {"error": "unknown_source", "message": f"no webhook source {source_id!r}"}
        ), 404
    max_bytes = int(current_app.config.get("WEBHOOK_MAX_BYTES") or DEFAULT_MAX_BODY_BYTES)
    database = current_app.extensions["praho.db"]
    try:
        body = _read_body(max_bytes)
        outcome = record_webhook(database, found, request.headers, body, max_bytes=max_bytes)
    except WebhookRejected as exc:
        # Only the reason and the source: never the body or the headers (signatures, PII).
        wait = refusals.refused(source_id, get_remote_address())
        if wait is not None:
            return rate_limited_response(
                "too many refused deliveries from this address, retry later", retry_after=wait
            )
        logger.info("webhook %s refused (%d): %s", source_id, exc.http_status, exc.reason)
        return jsonify({"error": "rejected", "message": exc.reason}), exc.http_status
    # After a duplicate too: a redelivery of an event left waiting is a reason to look.
    request_apply()
    return current_app.response_class(
        _acknowledgement(outcome.status, outcome.duplicate), mimetype="application/json"
    )


@functools.lru_cache(maxsize=16)
def _acknowledgement(status: str, duplicate: bool) -> bytes:
    # Every answer to a verified delivery is one of a few bodies: written once, not per
    # request.
    return json.dumps(
        {"received": True, "status": status, "duplicate": duplicate}, separators=(",", ":")
    ).encode()
