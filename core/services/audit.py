"""Audit trail: record who did what to which money; verify the hash chain.

Events are added to the session unsealed. When the transaction commits, a listener
locks the chain head row, numbers the transaction's events and chains their hashes.
Locking only at commit keeps concurrent billing workers from serialising on the audit
trail for the length of their whole transaction.

Inside :func:`audit_written_at_commit` the events are not even inserted until then: they
are numbered, hashed and inserted together at commit, one statement for the lot instead of
an insert and an update per event (the webhook applier records hundreds per transaction).
Events recorded inside a savepoint that rolls back are dropped in both modes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from praho.core.clock import resolve_now
from praho.core.models.audit import ActorType, AuditChainHead, AuditEvent
from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

GENESIS_HASH = "0" * 64
_PENDING_KEY = "praho.audit.pending"
_DEFER_KEY = "praho.audit.defer"
# Set on an event kept out of the session until commit: the (nested) transaction it was
# recorded in.
_RECORDED_IN = "_praho_recorded_in"


@dataclass(frozen=True)
class Actor:
    """Who performs an operation: a back-office user, a task, a webhook, the CLI."""

    type: ActorType
    id: str

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


SYSTEM = Actor(ActorType.SYSTEM, "system")


def record_audit(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: Any,
    amount_minor: int | None = None,
    currency: str | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append an audit event; it is sealed into the hash chain when the transaction commits."""
    actor = actor or SYSTEM
    audit_event = AuditEvent(
        occurred_at=resolve_now(now),
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        amount_minor=amount_minor,
        currency=currency,
        data=data or {},
    )
    if session.info.get(_DEFER_KEY):
        # Begin the transaction now if need be: the event belongs to it, and is
        # forgotten if it ends without a commit.
        setattr(audit_event, _RECORDED_IN,
                session.get_nested_transaction() or session.get_transaction()
                or session.begin())
    else:
        session.add(audit_event)
    session.info.setdefault(_PENDING_KEY, []).append(audit_event)
    return audit_event


@contextmanager
def audit_written_at_commit(session: Session) -> Iterator[None]:
    """Within the block, audit events are inserted at commit rather than as recorded.

    For code that records many events in one transaction and does not read them back
    before commit: each event then costs no statement of its own. Queries in the same
    transaction do not see these events until it commits.
    """
    previous = session.info.get(_DEFER_KEY)
    session.info[_DEFER_KEY] = True
    try:
        yield
    finally:
        if previous:
            session.info[_DEFER_KEY] = previous
        else:
            session.info.pop(_DEFER_KEY, None)


def _deferred(audit_event: AuditEvent) -> bool:
    return hasattr(audit_event, _RECORDED_IN)


def same_digest(first: str | None, second: str | None) -> bool:
    """Compare two hex digests in constant time (None never matches)."""
    if first is None or second is None:
        return False
    return hmac.compare_digest(first.encode("ascii", "replace"), second.encode("ascii", "replace"))


