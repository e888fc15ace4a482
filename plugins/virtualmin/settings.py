"""The virtualmin plugin's settings (plugin_manifest.toml, environment references resolved).

One server is given by ``url``/``user``/``password`` at the top level (named ``default``);
several servers by ``[plugin.settings.servers.<name>]`` tables. Which plan a subscription
gets is data too: ``[plugin.settings.plans]`` maps a price or product code to a Virtualmin
plan and template. With no server configured the plugin records nothing (provisioning off).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from flask import current_app, has_app_context
from praho.core.errors import PluginError

EXTENSION_KEY = "praho.virtualmin"
SERVER_KEYS = {"url", "user", "password", "ca_bundle", "timeout_seconds"}


@dataclass(frozen=True)
class ServerConfig:
    """One Virtualmin server: base URL (``https://host:10000``) and the remote API user."""

    name: str
    url: str
    user: str
    password: str = field(repr=False)
    # A PEM file of trusted CAs (the server's own certificate for a self-signed Webmin);
    # empty: the system's trust store. Verification is never switched off.
    ca_bundle: str = ""
    timeout_seconds: float = 20.0


@dataclass(frozen=True)
class PlanMapping:
    """The Virtualmin plan and template a price or product code provisions."""

    plan: str
    template: str = ""


@dataclass(frozen=True)
class VirtualminSettings:
    """Parsed settings with their defaults."""

    servers: dict[str, ServerConfig] = field(default_factory=dict)
    default_server: str = ""
    plans: dict[str, PlanMapping] = field(default_factory=dict)
    max_attempts: int = 8
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    termination_grace_days: int = 14
    reconcile_minutes: int = 60
    # A RUNNING action older than this is taken to belong to a dead worker and run again.
    stale_running_seconds: int = 900

    @property
    def enabled(self) -> bool:
        """True when at least one server is configured."""
        return bool(self.servers)

    def server(self, name: str | None) -> ServerConfig | None:
        """The named server, or the default one."""
        return self.servers.get(name or self.default_server)


def _number(name: str, value: Any, *, minimum: float, integer: bool) -> Any:
    try:
        number = int(str(value).strip()) if integer else float(str(value).strip())
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise PluginError(f"virtualmin setting {name}: expected {kind}, got {value!r}") from None
    if number < minimum:
        raise PluginError(f"virtualmin setting {name}: must be at least {minimum}, got {number}")
    return number


def _server(name: str, raw: dict[str, Any], where: str) -> ServerConfig:
    unknown = sorted(set(raw) - SERVER_KEYS)
    if unknown:
        raise PluginError(
            f"virtualmin {where}: unknown keys {unknown} (known: {sorted(SERVER_KEYS)})"
        )
    url = str(raw.get("url") or "").strip().rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.hostname:
        raise PluginError(f"virtualmin {where}.url: expected an https:// URL, got {url!r}")
    user = str(raw.get("user") or "").strip()
    password = str(raw.get("password") or "")
    if not user or not password:
        raise PluginError(
            f"virtualmin {where}: user and password are required "
            "(set them through PRAHO_VIRTUALMIN_* environment variables)"
        )
    return ServerConfig(
        name=name,
        url=url,
        user=user,
        password=password,
        ca_bundle=str(raw.get("ca_bundle") or "").strip(),
        timeout_seconds=_number(
            f"{where}.timeout_seconds", raw.get("timeout_seconds") or 20, minimum=0.05,
            integer=False,
        ),
    )


def parse_settings(raw: dict[str, Any]) -> VirtualminSettings:
    """Turn the manifest's settings into :class:`VirtualminSettings`, refusing unknown keys."""
    defaults = VirtualminSettings()
    scalar = {
        "max_attempts", "retry_base_seconds", "retry_max_seconds", "termination_grace_days",
        "reconcile_minutes", "stale_running_seconds", "default_server",
    }
    known = scalar | SERVER_KEYS | {"servers", "plans"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise PluginError(f"virtualmin: unknown settings {unknown} (known: {sorted(known)})")

    servers: dict[str, ServerConfig] = {}
    if raw.get("url"):
        single = {k: raw[k] for k in SERVER_KEYS if raw.get(k) not in (None, "")}
        servers["default"] = _server("default", single, "settings")
    for name, table in (raw.get("servers") or {}).items():
        if not isinstance(table, dict):
            raise PluginError(f"virtualmin servers.{name}: expected a table")
        if name in servers:
            raise PluginError(f"virtualmin servers.{name}: defined twice")
        servers[name] = _server(name, table, f"servers.{name}")
    default_server = str(raw.get("default_server") or "").strip()
    if default_server and default_server not in servers:
        raise PluginError(f"virtualmin default_server: no server named {default_server!r}")
    if not default_server and servers:
        default_server = "default" if "default" in servers else sorted(servers)[0]

    plans: dict[str, PlanMapping] = {}
    for code, entry in (raw.get("plans") or {}).items():
        if isinstance(entry, str):
            entry = {"plan": entry}
        if not isinstance(entry, dict) or not str(entry.get("plan") or "").strip():
            raise PluginError(f"virtualmin plans.{code}: expected {{ plan = \"...\" }}")
        plans[str(code)] = PlanMapping(
            plan=str(entry["plan"]).strip(), template=str(entry.get("template") or "").strip()
        )

    def get(name: str) -> Any:
        value = raw.get(name)
        return getattr(defaults, name) if value is None or value == "" else value

    settings = VirtualminSettings(
        servers=servers,
        default_server=default_server,
        plans=plans,
        max_attempts=_number("max_attempts", get("max_attempts"), minimum=1, integer=True),
        retry_base_seconds=_number(
            "retry_base_seconds", get("retry_base_seconds"), minimum=0, integer=False
        ),
        retry_max_seconds=_number(
            "retry_max_seconds", get("retry_max_seconds"), minimum=0, integer=False
        ),
        termination_grace_days=_number(
            "termination_grace_days", get("termination_grace_days"), minimum=0, integer=True
        ),
        reconcile_minutes=_number(
            "reconcile_minutes", get("reconcile_minutes"), minimum=1, integer=True
        ),
        stale_running_seconds=_number(
            "stale_running_seconds", get("stale_running_seconds"), minimum=1, integer=True
        ),
    )
    return settings


def current_settings() -> VirtualminSettings:
    """The settings of the current application (provisioning off outside an app)."""
    if has_app_context():
        settings = current_app.extensions.get(EXTENSION_KEY)
        if isinstance(settings, VirtualminSettings):
            return settings
    return VirtualminSettings()
