"""Idempotency keys chosen by callers, with Stripe's semantics.

The same key with the same parameters returns the stored response; the same key with
different parameters raises :class:`IdempotencyConflict`. Records are kept at least
:data:`KEY_LIFETIME`; after that the key may be used again (as at Stripe). The unique
constraint on the key decides between concurrent first uses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import IdempotencyConflict
from praho.core.models.payments import IdempotencyRecord
from praho.core.services.audit import same_digest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

KEY_LIFETIME = timedelta(hours=24)


def fingerprint(operation: str, params: Mapping[str, Any]) -> str:
    """SHA-256 of the operation and its parameters as canonical JSON."""
    canonical = json.dumps({"operation": operation, "params": params}, sort_keys=True,
                           separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_key(field: str, key: Any) -> str:
    """A caller's idempotency key: 1-255 printable characters."""
    cleaned = v.text(field, key, max_length=255)
    assert cleaned is not None
    return cleaned


def claim_key(session: Session, *, key: str, operation: str, params: Mapping[str, Any],
              now: datetime | None = None) -> tuple[IdempotencyRecord, bool]:
    """Claim ``key`` for one request; returns (record, True) the first time.

    On a repeat with the same parameters returns (record, False) and the caller answers
    with ``record.response``; with different parameters raises
    :class:`IdempotencyConflict` and writes nothing.
    """
    moment = resolve_now(now)
    digest = fingerprint(operation, params)
    record = _find(session, key)
    if record is None:
        try:
            with session.begin_nested():
                record = IdempotencyRecord(key=key, operation=operation, fingerprint=digest,
                                           response={}, created_at=moment,
                                           expires_at=moment + KEY_LIFETIME)
                session.add(record)
            return record, True
        except IntegrityError:
            # Someone else claimed it first (and committed): answer as a repeat.
            record = _find(session, key)
            assert record is not None
    if record.expires_at <= moment:
        record.operation, record.fingerprint, record.response = operation, digest, {}
        record.created_at, record.expires_at = moment, moment + KEY_LIFETIME
        session.flush()
        return record, True
    if record.operation != operation or not same_digest(record.fingerprint, digest):
        raise IdempotencyConflict(
            f"idempotency key {v.show(key)} was already used with different parameters "
            f"({record.operation}, {record.created_at.isoformat()}); use a new key"
        )
    return record, False


def remember_response(session: Session, record: IdempotencyRecord,
                      response: dict[str, Any]) -> None:
    """Store what a repeat of the request will be answered with."""
    record.response = dict(response)
    session.flush()


def purge_expired_keys(session: Session, *, now: datetime | None = None) -> int:
    """Delete records past their lifetime; returns how many."""
    moment = resolve_now(now)
    result = session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= moment))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _find(session: Session, key: str) -> IdempotencyRecord | None:
    return session.execute(
        select(IdempotencyRecord).where(IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
