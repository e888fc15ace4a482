"""The paypal_gateway plugin's settings (plugin_manifest.toml, environment references resolved)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from praho.core.errors import PluginError
from praho.core.webhooks.verification import DEFAULT_REPLAY_WINDOW_SECONDS, positive_int

EXTENSION_KEY = "praho.paypal_gateway"
DEFAULT_API_BASE = "https://api-m.paypal.com"
# The hosts PayPal serves its webhook signing certificates from (live and sandbox).
DEFAULT_CERT_HOSTS = (
    "api.paypal.com",
    "api-m.paypal.com",
    "api.sandbox.paypal.com",
    "api-m.sandbox.paypal.com",
)
VERIFICATION_MODES = ("offline", "online")


@dataclass(frozen=True)
class PayPalSettings:
    """Parsed settings. Secrets come from the environment only."""

    client_id: str | None = None
    client_secret: str | None = None
    webhook_id: str | None = None
    api_base: str = DEFAULT_API_BASE
    timeout_seconds: float = 30.0
    # offline: certificate + CRC32 + RSA-SHA256 here; online: PayPal's verify API.
    verification: str = "offline"
    cert_hosts: tuple[str, ...] = DEFAULT_CERT_HOSTS
    # PEM file of trusted roots for the signing certificate's chain and the download's TLS;
    # empty means the system's default bundle.
    ca_bundle: str | None = None
    # Tests only: "host=127.0.0.1:port" pairs so an allow-listed host reaches a stand-in
    # (like curl --resolve); the URL checked and the TLS name stay the real host.
    cert_resolve: tuple[tuple[str, str, int], ...] = ()
    replay_window_seconds: int = DEFAULT_REPLAY_WINDOW_SECONDS

    def __repr__(self) -> str:
        return (
            f"PayPalSettings(api_base={self.api_base!r}, verification={self.verification!r}, "
            f"client_id={'set' if self.client_id else 'unset'}, "
            f"client_secret={'set' if self.client_secret else 'unset'})"
        )


def _resolve(text: str) -> tuple[tuple[str, str, int], ...]:
    pairs = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        host, _, target = item.partition("=")
        address, _, port = target.rpartition(":")
        if not host or not address or not port.isdigit():
            raise PluginError(
                f"paypal_gateway setting cert_resolve: expected host=address:port, got {item!r}"
            )
        pairs.append((host.strip().lower(), address.strip(), int(port)))
    return tuple(pairs)


def parse_settings(raw: dict[str, Any]) -> PayPalSettings:
    """Turn the manifest's settings into :class:`PayPalSettings`; a bad value names the setting."""
    known = set(PayPalSettings.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise PluginError(f"paypal_gateway: unknown settings {unknown} (known: {sorted(known)})")
    base = str(raw.get("api_base") or DEFAULT_API_BASE).strip().rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise PluginError(f"paypal_gateway setting api_base: expected an http(s) URL, got {base!r}")
    mode = str(raw.get("verification") or "offline").strip().lower()
    if mode not in VERIFICATION_MODES:
        raise PluginError(
            f"paypal_gateway setting verification: expected offline or online, got {mode!r}"
        )
    hosts = raw.get("cert_hosts") or DEFAULT_CERT_HOSTS
    if isinstance(hosts, str):
        hosts = [h for h in hosts.split(",")]
    try:
        timeout = float(str(raw.get("timeout_seconds") or 30))
        window = positive_int(
            raw.get("replay_window_seconds"),
            "replay_window_seconds",
            default=DEFAULT_REPLAY_WINDOW_SECONDS,
        )
    except ValueError as exc:
        raise PluginError(f"paypal_gateway setting {exc}") from None

    def text(name: str) -> str | None:
        return str(raw.get(name) or "").strip() or None

    return PayPalSettings(
        client_id=text("client_id"),
        client_secret=text("client_secret"),
        webhook_id=text("webhook_id"),
        api_base=base,
        timeout_seconds=timeout,
        verification=mode,
        cert_hosts=tuple(h.strip().lower() for h in hosts if h.strip()),
        ca_bundle=text("ca_bundle"),
        cert_resolve=_resolve(str(raw.get("cert_resolve") or "")),
        replay_window_seconds=window,
    )


def current_settings() -> PayPalSettings:
    """The current application's settings (defaults, hence no secrets, outside an app)."""
    if has_app_context():
        settings = current_app.extensions.get(EXTENSION_KEY)
        if isinstance(settings, PayPalSettings):
            return settings
    return PayPalSettings()
