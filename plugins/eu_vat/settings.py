"""The eu_vat plugin's settings (plugin_manifest.toml, environment references resolved).

Values from the environment arrive as text, values written in the manifest as TOML types;
both are parsed here, and a bad value stops the application at start-up with a message
naming the setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flask import current_app, has_app_context
from praho.core.errors import PluginError

EXTENSION_KEY = "praho.eu_vat"
DEFAULT_VIES_URL = "https://ec.europa.eu/taxation_customs/vies/services/checkVatService"


class OutagePolicy(StrEnum):
    """What an invoice does when VIES cannot answer for an EU business customer."""

    # Refuse to decide (TaxDecisionPending): the document waits until VIES answers.
    WAIT = "wait"
    # Use the last cached valid answer; without one, treat the customer as non-taxable.
    FALLBACK = "fallback"


@dataclass(frozen=True)
class EuVatSettings:
    """Parsed settings; defaults are what a Romanian hosting company needs out of the box."""

    # Registered for the Union OSS scheme (or above the EUR 10,000 threshold of art. 59c):
    # B2C electronically supplied services to other member states carry the customer
    # country's VAT. Off: the seller country's VAT (below-threshold rule).
    oss_registered: bool = False
    vies_enabled: bool = True
    vies_url: str = DEFAULT_VIES_URL
    vies_timeout_seconds: float = 10.0
    vies_valid_cache_days: int = 7
    vies_invalid_cache_hours: int = 12
    vies_outage_policy: OutagePolicy = OutagePolicy.FALLBACK
    # A cached valid answer older than this is not used as an outage fallback.
    vies_fallback_max_age_days: int = 90
    # VAT id sent as requester to obtain a consultation number; empty: the seller's own.
    vies_requester_vat_id: str = ""
    exempt_code: str = "VATEX-EU-132"
    exempt_reason: str = (
        "Scutit de TVA / Exempt from VAT (art. 292 Cod fiscal, art. 132 Directive 2006/112/EC)"
    )


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise PluginError(f"eu_vat setting {name}: expected true or false, got {value!r}")


def _number(name: str, value: Any, *, minimum: float, integer: bool) -> Any:
    try:
        number = int(str(value).strip()) if integer else float(str(value).strip())
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise PluginError(f"eu_vat setting {name}: expected {kind}, got {value!r}") from None
    if number < minimum:
        raise PluginError(f"eu_vat setting {name}: must be at least {minimum}, got {number}")
    return number


def parse_settings(raw: dict[str, Any]) -> EuVatSettings:
    """Turn the manifest's settings into :class:`EuVatSettings`, refusing unknown keys."""
    defaults = EuVatSettings()
    known = set(EuVatSettings.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise PluginError(f"eu_vat: unknown settings {unknown} (known: {sorted(known)})")

    def get(name: str) -> Any:
        value = raw.get(name)
        return getattr(defaults, name) if value is None or value == "" else value

    policy = str(get("vies_outage_policy")).strip().lower()
    if policy not in set(OutagePolicy):
        raise PluginError(
            f"eu_vat setting vies_outage_policy: expected wait or fallback, got {policy!r}"
        )
    url = str(get("vies_url")).strip()
    if not url.startswith(("http://", "https://")):
        raise PluginError(f"eu_vat setting vies_url: expected an http(s) URL, got {url!r}")
    requester = str(get("vies_requester_vat_id")).strip().upper().replace(" ", "")
    return EuVatSettings(
        oss_registered=_bool("oss_registered", get("oss_registered")),
        vies_enabled=_bool("vies_enabled", get("vies_enabled")),
        vies_url=url,
        vies_timeout_seconds=_number(
            "vies_timeout_seconds", get("vies_timeout_seconds"), minimum=0.1, integer=False
        ),
        vies_valid_cache_days=_number(
            "vies_valid_cache_days", get("vies_valid_cache_days"), minimum=0, integer=True
        ),
        vies_invalid_cache_hours=_number(
            "vies_invalid_cache_hours", get("vies_invalid_cache_hours"), minimum=0, integer=True
        ),
        vies_outage_policy=OutagePolicy(policy),
        vies_fallback_max_age_days=_number(
            "vies_fallback_max_age_days", get("vies_fallback_max_age_days"), minimum=0, integer=True
        ),
        vies_requester_vat_id=requester,
        exempt_code=str(get("exempt_code")).strip(),
        exempt_reason=str(get("exempt_reason")).strip()[:300],
    )


def current_settings() -> EuVatSettings:
    """The settings of the current application (defaults outside an app or if unconfigured)."""
    if has_app_context():
        settings = current_app.extensions.get(EXTENSION_KEY)
        if isinstance(settings, EuVatSettings):
            return settings
    return EuVatSettings()
