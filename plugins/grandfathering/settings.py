"""The grandfathering plugin's settings (plugin_manifest.toml, environment references resolved)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from praho.core.errors import PluginError

EXTENSION_KEY = "praho.grandfathering"


@dataclass(frozen=True)
class GrandfatheringSettings:
    """Parsed settings with their defaults."""

    # Days between a price-rise notice and the first renewal billed at the higher price.
    notice_days: int = 30
    # Days before a price lock expires that the customer is told (when the price rises).
    lock_expiry_notice_days: int = 30
    # Celery beat: hour (Europe/Bucharest) of the daily migration batch.
    batch_hour: int = 6


def _whole(name: str, value: Any, minimum: int, maximum: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise PluginError(
            f"grandfathering setting {name}: expected a whole number, got {value!r}"
        ) from None
    if not minimum <= number <= maximum:
        raise PluginError(
            f"grandfathering setting {name}: must be {minimum} to {maximum}, got {number}"
        )
    return number


def parse_settings(raw: dict[str, Any]) -> GrandfatheringSettings:
    """Turn the manifest's settings into :class:`GrandfatheringSettings`, refusing unknown keys."""
    defaults = GrandfatheringSettings()
    known = set(GrandfatheringSettings.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise PluginError(f"grandfathering: unknown settings {unknown} (known: {sorted(known)})")

    def get(name: str) -> Any:
        value = raw.get(name)
        return getattr(defaults, name) if value is None or value == "" else value

    return GrandfatheringSettings(
        notice_days=_whole("notice_days", get("notice_days"), 0, 365),
        lock_expiry_notice_days=_whole(
            "lock_expiry_notice_days", get("lock_expiry_notice_days"), 0, 365
        ),
        batch_hour=_whole("batch_hour", get("batch_hour"), 0, 23),
    )


def current_settings() -> GrandfatheringSettings:
    """The settings of the current application (defaults outside an app)."""
    if has_app_context():
        settings = current_app.extensions.get(EXTENSION_KEY)
        if isinstance(settings, GrandfatheringSettings):
            return settings
    return GrandfatheringSettings()
