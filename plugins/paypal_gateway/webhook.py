"""PayPal's inbound events: headers, replay window, signature (offline or online), parsing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from praho.core.webhooks.source import ParsedEvent, WebhookHandler, WebhookRejected
from praho.core.webhooks.verification import check_timestamp, parse_json_body
from praho.plugins.paypal_gateway.settings import current_settings
from praho.plugins.paypal_gateway.verification import verify_offline, verify_online

REQUIRED_HEADERS = (
    "PAYPAL-TRANSMISSION-ID",
    "PAYPAL-TRANSMISSION-TIME",
    "PAYPAL-TRANSMISSION-SIG",
    "PAYPAL-CERT-URL",
    "PAYPAL-AUTH-ALGO",
)


def parse_time(text: str) -> datetime:
    """An RFC 3339 timestamp as an aware UTC datetime; WebhookRejected when it is not one."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise WebhookRejected("PAYPAL-TRANSMISSION-TIME is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise WebhookRejected("PAYPAL-TRANSMISSION-TIME has no time zone")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00:00+01:00 has no UTC equivalent (this was a 500 before).
        raise WebhookRejected("PAYPAL-TRANSMISSION-TIME is out of range") from None


class PayPalWebhookSource:
    """The ``paypal`` webhook source, mounted at ``/webhooks/paypal``."""

    id = "paypal"

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        """Headers present, transmission time inside the window, then the signature."""
        settings = current_settings()
        if not settings.webhook_id:
            raise WebhookRejected(
                "PayPal webhooks are disabled: PRAHO_PAYPAL_WEBHOOK_ID is not set", http_status=503
            )
        missing = [name for name in REQUIRED_HEADERS if not headers.get(name)]
        if missing:
            raise WebhookRejected(f"missing PayPal headers: {', '.join(missing)}")
        if len(headers["PAYPAL-TRANSMISSION-ID"]) > 100 or "|" in headers["PAYPAL-TRANSMISSION-ID"]:
            raise WebhookRejected("PAYPAL-TRANSMISSION-ID is not a transmission id")
        check_timestamp(
            parse_time(headers["PAYPAL-TRANSMISSION-TIME"]),
            now,
            window_seconds=settings.replay_window_seconds,
        )
        if settings.verification == "online":
            # The verify API needs the event as JSON; a body that is none is refused here.
            verify_online(headers, parse_json_body(body), settings)
        else:
            verify_offline(headers, body, settings, now)

    def parse(self, body: bytes) -> ParsedEvent:
        """A PayPal event (``id``, ``event_type``, ``resource``); 400 when it is not one."""
        document = parse_json_body(body)
        event_id, kind = document.get("id"), document.get("event_type")
        if (
            not isinstance(event_id, str)
            or not isinstance(kind, str)
            or not isinstance(document.get("resource"), dict)
        ):
            raise WebhookRejected(
                "body is not a PayPal event (id, event_type and resource are required)"
            )
        created = document.get("create_time")
        moment = None
        if isinstance(created, str):
            try:
                moment = parse_time(created)
            except WebhookRejected:
                moment = None
        return ParsedEvent(event_id=event_id, event_type=kind, created_at=moment, payload=document)

    def handlers(self) -> Mapping[str, WebhookHandler]:
        """Event handlers by type (see handlers.py)."""
        from praho.plugins.paypal_gateway.handlers import HANDLERS

        return HANDLERS


def event_resource(event: ParsedEvent) -> dict[str, Any]:
    """``resource`` of a PayPal event."""
    return dict(event.payload["resource"])
