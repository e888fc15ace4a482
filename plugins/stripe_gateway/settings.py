"""The stripe_gateway plugin's settings (plugin_manifest.toml, environment references resolved)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from praho.core.errors import PluginError
from praho.core.webhooks.verification import DEFAULT_REPLAY_WINDOW_SECONDS, positive_int

EXTENSION_KEY = "praho.stripe_gateway"
DEFAULT_API_BASE = "https://api.stripe.com"


@dataclass(frozen=True)
class StripeSettings:
    """Parsed settings. Secrets are read from the environment only (the manifest says where)."""

    secret_key: str | None = None
    # Several signing secrets may be configured, comma-separated, while one is rotated.
    webhook_secrets: tuple[str, ...] = ()
    api_base: str = DEFAULT_API_BASE
    timeout_seconds: float = 30.0
    replay_window_seconds: int = DEFAULT_REPLAY_WINDOW_SECONDS

    def __repr__(self) -> str:
        return (
            f"StripeSettings(api_base={self.api_base!r}, "
            f"secret_key={'set' if self.secret_key else 'unset'}, "
            f"webhook_secrets={len(self.webhook_secrets)})"
        )


def parse_settings(raw: dict[str, Any]) -> StripeSettings:
    """Turn the manifest's settings into :class:`StripeSettings`; a bad value names the setting."""
    known = {"secret_key", "webhook_secret", "api_base", "timeout_seconds", "replay_window_seconds"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise PluginError(f"stripe_gateway: unknown settings {unknown} (known: {sorted(known)})")
    base = str(raw.get("api_base") or DEFAULT_API_BASE).strip().rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise PluginError(f"stripe_gateway setting api_base: expected an http(s) URL, got {base!r}")
    secrets = tuple(s.strip() for s in str(raw.get("webhook_secret") or "").split(",") if s.strip())
    for secret in secrets:
        if not secret.startswith("whsec_"):
            raise PluginError("stripe_gateway setting webhook_secret: expected whsec_... values")
    try:
        timeout = float(str(raw.get("timeout_seconds") or 30))
        window = positive_int(
            raw.get("replay_window_seconds"),
            "replay_window_seconds",
            default=DEFAULT_REPLAY_WINDOW_SECONDS,
        )
    except ValueError as exc:
        raise PluginError(f"stripe_gateway setting {exc}") from None
    if timeout <= 0:
        raise PluginError("stripe_gateway setting timeout_seconds: must be positive")
    return StripeSettings(
        secret_key=str(raw.get("secret_key") or "").strip() or None,
        webhook_secrets=secrets,
        api_base=base,
        timeout_seconds=timeout,
        replay_window_seconds=window,
    )


def current_settings() -> StripeSettings:
    """The current application's settings (defaults, hence no secrets, outside an app)."""
    if has_app_context():
        settings = current_app.extensions.get(EXTENSION_KEY)
        if isinstance(settings, StripeSettings):
            return settings
    return StripeSettings()
