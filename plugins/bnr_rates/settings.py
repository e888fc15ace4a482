"""The bnr_rates plugin's settings (plugin_manifest.toml, environment references resolved)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from celery.schedules import crontab
from flask import current_app, has_app_context
from praho.core.errors import PluginError

EXTENSION_KEY = "praho.bnr_rates"
DEFAULT_FEED_URL = "https://www.bnr.ro/nbrfxrates.xml"


class RateDayRule(StrEnum):
    """Which BNR rate an invoice uses (Fiscal Code art. 290(2))."""

    # The rate of the last banking day strictly before the tax point (the rate BNR
    # published the afternoon before, valid on the tax point): the usual practice.
    BEFORE = "before"
    # The rate published on the tax point itself, when the invoice is issued after 13:00.
    ON_OR_BEFORE = "on_or_before"


@dataclass(frozen=True)
class BnrSettings:
    """Parsed settings with their defaults."""

    feed_url: str = DEFAULT_FEED_URL
    timeout_seconds: float = 10.0
    rate_day_rule: RateDayRule = RateDayRule.BEFORE
    # A rate older than this (days before the tax point) is refused: a gap in fetching
    # must not silently put a stale rate on an invoice. Long holidays stay below 7 days.
    max_rate_age_days: int = 7
    max_body_bytes: int = 5_000_000
    # Celery beat: fetch at these minutes of these hours (Europe/Bucharest), Monday to Friday.
    fetch_hours: str = "13-17"
    fetch_minutes: str = "5,35"


def _number(name: str, value: Any, *, minimum: float, integer: bool) -> Any:
    try:
        number = int(str(value).strip()) if integer else float(str(value).strip())
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise PluginError(f"bnr_rates setting {name}: expected {kind}, got {value!r}") from None
    if number < minimum:
        raise PluginError(f"bnr_rates setting {name}: must be at least {minimum}, got {number}")
    return number


def parse_settings(raw: dict[str, Any]) -> BnrSettings:
    """Turn the manifest's settings into :class:`BnrSettings`, refusing unknown keys."""
    defaults = BnrSettings()
    known = set(BnrSettings.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise PluginError(f"bnr_rates: unknown settings {unknown} (known: {sorted(known)})")

    def get(name: str) -> Any:
        value = raw.get(name)
        return getattr(defaults, name) if value is None or value == "" else value

    url = str(get("feed_url")).strip()
    if not url.startswith(("http://", "https://")):
        raise PluginError(f"bnr_rates setting feed_url: expected an http(s) URL, got {url!r}")
    rule = str(get("rate_day_rule")).strip().lower()
    if rule not in set(RateDayRule):
        raise PluginError(
            f"bnr_rates setting rate_day_rule: expected before or on_or_before, got {rule!r}"
        )
    hours, minutes = str(get("fetch_hours")).strip(), str(get("fetch_minutes")).strip()
    try:
        crontab(minute=minutes, hour=hours, day_of_week="mon-fri")
    except ValueError as error:
        raise PluginError(f"bnr_rates settings fetch_hours/fetch_minutes: {error}") from None
    return BnrSettings(
        feed_url=url,
        timeout_seconds=_number(
            "timeout_seconds", get("timeout_seconds"), minimum=0.1, integer=False
        ),
        rate_day_rule=RateDayRule(rule),
        max_rate_age_days=_number(
            "max_rate_age_days", get("max_rate_age_days"), minimum=1, integer=True
        ),
        max_body_bytes=_number("max_body_bytes", get("max_body_bytes"), minimum=1024, integer=True),
        fetch_hours=hours,
        fetch_minutes=minutes,
    )


def current_settings() -> BnrSettings:
    """The settings of the current application (defaults outside an app)."""
    if has_app_context():
        settings = current_app.extensions.get(EXTENSION_KEY)
        if isinstance(settings, BnrSettings):
            return settings
    return BnrSettings()
