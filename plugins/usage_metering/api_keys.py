"""Ingestion API keys: shown once at creation, stored only as a SHA-256 hash.

A key looks like ``pk_usage_<prefix>_<secret>``. The prefix (public, unique) finds the
row; the hash of the whole key is compared in constant time. Keys carry 192 random
bits, so a fast hash is safe here (a slow password hash protects guessable secrets).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import NotFound, PrahoError
from praho.core.models.customers import Customer
from praho.core.services.audit import Actor, record_audit
from praho.plugins.usage_metering.models import UsageApiKey
from sqlalchemy import select
from sqlalchemy.orm import Session

KEY_PREFIX = "pk_usage_"


class InvalidApiKey(PrahoError):
    """The API key is missing, unknown or revoked."""

    http_status = 401
    code = "invalid_api_key"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(
    session: Session,
    *,
    name: str,
    customer: Customer | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> tuple[UsageApiKey, str]:
    """Create a key for one customer (or an integration key when None); returns (row, key).

    The key itself is returned once and never stored.
    """
    label = v.text("name", name, max_length=100)
    moment = resolve_now(now)
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    row = UsageApiKey(
        name=label,
        customer_id=customer.id if customer else None,
        prefix=prefix,
        key_hash=_digest(key),
        created_at=moment,
        created_by=str(actor) if actor else None,
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="usage_api_key.created",
        object_type="usage_api_key",
        object_id=prefix,
        now=moment,
        data={"name": label, "customer": customer.code if customer else None},
    )
    return row, key


def revoke_api_key(
    session: Session, prefix: str, *, actor: Actor | None = None, now: datetime | None = None
) -> UsageApiKey:
    """Revoke a key by its prefix; requests with it are refused from now on."""
    row = session.execute(
        select(UsageApiKey).where(UsageApiKey.prefix == prefix)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no usage API key {prefix!r}")
    moment = resolve_now(now)
    if row.revoked_at is None:
        row.revoked_at = moment
        session.flush()
        record_audit(
            session,
            actor=actor,
            action="usage_api_key.revoked",
            object_type="usage_api_key",
            object_id=prefix,
            now=moment,
        )
    return row


def authenticate(session: Session, key: str | None) -> UsageApiKey:
    """The active key row for a presented key, or InvalidApiKey (same answer for every failure)."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 100:
        raise InvalidApiKey("missing or malformed API key (Authorization: Bearer pk_usage_...)")
    prefix = key[len(KEY_PREFIX) :].split("_", 1)[0]
    row = session.execute(
        select(UsageApiKey).where(UsageApiKey.prefix == prefix)
    ).scalar_one_or_none()
    expected = row.key_hash if row is not None else _digest("")
    if not hmac.compare_digest(expected, _digest(key)) or row is None or row.revoked_at:
        raise InvalidApiKey("unknown or revoked API key")
    return row
