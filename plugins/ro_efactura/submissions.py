"""Submissions in the database: what must be reported, queueing, vetoes, retries, deadlines.

What is reported (Law 296/2023, OUG 120/2021 as amended, OUG 89/2025):

- invoices and credit notes of a seller established in Romania to Romanian buyers,
  companies (B2B, ``upload``) and private persons (B2C since 2025, ``uploadb2c``);
- NOT proformas (not fiscal documents), drafts, documents of a seller outside Romania;
- buyers outside Romania only when ``report_foreign_buyers`` is on (optional in law),
  uploaded with ``extern=DA``.

Functions here flush and never commit; the network-facing work is in :mod:`.transmission`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from praho.core.errors import InvalidTransition, NotFound
from praho.core.models.invoices import DocumentKind, Invoice
from praho.core.services.audit import Actor, record_audit
from praho.core.services.bulk_sql import insert_rows
from praho.plugins.ro_efactura.deadlines import submission_deadline, working_days_left
from praho.plugins.ro_efactura.models import EfacturaEvent, EfacturaSubmission, SubmissionState
from praho.plugins.ro_efactura.rendering import document_type_code
from praho.plugins.ro_efactura.settings import EfacturaSettings, current_settings
from praho.plugins.ro_efactura.states import NEEDS_ATTENTION, OPEN, TRANSMITTED, move
from sqlalchemy import select
from sqlalchemy.orm import Session

S = SubmissionState
# A claim older than this whose worker never recorded an answer is an unknown outcome.
STALE_CLAIM = timedelta(minutes=15)


def exclusion_reason(invoice: Invoice, settings: EfacturaSettings) -> str | None:
    """Why a document is not reported to SPV, or None when it must be."""
    seller = invoice.seller_snapshot or {}
    buyer = invoice.buyer_snapshot or {}
    if invoice.kind == DocumentKind.PROFORMA:
        return "proformas are not fiscal documents"
    if not invoice.full_number:
        return "drafts are not reported"
    if seller.get("country") != "RO" or not seller.get("cui"):
        return "the seller is not established in Romania (no Romanian CUI)"
    if buyer.get("country") != "RO" and not settings.report_foreign_buyers:
        return "the buyer is outside Romania (optional; enable report_foreign_buyers)"
    return None


def is_b2c(invoice: Invoice) -> bool:
    """A private person without a VAT id: uploaded through ``uploadb2c``."""
    buyer = invoice.buyer_snapshot or {}
    return buyer.get("kind") == "individual" and not buyer.get("vat_id")


def queue_submission(
    session: Session,
    invoice: Invoice,
    *,
    settings: EfacturaSettings,
    now: datetime,
    just_issued: bool = False,
) -> EfacturaSubmission | None:
    """Create the pending submission of an issued document (idempotent), or None if excluded.

    ``just_issued`` (the ``invoice_issued`` hook): the document was issued in this very
    transaction, so no submission can exist yet; the lookup and the flush are skipped, and
    the rows go to the database with the rest of the transaction in one batch (the
    billing run issues thousands of documents per chunk). The unique constraint on the
    document still guards against a second row.
    """
    if just_issued:
        queued = session.info.setdefault("praho.efactura.queued", {})
        earlier = queued.get(invoice.id)
        # Only if still pending in this session: a savepoint rolled back since may have
        # removed it, and SQLite may then give the id to another document.
        if earlier is not None and earlier in session:
            return earlier  # type: ignore[no-any-return]
    else:
        existing = submission_for(session, invoice.id)
        if existing is not None:
            return existing
    if exclusion_reason(invoice, settings) is not None:
        return None
    submission = EfacturaSubmission(**_pending_fields(invoice, settings, now))
    session.add(submission)
    session.add(
        EfacturaEvent(
            submission=submission,
            at=now,
            from_state=None,
            to_state=str(S.PENDING),
            detail={"deadline": submission.deadline.isoformat()},
        )
    )
    if just_issued:
        session.info["praho.efactura.queued"][invoice.id] = submission
    else:
        session.flush()
    return submission


def queue_issued_batch(
    session: Session, invoices: list[Invoice], *, settings: EfacturaSettings, now: datetime
) -> int:
    """Queue many documents issued together in this transaction; returns how many.

    The billing run's batch path (``invoices_issued``): the documents were issued in this
    very transaction, so none can have a submission yet. The submissions and their first
    history rows are written with two bulk inserts instead of two ORM objects each; the
    unique constraint on the document still refuses a second row.
    """
    rows = [
        # Plain strings for COPY, which writes values without the ORM's type handling.
        {**_pending_fields(invoice, settings, now), "state": str(S.PENDING)}
        for invoice in invoices
        if exclusion_reason(invoice, settings) is None
    ]
    if not rows:
        return 0
    ids = insert_rows(session, EfacturaSubmission.__table__, rows, return_ids=True)
    insert_rows(
        session,
        EfacturaEvent.__table__,
        [
            {
                "submission_id": submission_id,
                "at": now,
                "from_state": None,
                "to_state": str(S.PENDING),
                "detail": {"deadline": row["deadline"].isoformat()},
            }
            for submission_id, row in zip(ids, rows, strict=True)
        ],
    )
    return len(rows)


def _pending_fields(invoice: Invoice, settings: EfacturaSettings, now: datetime) -> dict[str, Any]:
    """The columns of a new pending submission of an issued document."""
    assert invoice.issue_date is not None
    buyer = invoice.buyer_snapshot or {}
    return {
        "invoice_id": invoice.id,
        "document_number": invoice.full_number,
        "seller_cui": str((invoice.seller_snapshot or {})["cui"]),
        "standard": "CN" if invoice.kind == DocumentKind.CREDIT_NOTE else "UBL",
        "b2c": is_b2c(invoice),
        "extern": buyer.get("country") != "RO",
        "self_billed": invoice.kind == DocumentKind.INVOICE
        and document_type_code(invoice) == "389",
        "environment": settings.environment,
        "state": S.PENDING,
        "issue_date": invoice.issue_date,
        "deadline": submission_deadline(invoice.issue_date),
        "attempts": 0,
        "poll_count": 0,
        "anaf_errors": [],
        "created_at": now,
        "updated_at": now,
    }


def unknown_since(submission: EfacturaSubmission, now: datetime) -> datetime:
    """When the upload whose outcome is unknown left (claimed for it)."""
    return submission.claimed_at or submission.updated_at or now


def unknown_grace_ends(
    submission: EfacturaSubmission, settings: EfacturaSettings, now: datetime
) -> datetime:
    """Until then only ANAF's messages settle an unknown upload; after, a person may."""
    return unknown_since(submission, now) + timedelta(hours=settings.unknown_grace_hours)


