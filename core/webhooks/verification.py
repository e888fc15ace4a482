"""Checks every webhook source shares: the replay window and JSON bodies parsed safely."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from praho.core.jsoninput import JSONInputError, parse_limited
from praho.core.webhooks.source import WebhookRejected

DEFAULT_REPLAY_WINDOW_SECONDS = 180
DEFAULT_MAX_BODY_BYTES = 256 * 1024


def check_timestamp(signed_at: datetime, now: datetime, *, window_seconds: int) -> None:
    """Refuse a delivery signed more than ``window_seconds`` before or after ``now``.

    Future timestamps are refused too: a clock that runs ahead, or an attacker who signs
    for later, must not stretch the replay window.
    """
    window = timedelta(seconds=window_seconds)
    if signed_at < now - window:
        raise WebhookRejected(
            f"timestamp {signed_at.isoformat()} is older than the {window_seconds} s replay window",
            http_status=400,
        )
    if signed_at > now + window:
        raise WebhookRejected(
            f"timestamp {signed_at.isoformat()} is more than {window_seconds} s in the future",
            http_status=400,
        )


def parse_json_body(body: bytes, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> dict[str, Any]:
    """A verified body as a JSON object (400 when it is not one); decimals become strings.

    Decimals become strings so the payload copy can be stored as JSON unchanged.
    """
    try:
        document = parse_limited(body, max_bytes=max_bytes, decimals_as_text=True)
    except JSONInputError as exc:
        raise WebhookRejected(f"malformed JSON: {exc.message}", http_status=400) from None
    if not isinstance(document, dict):
        raise WebhookRejected("malformed JSON: the body is not an object", http_status=400)
    return document


def positive_int(value: Any, name: str, *, default: int) -> int:
    """A positive whole-number setting, or ``default`` when unset; ValueError names it."""
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{name}: expected a whole number, got {value!r}") from None
    if number <= 0:
        raise ValueError(f"{name}: must be positive, got {number}")
    return number
