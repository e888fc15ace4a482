"""Stripe's inbound events: our own signature verifier, the parser and the handler table.

The verifier does not use ``stripe.Webhook.construct_event``: that function accepts future
timestamps, skips the timestamp check when no tolerance is passed and raises a JSON error
for a signed non-JSON body. Ours checks ``Stripe-Signature: t=...,v1=...[,v1=...]`` against
``HMAC-SHA256(secret, f"{t}.{raw body}")`` for every configured secret and every ``v1``
value (rotation), compares in constant time, ignores ``v0``, and refuses timestamps outside
the replay window in either direction.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from praho.core.webhooks.source import (
    ParsedEvent,
    WebhookBatchHandler,
    WebhookHandler,
    WebhookRejected,
)
from praho.core.webhooks.verification import (
    DEFAULT_MAX_BODY_BYTES,
    check_timestamp,
    parse_json_body,
)
from praho.plugins.stripe_gateway.settings import current_settings

SIGNATURE_HEADER = "Stripe-Signature"
MAX_HEADER_LENGTH = 4096


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """``t`` and the ``v1`` signatures of a Stripe-Signature header; refuse anything else."""
    if not header:
        raise WebhookRejected("missing Stripe-Signature header")
    if len(header) > MAX_HEADER_LENGTH:
        raise WebhookRejected("Stripe-Signature header too long")
    stamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        name, separator, value = item.strip().partition("=")
        if not separator:
            continue
        if name == "t":
            stamps.append(value)
        elif name == "v1":
            signatures.append(value.strip().lower())
    if len(stamps) != 1 or not stamps[0].isdigit() or len(stamps[0]) > 12:
        raise WebhookRejected("Stripe-Signature header has no valid timestamp")
    if not signatures:
        raise WebhookRejected("Stripe-Signature header has no v1 signature")
    return int(stamps[0]), signatures


def signature_matches(
    secrets: tuple[str, ...], stamp: int, body: bytes, signatures: list[str]
) -> bool:
    """True when any v1 signature is the HMAC of ``f"{t}.{body}"`` under any secret."""
    signed = str(stamp).encode() + b"." + body
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
        for candidate in signatures:
            # No early exit: every comparison runs, so timing says nothing about which matched.
            matched |= hmac.compare_digest(expected.encode(), candidate.encode("ascii", "replace"))
    return matched


def _created_at(created: Any) -> datetime | None:
    """``created`` as a datetime; None when it is not a usable Unix time (huge, negative, bool)."""
    if isinstance(created, bool) or not isinstance(created, int):
        return None
    try:
        return datetime.fromtimestamp(created, UTC)
    except (OverflowError, ValueError, OSError):
        return None


class StripeWebhookSource:
    """The ``stripe`` webhook source, mounted at ``/webhooks/stripe``."""

    id = "stripe"

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        """Signature over the raw bytes, then the replay window (past and future)."""
        settings = current_settings()
        if not settings.webhook_secrets:
            raise WebhookRejected(
                "Stripe webhooks are disabled: PRAHO_STRIPE_WEBHOOK_SECRET is not set",
                http_status=503,
            )
        stamp, signatures = parse_signature_header(headers.get(SIGNATURE_HEADER) or "")
        if not signature_matches(settings.webhook_secrets, stamp, body, signatures):
            raise WebhookRejected("Stripe-Signature does not match the body")
        try:
            signed_at = datetime.fromtimestamp(stamp, UTC)
        except (OverflowError, ValueError, OSError):
            # t=999999999999 is past year 9999 (this was a 500 before).
            raise WebhookRejected("Stripe-Signature timestamp is out of range") from None
        check_timestamp(signed_at, now, window_seconds=settings.replay_window_seconds)

    def parse(self, body: bytes) -> ParsedEvent:
        """A Stripe event object; 400 when the body is not one."""
        document = parse_json_body(body, max_bytes=DEFAULT_MAX_BODY_BYTES * 4)
        event_id, kind = document.get("id"), document.get("type")
        if (
            document.get("object") != "event"
            or not isinstance(event_id, str)
            or not isinstance(kind, str)
        ):
            raise WebhookRejected("body is not a Stripe event (object, id and type are required)")
        data = document.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
            raise WebhookRejected("Stripe event has no data.object")
        return ParsedEvent(
            event_id=event_id,
            event_type=kind,
            created_at=_created_at(document.get("created")),
            payload=document,
        )

    def handlers(self) -> Mapping[str, WebhookHandler]:
        """Event handlers by type (see handlers.py)."""
        from praho.plugins.stripe_gateway.handlers import HANDLERS

        return HANDLERS

    def batch_handlers(self) -> Mapping[str, WebhookBatchHandler]:
        """Handlers of consecutive events of one type (see handlers.py)."""
        from praho.plugins.stripe_gateway.handlers import BATCH_HANDLERS

        return BATCH_HANDLERS


def event_object(event: ParsedEvent) -> dict[str, Any]:
    """``data.object`` of a Stripe event."""
    return dict(event.payload["data"]["object"])