def submission_for(session: Session, invoice_id: int) -> EfacturaSubmission | None:
    """The submission of a document, if it has one."""
    return session.execute(
        select(EfacturaSubmission).where(EfacturaSubmission.invoice_id == invoice_id)
    ).scalar_one_or_none()


def get_submission(session: Session, number_or_id: str) -> EfacturaSubmission:
    """A submission by document number (or submission id)."""
    query = select(EfacturaSubmission).where(EfacturaSubmission.document_number == number_or_id)
    found = session.execute(query).scalar_one_or_none()
    if found is None and number_or_id.isdigit():
        found = session.get(EfacturaSubmission, int(number_or_id))
    if found is None:
        raise NotFound(f"no e-Factura submission for {number_or_id}")
    return found


def void_vetoes(session: Session, invoice: Invoice) -> list[str]:
    """Reasons to refuse voiding: ANAF has (or may have) the document."""
    submission = submission_for(session, invoice.id)
    if submission is None or submission.state not in TRANSMITTED:
        return []
    where = f" (upload index {submission.upload_index})" if submission.upload_index else ""
    return [
        f"it was transmitted to ANAF e-Factura{where}, state {submission.state}; "
        "correct it with a credit note"
    ]


def cancel_for_void(session: Session, invoice: Invoice, *, now: datetime) -> None:
    """A voided document that was never transmitted is not sent any more."""
    submission = submission_for(session, invoice.id)
    if submission is not None and submission.state in {S.PENDING, S.INVALID, S.REJECTED}:
        session.add(move(submission, S.CANCELLED, now=now, reason="document voided"))
        session.flush()


