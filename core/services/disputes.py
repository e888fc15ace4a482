"""Recording disputes the gateways report (idempotent per gateway reference, audited)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.models.disputes import Dispute, DisputeStatus
from praho.core.services.audit import Actor, record_audit
from sqlalchemy import select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class DisputeReport:
    """What a gateway says about a dispute, in our terms."""

    gateway_id: str
    gateway_reference: str
    payment_reference: str | None
    amount_minor: int
    currency: str
    status: DisputeStatus
    reason: str = ""
    gateway_status: str = ""


def record_dispute(
    session: Session,
    report: DisputeReport,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Dispute:
    """Create or update the dispute ``report`` describes; audit each change of status.

    Reports arrive at least once and out of order: an unchanged report changes nothing,
    and a closed dispute is not reopened by a late "created" report.
    """
    moment = resolve_now(now)
    # A gateway's figures are input: checked before any lookup or write (a FieldError
    # makes the webhook pipeline retry, then flag the event; nothing is stored).
    v.amount_minor("amount_minor", report.amount_minor)
    v.currency("currency", report.currency.upper() if isinstance(report.currency, str)
               else report.currency)
    dispute = session.execute(
        select(Dispute)
        .where(
            Dispute.gateway_id == report.gateway_id,
            Dispute.gateway_reference == report.gateway_reference,
        )
        .with_for_update()
    ).scalar_one_or_none()
    if dispute is None:
        dispute = Dispute(
            gateway_id=report.gateway_id,
            gateway_reference=report.gateway_reference,
            payment_reference=report.payment_reference,
            amount_minor=report.amount_minor,
            currency=report.currency.upper(),
            reason=report.reason[:100],
            status=DisputeStatus.OPEN,
            gateway_status=report.gateway_status[:50],
            opened_at=moment,
            created_at=moment,
            updated_at=moment,
        )
        session.add(dispute)
        session.flush()
        record_audit(
            session,
            actor=actor,
            action="dispute.opened",
            object_type="dispute",
            object_id=dispute.id,
            amount_minor=dispute.amount_minor,
            currency=dispute.currency,
            data={
                "gateway": report.gateway_id,
                "reference": report.gateway_reference,
                "reason": dispute.reason,
            },
            now=moment,
        )
    if report.status == DisputeStatus.OPEN or dispute.status != DisputeStatus.OPEN:
        return dispute
    dispute.status = report.status
    dispute.gateway_status = report.gateway_status[:50]
    dispute.closed_at = moment
    dispute.updated_at = moment
    session.flush()
    record_audit(
        session,
        actor=actor,
        action=f"dispute.{report.status}",
        object_type="dispute",
        object_id=dispute.id,
        amount_minor=dispute.amount_minor,
        currency=dispute.currency,
        data={
            "gateway": report.gateway_id,
            "reference": report.gateway_reference,
            "gateway_status": dispute.gateway_status,
        },
        now=moment,
    )
    return dispute
