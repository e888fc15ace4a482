"""Settings from ``PRAHO_*`` environment variables with embedded defaults.

The defaults run everything on one machine with nothing installed: a SQLite file in
the instance folder and Celery tasks executed eagerly in-process. Production sets
``PRAHO_ENV=production``, a real ``PRAHO_SECRET_KEY``, ``PRAHO_DATABASE_URL`` and
``PRAHO_BROKER_URL``.

Any setting may come from a secrets file instead: ``PRAHO_<NAME>_FILE=/run/secrets/...``
(see :mod:`praho.core.credentials`; files inside the project folder are refused).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from praho.core.credentials import SecretSourceError, env_or_file

# Name, default, parser. The Flask config key is the name without the PRAHO_ prefix.
_DEV_SECRET = "dev-insecure-secret-key"  # noqa: S105 - refused in production below


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean (true/false), got {text!r}")


def _int(text: str) -> int:
    return int(text.strip())


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


SETTINGS: dict[str, tuple[Any, Any]] = {
    "ENV": ("development", str),
    "SECRET_KEY": (_DEV_SECRET, str),
    "DATABASE_URL": (None, str),
    "INSTANCE_PATH": (None, str),
    "BROKER_URL": (None, str),
    "RESULT_BACKEND": (None, str),
    "PLUGIN_MANIFEST": (None, str),
    "DEFAULT_CURRENCY": ("RON", str),
    "MAX_AMOUNT_MINOR": (100_000_000, _int),
    "MAX_DOCUMENT_AMOUNT_MINOR": (100_000_000, _int),
    "LOG_LEVEL": ("INFO", str),
    "SQL_ECHO": (False, _bool),
    "BILLING_CHUNK_SIZE": (500, _int),
    "COLLECTION_CHUNK_SIZE": (100, _int),
    "RATELIMIT_STORAGE_URI": ("memory://", str),
    "RATELIMIT_WEBHOOKS": ("3000 per minute", str),
    "RATELIMIT_USAGE_API": ("600 per minute", str),
    "RATELIMIT_LOGIN": ("10 per minute; 50 per hour", str),
    "RATELIMIT_LOGIN_ACCOUNT": ("20 per hour", str),
    "SESSION_COOKIE_SECURE": (True, _bool),
    "SESSION_LIFETIME_MINUTES": (480, _int),
    "ADMIN_IDLE_MINUTES": (60, _int),
    "TRUSTED_PROXIES": (0, _int),
    "MAX_CONTENT_LENGTH": (2 * 1024 * 1024, _int),
    "SMTP_HOST": ("127.0.0.1", str),
    "SMTP_PORT": (25, _int),
    "SMTP_USER": (None, str),
    "SMTP_PASSWORD": (None, str),
    "SMTP_STARTTLS": (False, _bool),
    "MAIL_FROM": ("billing@localhost", str),
    # Largest webhook body accepted (bytes); gateways send a few kilobytes.
    "WEBHOOK_MAX_BYTES": (256 * 1024, _int),
    # Recorded webhook events applied per worker transaction (1 to 5000).
    "WEBHOOK_APPLY_BATCH": (500, _int),
    # How long a web process waits before waking the workers again (milliseconds, 0 to
    # 5000): events recorded meanwhile are applied by the wake-up already on its way.
    "WEBHOOK_APPLY_DELAY_MS": (250, _int),
}


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names the variable."""


def configured(name: str) -> Any:
    """A setting (``name`` without ``PRAHO_``) of the current app, or its embedded default."""
    from flask import current_app, has_app_context

    default = SETTINGS[name][0]
    return current_app.config.get(name, default) if has_app_context() else default


def bounded_setting(name: str, lowest: int, highest: int) -> int:
    """:func:`configured` for a whole-number setting; ValueError names it when out of range."""
    value = configured(name)
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
        raise ValueError(
            f"PRAHO_{name} must be a whole number from {lowest} to {highest}, got {value!r}"
        )
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read every known ``PRAHO_*`` variable (or its ``_FILE`` twin), parse it, fill in defaults."""
    env = os.environ if environ is None else environ
    settings: dict[str, Any] = {}
    for name, (default, parse) in SETTINGS.items():
        try:
            raw = env_or_file(f"PRAHO_{name}", env)
        except SecretSourceError as exc:
            raise ConfigError(str(exc)) from None
        if raw is None:
            settings[name] = default
            continue
        try:
            settings[name] = parse(raw)
        except ValueError as exc:
            raise ConfigError(f"PRAHO_{name}: {exc}") from None
    return settings


def finalize_settings(settings: dict[str, Any], instance_path: str) -> dict[str, Any]:
    """Derive the values that depend on others and refuse unsafe production settings."""
    if settings.get("INSTANCE_PATH"):
        instance_path = settings["INSTANCE_PATH"]
    settings["INSTANCE_PATH"] = instance_path
    if not settings.get("DATABASE_URL"):
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        settings["DATABASE_URL"] = f"sqlite:///{Path(instance_path) / 'praho.db'}"
    settings["CELERY_EAGER"] = not settings.get("BROKER_URL")
    if settings["ENV"] == "production":
        secret = settings.get("SECRET_KEY") or ""
        if hmac.compare_digest(_bytes(secret), _bytes(_DEV_SECRET)) or len(secret) < 32:
            raise ConfigError(
                "PRAHO_SECRET_KEY: production needs a random secret of at least 32 characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if settings["DATABASE_URL"].startswith("sqlite"):
            raise ConfigError("PRAHO_DATABASE_URL: production needs PostgreSQL, not SQLite")
        if not settings.get("BROKER_URL"):
            # Without a broker every task would run eagerly inside web requests and
            # `praho beat` would refuse to start, so the nightly billing would never run.
            raise ConfigError(
                "PRAHO_BROKER_URL: production needs a Celery broker "
                "(redis://redis:6379/0 or amqp://...); without one tasks would run inside "
                "web requests and no scheduled work (nightly billing) would run"
            )
    for bound in ("MAX_AMOUNT_MINOR", "MAX_DOCUMENT_AMOUNT_MINOR"):
        if settings[bound] <= 0:
            raise ConfigError(f"PRAHO_{bound}: must be a positive number of minor units")
    return settings
