"""Recording refunds the gateways report (idempotent per gateway reference, audited)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.models.gateway_refunds import (
    GATEWAY_REFUND_TRANSITIONS,
    GatewayRefund,
    GatewayRefundStatus,
)
from praho.core.services.audit import Actor, record_audit
from sqlalchemy import select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class GatewayRefundReport:
    """What a gateway says about one refund."""

    gateway_id: str
    gateway_reference: str
    payment_reference: str | None
    amount_minor: int
    currency: str
    status: GatewayRefundStatus
    refund_key: str | None = None
    failure_reason: str | None = None


def record_gateway_refund(
    session: Session,
    report: GatewayRefundReport,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> GatewayRefund:
    """Create or advance the refund ``report`` describes.

    Repeated or stale reports change nothing; every change is audited.
    """
    moment = resolve_now(now)
    # A gateway's figures are input: checked before any lookup or write (a FieldError
    # makes the webhook pipeline retry, then flag the event; nothing is stored).
    v.amount_minor("amount_minor", report.amount_minor)
    v.currency("currency", report.currency.upper() if isinstance(report.currency, str)
               else report.currency)
    refund = session.execute(
        select(GatewayRefund)
        .where(
            GatewayRefund.gateway_id == report.gateway_id,
            GatewayRefund.gateway_reference == report.gateway_reference,
        )
        .with_for_update()
    ).scalar_one_or_none()
    if refund is None:
        refund = GatewayRefund(
            gateway_id=report.gateway_id,
            gateway_reference=report.gateway_reference,
            payment_reference=report.payment_reference,
            refund_key=report.refund_key,
            amount_minor=report.amount_minor,
            currency=report.currency.upper(),
            status=report.status,
            failure_reason=report.failure_reason,
            created_at=moment,
            updated_at=moment,
        )
        session.add(refund)
        session.flush()
    elif (
        GatewayRefundStatus(refund.status) != report.status
        and report.status in GATEWAY_REFUND_TRANSITIONS[GatewayRefundStatus(refund.status)]
    ):
        refund.status = report.status
        refund.failure_reason = report.failure_reason
        refund.updated_at = moment
        session.flush()
    else:
        return refund
    record_audit(
        session,
        actor=actor,
        action=f"gateway_refund.{report.status}",
        object_type="gateway_refund",
        object_id=refund.id,
        amount_minor=refund.amount_minor,
        currency=refund.currency,
        now=moment,
        data={
            "gateway": refund.gateway_id,
            "reference": refund.gateway_reference,
            "payment": refund.payment_reference,
            "key": refund.refund_key,
        },
    )
    # Only a change reaches here: our refund workflow follows the gateway's word.
    from praho.core.services.gateway_refund_follow_up import follow_gateway_refund

    follow_gateway_refund(session, refund, actor=actor, now=moment)
    return refund
