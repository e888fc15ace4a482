"""Sending documents to ANAF and following them until ANAF decides.

:func:`upload_submission` is the one service that owns its transactions. An upload is
an external side effect that must sit between two commits, like Kill Bill's payment
transaction that is recorded before the gateway is called:

1. claim: lock the row (``SELECT ... FOR UPDATE`` on PostgreSQL), render and validate
   the XML, and move PENDING -> UPLOADING with a compare-and-set UPDATE; commit. Only
   one worker can win the claim, so a document is uploaded at most once;
2. call ANAF with no transaction open;
3. record the answer (UPLOADED with its index, REJECTED, PENDING when the request
   provably never left, UNKNOWN when it left and the answer was lost); commit.

Polling and resolving are ordinary services (flush, never commit).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from praho.core.clock import BUCHAREST, resolve_now
from praho.core.db import is_postgres
from praho.core.models.invoices import Invoice
from praho.core.xmlinput import UntrustedXMLError, parse_untrusted_xml
from praho.plugins.ro_efactura.anaf_client import (
    QUOTA_MARKERS,
    STATE_NOK,
    STATE_NOT_TAKEN,
    STATE_OK,
    STATE_PROCESSING,
    AnafClient,
    ResponseArchive,
)
from praho.plugins.ro_efactura.errors import (
    AnafAuthError,
    AnafError,
    AnafOutcomeUnknown,
    AnafRateLimited,
    AnafRejected,
)
from praho.plugins.ro_efactura.models import EfacturaEvent, EfacturaSubmission, SubmissionState
from praho.plugins.ro_efactura.rendering import render_document
from praho.plugins.ro_efactura.settings import EfacturaSettings
from praho.plugins.ro_efactura.states import move
from praho.plugins.ro_efactura.submissions import unknown_grace_ends, unknown_since
from praho.plugins.ro_efactura.tokens import access_token_for
from praho.plugins.ro_efactura.ubl_parties import NS_CAC, NS_CBC
from praho.plugins.ro_efactura.validation import UBL_ROOTS, errors_only, validate_all
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

log = logging.getLogger("praho.efactura")
S = SubmissionState
FIRST_POLL = timedelta(minutes=1)
MAX_POLL_INTERVAL = timedelta(hours=6)
# ANAF allows 10 descarcare calls per message per day (limiteApeluriAPI.txt); ignoring
# the limit repeatedly can get API access blocked. A failed download of a final
# document's zip (the document itself is settled) is retried after at least this long,
# so a day holds at most a first try, one quick retry and eight slow ones.
MIN_DOWNLOAD_RETRY = timedelta(hours=3)
# After a daily quota answer ("S-au facut deja ..."), wait until this long past midnight
# in Bucharest, when ANAF's day starts again.
QUOTA_RESET_MARGIN = timedelta(minutes=10)
TransactionFactory = Callable[[], Any]  # Database.transaction: a context manager of Session


def poll_delay(poll_count: int) -> timedelta:
    """Exponential backoff between status checks: 1, 2, 4 ... minutes, at most 6 hours."""
    return min(FIRST_POLL * (2 ** min(poll_count, 20)), MAX_POLL_INTERVAL)


def is_daily_quota(error: AnafError) -> bool:
    """ANAF's per-day limit ("S-au facut deja 10 descarcari ..."), not a 429 per minute."""
    return isinstance(error, AnafRateLimited) and any(
        marker in error.message.lower() for marker in QUOTA_MARKERS
    )


def next_anaf_day(now: datetime) -> datetime:
    """The start of the next day in Bucharest (plus a margin): when ANAF's quotas reset."""
    tomorrow = now.astimezone(BUCHAREST).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=BUCHAREST) + QUOTA_RESET_MARGIN


def retry_at(error: AnafError, now: datetime, delay: timedelta) -> datetime:
    """When to call again after ``error``: the next day for a daily quota, not before
    ANAF's Retry-After for a 429, else after ``delay``."""
    if is_daily_quota(error):
        return next_anaf_day(now)
    if isinstance(error, AnafRateLimited) and error.retry_after:
        return now + max(delay, timedelta(seconds=error.retry_after))
    return now + delay