def record_audit_batch(session: Session, events: list[dict[str, Any]], *, actor: Actor | None,
                       now: datetime) -> None:
    """Append many audit events at once, sealed into the chain immediately.

    Each dict has ``action``, ``object_type``, ``object_id`` and optionally
    ``amount_minor``, ``currency`` and ``data``. The chain head is locked here rather
    than at commit, and the events are written in one bulk insert: the billing run
    records one event per issued document this way. Events recorded later in the same
    transaction with :func:`record_audit` are sealed after these, as usual.
    """
    if not events:
        return
    from praho.core.services.bulk_sql import insert_rows

    actor = actor or SYSTEM
    moment = resolve_now(now)
    ensure_chain_head(session)
    head = session.execute(
        select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    rows = []
    for values in events:
        # A plain namespace carries what event_hash reads; no ORM object is needed.
        row = SimpleNamespace(occurred_at=moment, actor_type=actor.type, actor_id=actor.id,
                              action=values["action"], object_type=values["object_type"],
                              object_id=str(values["object_id"]),
                              amount_minor=values.get("amount_minor"),
                              currency=values.get("currency"), data=values.get("data") or {})
        head.last_seq += 1
        row.seq = head.last_seq
        row.prev_hash = head.last_hash
        row.hash = event_hash(row, head.last_hash)  # type: ignore[arg-type]
        head.last_hash = row.hash
        rows.append(_sealed_row(row))
    insert_rows(session, AuditEvent.__table__, rows)
    session.flush()


def event_hash(audit_event: AuditEvent, prev_hash: str) -> str:
    """SHA-256 over the event's canonical JSON and the previous event's hash."""
    body = {
        "seq": audit_event.seq,
        "occurred_at": audit_event.occurred_at.isoformat(),
        "actor": [str(audit_event.actor_type), audit_event.actor_id],
        "action": audit_event.action,
        "object": [audit_event.object_type, audit_event.object_id],
        "amount": [audit_event.amount_minor, audit_event.currency],
        "data": audit_event.data,
        "prev": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def ensure_chain_head(session: Session) -> None:
    """Create the single chain-head row if it is missing (fresh database)."""
    if session.get(AuditChainHead, 1) is None:
        session.add(AuditChainHead(id=1, last_seq=0, last_hash=GENESIS_HASH))
        session.flush()


def _seal_pending(session: Session) -> None:
    if session.in_nested_transaction():
        # before_commit also fires when a savepoint is released. Sealing there would move
        # events recorded outside the savepoint into it, to be lost if an enclosing
        # savepoint rolls back; the outermost commit seals everything once.
        return
    pending: list[AuditEvent] = session.info.pop(_PENDING_KEY, [])
    # An event added to the session but rolled back with its savepoint has left the session.
    pending = [e for e in pending if e.seq is None and (_deferred(e) or e in session)]
    if not pending:
        return
    session.flush()
    head = session.execute(
        select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        ensure_chain_head(session)
        head = session.execute(
            select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
        ).scalar_one()
    # Recording order: the order in-session events were inserted (ids ascend with it).
    deferred: list[AuditEvent] = []
    for audit_event in pending:
        head.last_seq += 1
        audit_event.seq = head.last_seq
        audit_event.prev_hash = head.last_hash
        audit_event.hash = event_hash(audit_event, head.last_hash)
        head.last_hash = audit_event.hash
        if _deferred(audit_event):
            delattr(audit_event, _RECORDED_IN)
            deferred.append(audit_event)
    session.flush()
    _insert_sealed(session, deferred)


_SEALED_COLUMNS = ("seq", "occurred_at", "actor_type", "actor_id", "action", "object_type",
                   "object_id", "amount_minor", "currency", "data", "prev_hash", "hash")


def _sealed_row(audit_event: Any) -> dict[str, Any]:
    """The columns of a sealed event (an AuditEvent or any object with the same names)."""
    return {column: getattr(audit_event, column) for column in _SEALED_COLUMNS}


def _insert_sealed(session: Session, events: list[AuditEvent]) -> None:
    """Write events kept out of the session, already sealed, in one bulk insert.

    Not through the ORM: a flush of hundreds of new objects is one multi-row INSERT whose
    placeholders psycopg parses in Python on every batch, which cost more than the events
    themselves. The objects get their ids but stay outside the session, as they were.
    """
    if not events:
        return
    from praho.core.services.bulk_sql import insert_rows

    rows = [_sealed_row(audit_event) for audit_event in events]
    ids = insert_rows(session, AuditEvent.__table__, rows, return_ids=True)
    for audit_event, new_id in zip(events, ids, strict=True):
        audit_event.id = new_id


def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    # A session closed without commit or rollback still ends its transaction: nothing
    # recorded in it may be sealed into a later one.
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """Forget what a rollback undid: everything, or what a savepoint's events recorded.

    A savepoint's rollback leaves the events recorded before it pending (SQLAlchemy's
    ``after_rollback`` fires for savepoints too, so it cannot be used for this). Events
    added to the session inside the savepoint leave the session with it; events kept out
    of the session until commit are dropped here.
    """
    pending: list[AuditEvent] | None = session.info.get(_PENDING_KEY)
    if not pending:
        return
    # What the database rolled back is the nearest savepoint (or the whole transaction)
    # at or above the one reported: a failed flush reports its own subtransaction.
    undone: SessionTransaction | None = previous_transaction
    while undone is not None and undone.parent is not None and not undone.nested:
        undone = undone.parent
    if undone is None or undone.parent is None:
        session.info.pop(_PENDING_KEY, None)
        return

    def inside(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is undone:
                return True
            transaction = transaction.parent
        return False

    session.info[_PENDING_KEY] = [
        e for e in pending if not (_deferred(e) and inside(getattr(e, _RECORDED_IN)))
    ]


def install_sealing() -> None:
    """Seal audit events at commit on every Session (idempotent)."""
    if not event.contains(Session, "before_commit", _seal_pending):
        event.listen(Session, "before_commit", _seal_pending)
        event.listen(Session, "after_soft_rollback", _drop_rolled_back)
        event.listen(Session, "after_transaction_end", _forget_at_end)


@dataclass
class ChainReport:
    """Result of :func:`verify_audit_chain`."""

    checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        """True when every event's hash and link match."""
        return not self.problems


def verify_audit_chain(session: Session, *, batch_size: int = 5000) -> ChainReport:
    """Recompute every hash in sequence order and report breaks, edits and gaps."""
    problems: list[str] = []
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_seq = 0
    while True:
        rows = (
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.seq.is_not(None), AuditEvent.seq > last_seq)
                .order_by(AuditEvent.seq)
                .limit(batch_size)
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for audit_event in rows:
            seq = audit_event.seq or 0
            if seq != expected_seq:
                problems.append(f"gap: expected seq {expected_seq}, found {seq} (events deleted?)")
            if not same_digest(audit_event.prev_hash, prev_hash):
                problems.append(f"seq {seq}: link to previous event broken")
            recomputed = event_hash(audit_event, audit_event.prev_hash or "")
            if not same_digest(recomputed, audit_event.hash):
                problems.append(f"seq {seq}: content does not match its hash (event altered)")
            prev_hash = audit_event.hash or ""
            expected_seq = seq + 1
            last_seq = seq
            checked += 1
    head = session.get(AuditChainHead, 1)
    if head is not None and head.last_seq != last_seq:
        problems.append(
            f"chain head says {head.last_seq} events, found {last_seq} (tail removed?)"
        )
    unsealed = session.execute(
        select(AuditEvent.id).where(AuditEvent.seq.is_(None)).limit(1)
    ).first()
    if unsealed is not None:
        problems.append("events without a chain position exist (written outside the application)")
    return ChainReport(checked=checked, problems=problems)
