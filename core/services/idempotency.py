"""Idempotency keys chosen by callers, with Stripe's semantics.

The same key with the same parameters returns the stored response; the same key with
different parameters raises :class:`IdempotencyConflict`. Records are kept at least
:data:`KEY_LIFETIME`; after that the key may be used again (as at Stripe). The unique
constraint on the key decides between concurrent first uses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
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


def run_once(
    database: Any,
    *,
    key: str,
    operation: str,
    params: Mapping[str, Any],
    work: Callable[[Session], dict[str, Any]],
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Run ``work(session)`` once per ``key``; returns (its response, True when it ran now).

    For a request that must never act twice (a back-office form sent again by a double
    click or a resubmit: credit notes are gapless and never deleted, refunds move money).
    The key is claimed (:func:`claim_key`) in ``work``'s own transaction, with the
    response ``work`` returns; a key claimed before gives (that response, False). The
    claim commits or rolls back with the work, so refused work can be sent again.

    On PostgreSQL the claim is the transaction's first write: a concurrent second request
    waits on the unique key until the first commits, then replays it. SQLite cannot write
    from a transaction once another connection has committed since it began, which work
    that commits its own short transactions around a remote call does (the e-Factura
    upload); there a known key is replayed before anything runs, and a new one is claimed
    in a short transaction right after the work commits.

    :raises IdempotencyConflict: the key was used with other parameters; nothing written.
    """

    def claim(session: Session) -> tuple[IdempotencyRecord, bool]:
        return claim_key(session, key=key, operation=operation, params=params,
                         now=resolve_now(now))

    def claimed_then_run(session: Session) -> tuple[dict[str, Any], bool]:
        record, first = claim(session)
        if not first:
            return dict(record.response), False
        response = work(session)
        remember_response(session, record, response)
        return response, True

    if database.dialect != "sqlite":
        with database.transaction() as session:
            return claimed_then_run(session)
    with database.transaction() as session:
        if _find(session, key) is not None:
            # Known (or expired, then claimed again and run as new).
            return claimed_then_run(session)
        response = work(session)
    with database.transaction() as session:
        record, first = claim(session)
        if first:
            remember_response(session, record, response)
    return response, True