def retry_submission(
    session: Session, submission: EfacturaSubmission, *, actor: Actor | None, now: datetime
) -> EfacturaSubmission:
    """Queue a submission again: rejected or invalid (after fixing what was outside the
    XML), or unknown once the grace period has passed without ANAF's messages showing it
    (a person checked SPV; before that, the poll may still find it and a second upload
    could report the invoice twice)."""
    # Locked and read again: the poll may have settled it a moment ago (accepted).
    session.execute(
        select(EfacturaSubmission).where(EfacturaSubmission.id == submission.id)
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    if submission.state == S.UNKNOWN:
        grace_ends = unknown_grace_ends(submission, current_settings(), now)
        if now < grace_ends:
            raise InvalidTransition(
                f"{submission.document_number}: the outcome of the upload is still being "
                f"looked for in ANAF's messages; it can be queued again from "
                f"{grace_ends.isoformat(timespec='minutes')}"
            )
    session.add(
        move(
            submission,
            S.PENDING,
            now=now,
            reason="retry requested",
            previous_errors=submission.anaf_errors,
        )
    )
    submission.last_error = None
    submission.next_poll_at = None
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="efactura.retried",
        object_type="invoice",
        object_id=submission.document_number,
        now=now,
        data={"attempts": submission.attempts},
    )
    return submission


def ids_in_state(
    session: Session, state: SubmissionState, *, limit: int, due_before: datetime | None = None
) -> list[int]:
    """Submission ids in a state (oldest first), optionally only those due for a poll."""
    query = select(EfacturaSubmission.id).where(EfacturaSubmission.state == state)
    if due_before is not None:
        query = query.where(
            (EfacturaSubmission.next_poll_at.is_(None))
            | (EfacturaSubmission.next_poll_at <= due_before)
        )
    return list(session.execute(query.order_by(EfacturaSubmission.id).limit(limit)).scalars())


def mark_stale_claims_unknown(session: Session, *, now: datetime) -> int:
    """Claims whose worker died before recording ANAF's answer become UNKNOWN outcomes."""
    stale = (
        session.execute(
            select(EfacturaSubmission).where(
                EfacturaSubmission.state == S.UPLOADING,
                EfacturaSubmission.claimed_at < now - STALE_CLAIM,
            )
        )
        .scalars()
        .all()
    )
    for submission in stale:
        submission.last_error = "the worker stopped after claiming the upload; outcome unknown"
        submission.next_poll_at = now
        session.add(move(submission, S.UNKNOWN, now=now, reason="stale claim"))
    session.flush()
    return len(stale)


@dataclass(frozen=True)
class DeadlineAlert:
    """A document not yet accepted by ANAF and close to (or past) its deadline."""

    document_number: str
    state: str
    deadline: date
    working_days_left: int
    last_error: str | None

    def __str__(self) -> str:
        when = (
            f"{-self.working_days_left} working day(s) LATE"
            if self.working_days_left < 0
            else f"{self.working_days_left} working day(s) left"
        )
        why = f": {self.last_error}" if self.last_error else ""
        return f"{self.document_number} ({self.state}) deadline {self.deadline}, {when}{why}"


def deadline_alerts(
    session: Session, *, today: date, settings: EfacturaSettings, mark: bool = False
) -> list[DeadlineAlert]:
    """Unaccepted documents within ``alert_working_days`` of their deadline, most urgent first.

    With ``mark``, each is stamped ``alerted_on = today`` and not returned again that day.
    """
    horizon = today + timedelta(days=3 * settings.alert_working_days + 7)
    rows = (
        session.execute(
            select(EfacturaSubmission)
            .where(
                EfacturaSubmission.state.in_([str(s) for s in OPEN | NEEDS_ATTENTION]),
                EfacturaSubmission.deadline <= horizon,
            )
            .order_by(EfacturaSubmission.deadline, EfacturaSubmission.id)
        )
        .scalars()
        .all()
    )
    alerts = []
    for submission in rows:
        left = working_days_left(today, submission.deadline)
        if left > settings.alert_working_days:
            continue
        if mark and submission.alerted_on == today:
            continue
        alerts.append(
            DeadlineAlert(
                submission.document_number,
                str(submission.state),
                submission.deadline,
                left,
                submission.last_error,
            )
        )
        if mark:
            submission.alerted_on = today
    session.flush()
    return alerts
