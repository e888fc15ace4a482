"""The usage_metering plugin's settings (plugin_manifest.toml, environment resolved)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from praho.core.errors import PluginError

EXTENSION_KEY = "praho.usage_metering"


@dataclass(frozen=True)
class UsageSettings:
    """Parsed settings with their defaults."""

    # Events older than this (by their timestamp, at ingestion) are rejected. Stripe's
    # meter events use the same 35 days; a period is then open to late events for 35 days.
    max_event_age_days: int = 35
    # Events dated further in the future than this are rejected (clock skew allowance).
    max_future_seconds: int = 300
    max_batch_events: int = 1000
    # Stripe meter-event reporting (optional): key from the environment only.
    stripe_api_key: str | None = None
    stripe_api_url: str = "https://api.stripe.com"
    stripe_timeout_seconds: float = 10.0


def _int(name: str, value: Any, minimum: int, maximum: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise PluginError(
            f"usage_metering setting {name}: expected a whole number, got {value!r}"
        ) from None
    if not minimum <= number <= maximum:
        raise PluginError(
            f"usage_metering setting {name}: must be {minimum}..{maximum}, got {number}"
        )
    return number


def parse_settings(raw: dict[str, Any]) -> UsageSettings:
    """Turn the manifest's settings into :class:`UsageSettings`, refusing unknown keys."""
    defaults = UsageSettings()
    known = set(UsageSettings.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise PluginError(f"usage_metering: unknown settings {unknown} (known: {sorted(known)})")

    def get(name: str) -> Any:
        value = raw.get(name)
        return getattr(defaults, name) if value is None or value == "" else value

    url = str(get("stripe_api_url")).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise PluginError(
            f"usage_metering setting stripe_api_url: expected an http(s) URL, got {url!r}"
        )
    try:
        timeout = float(str(get("stripe_timeout_seconds")))
    except ValueError:
        raise PluginError(
            "usage_metering setting stripe_timeout_seconds: expected a number"
        ) from None
    key = raw.get("stripe_api_key") or None
    return UsageSettings(
        max_event_age_days=_int("max_event_age_days", get("max_event_age_days"), 1, 3650),
        max_future_seconds=_int("max_future_seconds", get("max_future_seconds"), 0, 86400),
        max_batch_events=_int("max_batch_events", get("max_batch_events"), 1, 1000),
        stripe_api_key=str(key) if key else None,
        stripe_api_url=url,
        stripe_timeout_seconds=max(0.1, timeout),
    )


def current_settings() -> UsageSettings:
    """The settings of the current application (defaults outside an app)."""
    if has_app_context():
        settings = current_app.extensions.get(EXTENSION_KEY)
        if isinstance(settings, UsageSettings):
            return settings
    return UsageSettings()