def _locked(session: Session, submission_id: int) -> EfacturaSubmission | None:
    query = select(EfacturaSubmission).where(EfacturaSubmission.id == submission_id)
    if is_postgres(session):
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def upload_submission(
    transaction: TransactionFactory,
    submission_id: int,
    *,
    client: AnafClient,
    settings: EfacturaSettings,
    now: datetime | None = None,
) -> SubmissionState:
    """Upload one pending document at most once; returns the state it ends in."""
    moment = resolve_now(now)
    with transaction() as session:
        claimed = _claim(session, submission_id, client=client, settings=settings, now=moment)
        if claimed is None:
            submission = session.get(EfacturaSubmission, submission_id)
            return SubmissionState(submission.state) if submission else S.CANCELLED
        xml, token, params = claimed
    try:
        try:
            receipt = client.upload(xml, token=token, **params)
        except AnafAuthError:
            # Refused before processing: refresh the token once and send again.
            with transaction() as session:
                token = access_token_for(
                    session,
                    params["cif"],
                    client=client,
                    settings=settings,
                    now=moment,
                    force_refresh=True,
                )
            receipt = client.upload(xml, token=token, **params)
    except AnafError as error:
        with transaction() as session:
            return _record_failure(session, submission_id, error, now=moment)
    with transaction() as session:
        submission = _locked(session, submission_id)
        assert submission is not None
        submission.upload_index = receipt.index
        submission.uploaded_at = moment
        submission.next_poll_at = moment + FIRST_POLL
        submission.last_error = None
        session.add(
            move(
                submission,
                S.UPLOADED,
                now=moment,
                upload_index=receipt.index,
                date_response=receipt.date_response,
            )
        )
        log.info("e-Factura %s uploaded, index %s", submission.document_number, receipt.index)
        return S.UPLOADED


