"""The plugin's settings: plugin_manifest.toml (environment references), then app config.

Every URL and the timeout are settings, so tests point the client at a local stand-in
and an operator switches between ANAF's test and production environments with one
variable (``PRAHO_EFACTURA_ENV=test|prod``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import Any

from flask import current_app
from praho.core.errors import PluginError
from praho.core.plugins import get_registry

PLUGIN_NAME = "ro_efactura"
API_URLS = {
    "test": "https://api.anaf.ro/test/FCTEL/rest",
    "prod": "https://api.anaf.ro/prod/FCTEL/rest",
}
OAUTH_URL = "https://logincert.anaf.ro/anaf-oauth2/v1"
PUBLIC_VALIDATE_URL = "https://webservicesp.anaf.ro/prod/FCTEL/rest"


@dataclass(frozen=True)
class EfacturaSettings:
    """Resolved settings. Secrets (client secret, token key) are never logged or printed."""

    environment: str = "test"
    api_url: str | None = None
    oauth_url: str = OAUTH_URL
    validate_url: str = PUBLIC_VALIDATE_URL
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str | None = None
    token_key: str | None = None
    timeout_seconds: float = 30.0
    # Refresh the access token this long before it expires (ANAF issues 90-day tokens).
    refresh_margin_days: int = 7
    # Documents to buyers outside Romania are not mandatory in SPV; opt in here.
    report_foreign_buyers: bool = False
    # How long an unknown outcome waits for ANAF's message list before uploading again.
    unknown_grace_hours: int = 24
    # Alert when a document is this many working days (or fewer) from its deadline.
    alert_working_days: int = 1
    alert_email: str | None = None
    submit_batch_size: int = 50

    def __post_init__(self) -> None:
        if self.environment not in API_URLS:
            raise PluginError(
                f"{PLUGIN_NAME}: environment must be 'test' or 'prod', "
                f"not {self.environment!r} (PRAHO_EFACTURA_ENV)"
            )

    @property
    def base_url(self) -> str:
        """The FCTEL REST base URL of the configured environment."""
        return (self.api_url or API_URLS[self.environment]).rstrip("/")

    @property
    def refresh_margin(self) -> timedelta:
        """How long before expiry an access token is refreshed."""
        return timedelta(days=self.refresh_margin_days)

    def __repr__(self) -> str:
        return (
            f"EfacturaSettings(environment={self.environment!r}, base_url={self.base_url!r}, "
            f"client_id={self.client_id!r}, client_secret=***, token_key=***)"
        )


_BOOLS = {"report_foreign_buyers"}
_INTS = {"refresh_margin_days", "unknown_grace_hours", "alert_working_days", "submit_batch_size"}
_FLOATS = {"timeout_seconds"}


def parse_settings(raw: dict[str, Any]) -> EfacturaSettings:
    """Build settings from a mapping of strings (manifest values) or typed values."""
    known = {f.name for f in fields(EfacturaSettings)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise PluginError(f"{PLUGIN_NAME}: unknown settings {unknown}")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None or value == "":
            continue
        try:
            if name in _BOOLS:
                values[name] = (
                    value
                    if isinstance(value, bool)
                    else str(value).lower() in {"1", "true", "yes", "on", "da"}
                )
            elif name in _INTS:
                values[name] = int(value)
            elif name in _FLOATS:
                values[name] = float(value)
            else:
                values[name] = str(value)
        except ValueError:
            raise PluginError(f"{PLUGIN_NAME}: setting {name}={value!r} is not a number") from None
    return EfacturaSettings(**values)


def current_settings() -> EfacturaSettings:
    """Settings of the current app: manifest values overridden by ``app.config['EFACTURA']``."""
    cached = current_app.extensions.get("praho.efactura.settings")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    raw = dict(get_registry().settings.get(PLUGIN_NAME, {}))
    raw.update(current_app.config.get("EFACTURA") or {})
    settings = parse_settings(raw)
    current_app.extensions["praho.efactura.settings"] = settings
    return settings


def with_overrides(settings: EfacturaSettings, **changes: Any) -> EfacturaSettings:
    """A copy with some values changed (tests, CLI options)."""
    return replace(settings, **changes)
