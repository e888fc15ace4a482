"""The submission state machine: one transition table, one function that moves along it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from praho.plugins.ro_efactura.errors import SubmissionTransitionError
from praho.plugins.ro_efactura.models import EfacturaEvent, EfacturaSubmission, SubmissionState

S = SubmissionState

# from state -> states it may move to. Nothing leaves ACCEPTED or CANCELLED.
TRANSITIONS: dict[SubmissionState, frozenset[SubmissionState]] = {
    S.PENDING: frozenset({S.UPLOADING, S.INVALID, S.CANCELLED}),
    # Validated again after the validation artifacts change; else void and re-issue.
    S.INVALID: frozenset({S.PENDING, S.CANCELLED}),
    # The claim is released (PENDING) only when the request provably never left.
    S.UPLOADING: frozenset({S.UPLOADED, S.REJECTED, S.UNKNOWN, S.PENDING}),
    S.UPLOADED: frozenset({S.PROCESSING, S.ACCEPTED, S.REJECTED}),
    S.PROCESSING: frozenset({S.ACCEPTED, S.REJECTED}),
    # Resolved by listing ANAF's messages: found (UPLOADED/ACCEPTED/REJECTED) or, after
    # the grace period, provably never received (PENDING, uploaded again).
    S.UNKNOWN: frozenset({S.UPLOADED, S.ACCEPTED, S.REJECTED, S.PENDING}),
    # An operator may retry a rejection caused by something outside the document (SPV
    # rights, a CUI not yet registered); a voided document's rejection is closed.
    S.REJECTED: frozenset({S.PENDING, S.CANCELLED}),
    S.ACCEPTED: frozenset(),
    S.CANCELLED: frozenset(),
}
# ANAF holds (or may hold) the document: voiding is refused, correct with a credit note.
TRANSMITTED = frozenset({S.UPLOADING, S.UPLOADED, S.PROCESSING, S.ACCEPTED, S.UNKNOWN})
# Still needs work from us or from ANAF.
OPEN = frozenset({S.PENDING, S.UPLOADING, S.UPLOADED, S.PROCESSING, S.UNKNOWN})
# Not (yet) accepted and needing a person: counted by the deadline alerts with OPEN.
NEEDS_ATTENTION = frozenset({S.INVALID, S.REJECTED})
FINAL = frozenset({S.ACCEPTED, S.REJECTED, S.CANCELLED})


def can_move(current: SubmissionState | str, target: SubmissionState) -> bool:
    """True when the table allows ``current -> target``."""
    return target in TRANSITIONS[SubmissionState(current)]


def move(
    submission: EfacturaSubmission, target: SubmissionState, *, now: datetime, **detail: Any
) -> EfacturaEvent:
    """Move a submission to ``target`` and record the event, or raise if the table forbids it."""
    current = SubmissionState(submission.state)
    if not can_move(current, target):
        raise SubmissionTransitionError(
            f"e-Factura submission of {submission.document_number}: {current} -> {target} "
            "is not allowed"
        )
    submission.state = target
    submission.updated_at = now
    if target in FINAL:
        submission.resolved_at = now
    event = EfacturaEvent(
        submission=submission,
        at=now,
        from_state=str(current),
        to_state=str(target),
        detail=_jsonable(detail),
    )
    return event


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v if isinstance(v, str | int | float | bool | list | dict | type(None)) else str(v))
        for k, v in detail.items()
    }