def _claim(
    session: Session,
    submission_id: int,
    *,
    client: AnafClient,
    settings: EfacturaSettings,
    now: datetime,
) -> tuple[bytes, str, dict[str, Any]] | None:
    """Validate and claim a pending submission; None when it is not (or no longer) ours."""
    submission = _locked(session, submission_id)
    if submission is None or submission.state != S.PENDING:
        return None
    invoice = session.get(Invoice, submission.invoice_id)
    assert invoice is not None
    xml = render_document(invoice)
    problems = errors_only(validate_all(xml))
    if problems:
        submission.anaf_errors = [str(p) for p in problems]
        submission.last_error = f"{len(problems)} validation error(s); never uploaded"
        session.add(move(submission, S.INVALID, now=now, errors=submission.anaf_errors[:50]))
        log.warning("e-Factura %s fails validation: %s", submission.document_number, problems[0])
        return None
    try:
        token = access_token_for(
            session, submission.seller_cui, client=client, settings=settings, now=now
        )
    except AnafError as error:
        submission.last_error = error.message
        submission.updated_at = now
        return None
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(EfacturaSubmission)
        .where(EfacturaSubmission.id == submission_id, EfacturaSubmission.state == str(S.PENDING))
        .values(
            state=str(S.UPLOADING),
            claimed_at=now,
            attempts=EfacturaSubmission.attempts + 1,
            xml=xml,
            xml_sha256=hashlib.sha256(xml).hexdigest(),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    won = result.rowcount
    if won != 1:
        return None
    session.refresh(submission)
    session.add(
        EfacturaEvent(
            submission=submission,
            at=now,
            from_state=str(S.PENDING),
            to_state=str(S.UPLOADING),
            detail={"attempt": submission.attempts, "xml_sha256": submission.xml_sha256},
        )
    )
    params = {
        "cif": submission.seller_cui,
        "standard": submission.standard,
        "b2c": submission.b2c,
        "extern": submission.extern,
        "self_billed": submission.self_billed,
    }
    return xml, token, params


def _record_failure(
    session: Session, submission_id: int, error: AnafError, *, now: datetime
) -> SubmissionState:
    submission = _locked(session, submission_id)
    assert submission is not None
    submission.last_error = error.message
    if isinstance(error, AnafOutcomeUnknown):
        submission.next_poll_at = now + timedelta(minutes=10)
        session.add(move(submission, S.UNKNOWN, now=now, error=error.message))
        log.warning("e-Factura %s: %s", submission.document_number, error.message)
        return S.UNKNOWN
    if isinstance(error, AnafRejected):
        submission.anaf_errors = error.errors or [error.message]
        session.add(move(submission, S.REJECTED, now=now, errors=submission.anaf_errors))
        return S.REJECTED
    # Unavailable, rate limited or unauthorized: nothing reached ANAF; release the claim.
    session.add(move(submission, S.PENDING, now=now, error=error.message))
    return S.PENDING


def poll_submission(
    session: Session,
    submission: EfacturaSubmission,
    *,
    client: AnafClient,
    settings: EfacturaSettings,
    now: datetime,
) -> SubmissionState:
    """Ask stareMesaj about an uploaded document and follow it to ACCEPTED or REJECTED.

    A final document whose response zip is still missing is downloaded here too.
    """
    state = SubmissionState(submission.state)
    missing_zip = (
        state in (S.ACCEPTED, S.REJECTED) and submission.download_id and not submission.response_zip
    )
    try:
        token = access_token_for(
            session, submission.seller_cui, client=client, settings=settings, now=now
        )
        if missing_zip:
            _store_archive(submission, client.download(submission.download_id, token=token))
            submission.next_poll_at = None
            return state
        if state not in (S.UPLOADED, S.PROCESSING) or not submission.upload_index:
            return state
        status = client.message_status(submission.upload_index, token=token)
    except AnafError as error:
        if missing_zip:
            _download_failed(submission, error, now, minimum=MIN_DOWNLOAD_RETRY)
        else:
            _back_off(submission, error, now)
        return state
    submission.poll_count += 1
    if status.state == STATE_PROCESSING:
        if state == S.UPLOADED:
            session.add(move(submission, S.PROCESSING, now=now))
        submission.next_poll_at = now + poll_delay(submission.poll_count)
        submission.updated_at = now
        return SubmissionState(submission.state)
    if status.state in (STATE_OK, STATE_NOK):
        submission.download_id = status.download_id
        target = S.ACCEPTED if status.state == STATE_OK else S.REJECTED
        session.add(move(submission, target, now=now, download_id=status.download_id))
        submission.next_poll_at = None
        try:
            _store_archive(submission, client.download(status.download_id or "", token=token))
        except AnafError as error:
            _download_failed(submission, error, now, minimum=poll_delay(1))
        return target
    if status.state == STATE_NOT_TAKEN:
        submission.anaf_errors = [STATE_NOT_TAKEN]
        session.add(move(submission, S.REJECTED, now=now, errors=submission.anaf_errors))
        return S.REJECTED
    _back_off(submission, "; ".join(status.errors) or f"unexpected stare {status.state!r}", now)
    return state


def _back_off(submission: EfacturaSubmission, problem: AnafError | str, now: datetime) -> None:
    submission.poll_count += 1
    delay = poll_delay(submission.poll_count)
    if isinstance(problem, AnafError):
        submission.last_error = problem.message
        submission.next_poll_at = retry_at(problem, now, delay)
    else:
        submission.last_error = problem
        submission.next_poll_at = now + delay
    submission.updated_at = now


def _download_failed(
    submission: EfacturaSubmission, error: AnafError, now: datetime, *, minimum: timedelta
) -> None:
    """The zip of a settled document could not be fetched: try again later, never sooner
    than ``minimum`` (the next poll_due must not download it again: 10 per day at most)."""
    submission.poll_count += 1
    submission.last_error = f"response zip not downloaded yet: {error.message}"
    submission.next_poll_at = retry_at(
        error, now, max(minimum, poll_delay(submission.poll_count))
    )
    submission.updated_at = now


def _store_archive(submission: EfacturaSubmission, archive: ResponseArchive) -> None:
    submission.response_zip = archive.raw
    submission.response_sha256 = hashlib.sha256(archive.raw).hexdigest()
    if archive.errors:
        submission.anaf_errors = archive.errors
    submission.last_error = None


NOT_FOUND_AFTER_GRACE = "still not in ANAF's messages after the grace period"


def resolve_unknown(
    session: Session,
    submission: EfacturaSubmission,
    *,
    client: AnafClient,
    settings: EfacturaSettings,
    now: datetime,
) -> SubmissionState:
    """Settle an UNKNOWN outcome from ANAF's message list, never by uploading blindly.

    ANAF's messages of the window (from the upload to now) come from the paginated list,
    every page: the simple list refuses to answer above 500 messages. A "FACTURA
    TRIMISA" message whose zip holds our exact XML (same SHA-256), or a document that
    is ours by its own number, type code, issue date and seller (:func:`_is_our_document`),
    is our upload: ACCEPTED. A lone "ERORI FACTURA" message in the window of a
    lone unknown upload of this CUI is ours: REJECTED. Nothing found is no proof that
    ANAF never received the file (its message list lags when SPV is backlogged), so the
    outcome stays UNKNOWN and keeps being looked for; after ``unknown_grace_hours`` the
    submission says so and waits for a person, who checks SPV and queues it again
    (:func:`..submissions.retry_submission`). A blind second upload could report the
    invoice twice.
    """
    if submission.state != S.UNKNOWN:
        return SubmissionState(submission.state)
    since = unknown_since(submission, now)
    try:
        token = access_token_for(
            session, submission.seller_cui, client=client, settings=settings, now=now
        )
        window = since - timedelta(minutes=5)
        messages = client.list_messages_between(
            submission.seller_cui, token=token, start=window, end=now
        )
        known = set(
            session.execute(
                select(EfacturaSubmission.upload_index).where(
                    EfacturaSubmission.upload_index.is_not(None)
                )
            ).scalars()
        )
        window_start = window.astimezone(BUCHAREST).strftime("%Y%m%d%H%M")
        candidates = [
            m for m in messages if m.upload_index not in known and m.created >= window_start
        ]
        for message in candidates:
            if message.kind != "FACTURA TRIMISA":
                continue
            archive = client.download(message.id, token=token)
            if _is_our_document(submission, archive):
                return _settle(
                    session, submission, S.ACCEPTED, message.upload_index, message.id, archive, now
                )
        errors = [m for m in candidates if m.kind == "ERORI FACTURA"]
        unknown_here = (
            session.execute(
                select(EfacturaSubmission.id).where(
                    EfacturaSubmission.state == str(S.UNKNOWN),
                    EfacturaSubmission.seller_cui == submission.seller_cui,
                )
            )
            .scalars()
            .all()
        )
        if len(errors) == 1 and len(unknown_here) == 1:
            archive = client.download(errors[0].id, token=token)
            return _settle(
                session, submission, S.REJECTED, errors[0].upload_index, errors[0].id, archive, now
            )
    except AnafError as error:
        _back_off(submission, error, now)
        return S.UNKNOWN
    if now >= unknown_grace_ends(submission, settings, now):
        _back_off(
            submission,
            f"{NOT_FOUND_AFTER_GRACE} ({settings.unknown_grace_hours}h): check SPV, then queue "
            "it again if ANAF does not have it",
            now,
        )
        return S.UNKNOWN
    _back_off(submission, "outcome unknown: not (yet) in ANAF's message list", now)
    return S.UNKNOWN


def _is_our_document(submission: EfacturaSubmission, archive: ResponseArchive) -> bool:
    """True when the zip's document is the one this submission uploaded.

    The same bytes (SHA-256) settle it. Otherwise the document must be ours by its own
    header: the same root (Invoice or CreditNote), top-level cbc:ID, type code, issue
    date and seller CUI as the XML we uploaded. Never a text search: a credit note (381)
    or a corrected invoice (384) carries the number of the invoice it corrects in
    BillingReference/InvoiceDocumentReference/cbc:ID, and taking it for that invoice
    would mark an invoice ANAF never received as accepted.
    """
    document = archive.document or b""
    if submission.xml_sha256 and hmac.compare_digest(
        hashlib.sha256(document).hexdigest(), submission.xml_sha256
    ):
        return True
    if not submission.xml:
        return False
    ours, theirs = _identity(submission.xml), _identity(document)
    return (
        ours is not None
        and theirs is not None
        and ours == theirs
        and ours[1] == submission.document_number
        and ours[4] == _digits(submission.seller_cui)
    )


def _identity(xml: bytes) -> tuple[str, str, str, str, str] | None:
    """(root, number, type code, issue date, seller CUI digits) of a UBL document, read
    only from its top-level elements; None when it is not a readable UBL document."""
    try:
        root = parse_untrusted_xml(xml, max_bytes=12 * 1024 * 1024, what="e-Factura document")
    except UntrustedXMLError:
        return None
    kind = UBL_ROOTS.get(root.tag)
    if kind is None:
        return None

    def child(path: str) -> str:
        found = root.find(path, {"cbc": NS_CBC, "cac": NS_CAC})
        return (found.text or "").strip() if found is not None else ""

    party = "cac:AccountingSupplierParty/cac:Party"
    seller = child(f"{party}/cac:PartyTaxScheme/cbc:CompanyID") or child(
        f"{party}/cac:PartyLegalEntity/cbc:CompanyID"
    )
    return (
        kind,
        child("cbc:ID"),
        child(f"cbc:{kind}TypeCode"),
        child("cbc:IssueDate"),
        _digits(seller),
    )


def _digits(cui: str) -> str:
    return cui.upper().removeprefix("RO").strip()


def _settle(
    session: Session,
    submission: EfacturaSubmission,
    target: SubmissionState,
    upload_index: str,
    download_id: str,
    archive: ResponseArchive,
    now: datetime,
) -> SubmissionState:
    submission.upload_index = upload_index
    submission.download_id = download_id
    session.add(
        move(
            submission,
            target,
            now=now,
            upload_index=upload_index,
            download_id=download_id,
            resolved_by="message list",
        )
    )
    _store_archive(submission, archive)
    submission.next_poll_at = None
    session.flush()
    return target
