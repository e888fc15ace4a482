"""ORM guards for immutable records (issued documents, journal, audit).

PostgreSQL enforces the same rules with triggers (migrations/); these listeners give
the same protection on SQLite and a typed error before anything reaches the database.
"""

from __future__ import annotations

from typing import Any

from praho.core.errors import AppendOnlyViolation, DocumentLocked
from praho.core.models.audit import AuditEvent
from praho.core.models.invoices import (
    MUTABLE_AFTER_ISSUE,
    Invoice,
    InvoiceAllowance,
    InvoiceLine,
    InvoiceTaxSubtotal,
)
from praho.core.models.ledger import JournalEntry, JournalLine
from praho.core.models.payments import PaymentAllocation
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

_DOCUMENT_CHILDREN = (InvoiceLine, InvoiceAllowance, InvoiceTaxSubtotal)
# Allocations too: a payment applied to an invoice is undone by a negative allocation.
_APPEND_ONLY = (JournalEntry, JournalLine, PaymentAllocation)
_AUDIT_SEAL_FIELDS = frozenset({"seq", "prev_hash", "hash"})


def _changed_attributes(obj: Any) -> set[str]:
    state = inspect(obj)
    return {attr.key for attr in state.attrs if attr.history.has_changes()}


def _committed_value(obj: Any, key: str) -> Any:
    """The attribute's value as last loaded from or flushed to the database."""
    history = getattr(inspect(obj).attrs, key).history
    if history.deleted:
        return history.deleted[0]
    if history.added:
        return None
    return getattr(obj, key)


def _was_locked(invoice: Invoice) -> bool:
    """True when the document was already locked before the current flush."""
    return _committed_value(invoice, "locked_at") is not None


def _parent_locked(session: Session, child: Any) -> Invoice | None:
    invoice = child.invoice if child.invoice is not None else session.get(Invoice, child.invoice_id)
    if invoice is not None and _was_locked(invoice):
        return invoice
    return None


def _check_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.deleted:
        if isinstance(obj, Invoice) and obj.locked_at is not None:
            raise DocumentLocked(f"issued document {obj.full_number} cannot be deleted; void or credit it")
        if isinstance(obj, _DOCUMENT_CHILDREN) and _parent_locked(session, obj):
            raise DocumentLocked("lines of an issued document cannot be deleted")
        if isinstance(obj, (*_APPEND_ONLY, AuditEvent)):
            raise AppendOnlyViolation(f"{type(obj).__name__} is append-only and cannot be deleted")

    for obj in session.dirty:
        if not session.is_modified(obj, include_collections=False):
            continue
        if isinstance(obj, Invoice) and _was_locked(obj):
            frozen = _changed_attributes(obj) - MUTABLE_AFTER_ISSUE
            if frozen:
                raise DocumentLocked(
                    f"issued document {obj.full_number} is immutable; "
                    f"refused change to {sorted(frozen)} (issue a credit note instead)"
                )
        elif isinstance(obj, _DOCUMENT_CHILDREN):
            parent = _parent_locked(session, obj)
            if parent is not None:
                raise DocumentLocked(f"lines of issued document {parent.full_number} are immutable")
        elif isinstance(obj, _APPEND_ONLY):
            raise AppendOnlyViolation(
                f"{type(obj).__name__} is append-only; post a reversing entry instead"
            )
        elif isinstance(obj, AuditEvent):
            sealing = _committed_value(obj, "seq") is None
            if not (sealing and _changed_attributes(obj) <= _AUDIT_SEAL_FIELDS):
                raise AppendOnlyViolation("audit events are append-only")

    for obj in session.new:
        if isinstance(obj, _DOCUMENT_CHILDREN):
            parent = _parent_locked(session, obj)
            if parent is not None:
                raise DocumentLocked(f"issued document {parent.full_number} cannot get new lines")


def install_guards() -> None:
    """Attach the guards to every Session (idempotent)."""
    if not event.contains(Session, "before_flush", _check_flush):
        event.listen(Session, "before_flush", _check_flush)
