"""Verifying a customer's VAT number: the VIES answer cache and the consultation log.

Every consultation is written to ``eu_vat_vies_checks``. A valid answer is reused for
``vies_valid_cache_days``, an invalid one for ``vies_invalid_cache_hours``; a fault is
logged but never reused and never turns into "invalid". What to do when VIES cannot
answer is the regime's outage policy (see :mod:`praho.plugins.eu_vat.regime`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from praho.core.clock import resolve_now
from praho.core.errors import FieldError
from praho.plugins.eu_vat.models import ViesCheck, ViesOutcome
from praho.plugins.eu_vat.settings import EuVatSettings
from praho.plugins.eu_vat.vies import ViesClient, ViesUnavailable
from sqlalchemy import select
from sqlalchemy.orm import Session

# VIES uses EL for Greece; ISO 3166 says GR.
VIES_CODE_FOR_COUNTRY = {"GR": "EL"}


class VatNumberStatus(StrEnum):
    """What we know about a number for one decision."""

    VALID = "valid"
    INVALID = "invalid"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class Verification:
    """The verdict on one number and where it came from (live, cache, or VIES failed)."""

    vat_id: str
    status: VatNumberStatus
    source: str
    checked_at: datetime
    check: ViesCheck | None = None
    fault_code: str | None = None
    fault_detail: str | None = None

    def evidence(self) -> dict[str, Any]:
        """JSON facts kept on the document (request date, consultation number, ...)."""
        check = self.check
        data: dict[str, Any] = {
            "vat_id": self.vat_id,
            "status": str(self.status),
            "source": self.source,
            "checked_at": self.checked_at.isoformat(),
        }
        if check is not None:
            data.update(
                {
                    "request_date": check.request_date.isoformat() if check.request_date else None,
                    "request_identifier": check.request_identifier,
                    "requester_vat_id": check.requester_vat_id,
                    "checked_at": check.checked_at.isoformat(),
                    "name": check.name,
                    "consultation_id": check.id,
                }
            )
        if self.fault_code:
            data["fault_code"] = self.fault_code
            data["fault_detail"] = self.fault_detail
        return data


def split_vat_id(vat_id: str) -> tuple[str, str]:
    """``DE136695976`` -> (``DE``, ``136695976``); Greek ids use VIES's ``EL`` prefix."""
    compact = "".join(str(vat_id or "").split()).upper().replace("-", "").replace(".", "")
    if len(compact) < 4 or not compact[:2].isalpha():
        raise FieldError("vat_id", f"{vat_id!r} has no country prefix (e.g. DE136695976)")
    country, number = compact[:2], compact[2:]
    return VIES_CODE_FOR_COUNTRY.get(country, country), number


def _cached(session: Session, country: str, number: str, now: datetime) -> ViesCheck | None:
    return session.scalars(
        select(ViesCheck)
        .where(
            ViesCheck.country_code == country,
            ViesCheck.vat_number == number,
            ViesCheck.outcome != ViesOutcome.FAULT,
            ViesCheck.expires_at > now,
        )
        .order_by(ViesCheck.checked_at.desc(), ViesCheck.id.desc())
        .limit(1)
    ).first()


def last_answer(session: Session, vat_id: str) -> ViesCheck | None:
    """The most recent real answer (valid or invalid, expired or not) for a number."""
    country, number = split_vat_id(vat_id)
    return session.scalars(
        select(ViesCheck)
        .where(
            ViesCheck.country_code == country,
            ViesCheck.vat_number == number,
            ViesCheck.outcome != ViesOutcome.FAULT,
        )
        .order_by(ViesCheck.checked_at.desc(), ViesCheck.id.desc())
        .limit(1)
    ).first()


def verify_vat_number(
    session: Session,
    vat_id: str,
    *,
    client: ViesClient,
    settings: EuVatSettings,
    requester_vat_id: str | None = None,
    use_cache: bool = True,
    now: datetime | None = None,
) -> Verification:
    """Verify ``vat_id`` with VIES unless a fresh answer is cached; log the consultation.

    Returns UNVERIFIED (with the fault code) when VIES fails; it never raises for an
    outage, so the caller's policy decides.
    """
    moment = resolve_now(now)
    country, number = split_vat_id(vat_id)
    full = f"{country}{number}"
    if use_cache:
        cached = _cached(session, country, number, moment)
        if cached is not None:
            status = VatNumberStatus.VALID if cached.valid else VatNumberStatus.INVALID
            return Verification(full, status, "cache", moment, cached)
    requester = split_vat_id(requester_vat_id) if requester_vat_id else None
    requester_text = "".join(requester) if requester else None
    try:
        answer = client.check(country, number, requester=requester)
    except ViesUnavailable as failure:
        session.add(
            ViesCheck(
                country_code=country,
                vat_number=number,
                outcome=ViesOutcome.FAULT,
                fault_code=failure.fault_code,
                fault_message=failure.detail[:300],
                requester_vat_id=requester_text,
                checked_at=moment,
                expires_at=None,
            )
        )
        session.flush()
        return Verification(
            full,
            VatNumberStatus.UNVERIFIED,
            "unavailable",
            moment,
            fault_code=failure.fault_code,
            fault_detail=failure.detail,
        )
    keep = (
        timedelta(days=settings.vies_valid_cache_days)
        if answer.valid
        else timedelta(hours=settings.vies_invalid_cache_hours)
    )
    check = ViesCheck(
        country_code=country,
        vat_number=number,
        outcome=ViesOutcome.VALID if answer.valid else ViesOutcome.INVALID,
        valid=answer.valid,
        name=(answer.name or None) and answer.name[:300],
        address=(answer.address or None) and answer.address[:500],
        request_date=answer.request_date,
        request_identifier=answer.request_identifier,
        requester_vat_id=requester_text,
        checked_at=moment,
        expires_at=moment + keep,
    )
    session.add(check)
    session.flush()
    return Verification(
        full,
        VatNumberStatus.VALID if answer.valid else VatNumberStatus.INVALID,
        "live",
        moment,
        check,
    )
