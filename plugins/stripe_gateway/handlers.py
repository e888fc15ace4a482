"""What each Stripe event does to our records (the webhook source's handler table)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from praho.core.models.disputes import DisputeStatus
from praho.core.models.gateway_refunds import GatewayRefundStatus
from praho.core.services.disputes import DisputeReport, record_dispute
from praho.core.services.gateway_refunds import GatewayRefundReport, record_gateway_refund
from praho.core.webhooks.source import ParsedEvent, WebhookHandler
from praho.plugins.stripe_gateway.webhook import event_object

# Stripe's closed dispute statuses and what they mean for the books.
DISPUTE_OUTCOME = {"won": DisputeStatus.WON, "lost": DisputeStatus.LOST,
                   "warning_closed": DisputeStatus.CLOSED, "charge_refunded": DisputeStatus.CLOSED}


def _reference(value: object) -> str | None:
    if isinstance(value, dict):
        return str(value.get("id")) if value.get("id") else None
    return str(value) if value else None


def dispute_changed(session: Session, event: ParsedEvent, now: datetime) -> None:
    """charge.dispute.created / .closed: record the dispute and its outcome."""
    dispute = event_object(event)
    status = DISPUTE_OUTCOME.get(str(dispute.get("status")), DisputeStatus.OPEN)
    if event.event_type == "charge.dispute.closed" and status is DisputeStatus.OPEN:
        status = DisputeStatus.CLOSED
    record_dispute(session, DisputeReport(
        gateway_id="stripe", gateway_reference=str(dispute["id"]),
        payment_reference=_reference(dispute.get("payment_intent")) or _reference(dispute.get("charge")),
        amount_minor=int(dispute.get("amount") or 0), currency=str(dispute.get("currency") or "").upper(),
        status=status, reason=str(dispute.get("reason") or ""),
        gateway_status=str(dispute.get("status") or "")), now=now)


REFUND_STATUS = {"succeeded": GatewayRefundStatus.SUCCEEDED, "pending": GatewayRefundStatus.PENDING,
                 "requires_action": GatewayRefundStatus.PENDING, "failed": GatewayRefundStatus.FAILED,
                 "canceled": GatewayRefundStatus.CANCELED}


def _record_refund(session: Session, refund: dict[str, object], now: datetime) -> None:
    metadata = refund.get("metadata") if isinstance(refund.get("metadata"), dict) else {}
    record_gateway_refund(session, GatewayRefundReport(
        gateway_id="stripe", gateway_reference=str(refund["id"]),
        payment_reference=_reference(refund.get("payment_intent")) or _reference(refund.get("charge")),
        amount_minor=int(str(refund.get("amount") or 0)), currency=str(refund.get("currency") or "").upper(),
        status=REFUND_STATUS.get(str(refund.get("status")), GatewayRefundStatus.PENDING),
        refund_key=str(metadata.get("praho_key")) if metadata.get("praho_key") else None,  # type: ignore[union-attr]
        failure_reason=str(refund["failure_reason"]) if refund.get("failure_reason") else None), now=now)


def refund_changed(session: Session, event: ParsedEvent, now: datetime) -> None:
    """refund.created / .updated / .failed: record the refund's state at Stripe.

    A refund may arrive before the payment's success: it is recorded on its own row, so
    the order of the two events does not matter.
    """
    _record_refund(session, event_object(event), now)


def charge_refunded(session: Session, event: ParsedEvent, now: datetime) -> None:
    """charge.refunded: record the refunds the charge lists (older API versions embed them)."""
    charge = event_object(event)
    refunds = charge.get("refunds")
    for refund in (refunds.get("data") or []) if isinstance(refunds, dict) else []:
        if isinstance(refund, dict) and refund.get("id"):
            _record_refund(session, {**refund, "payment_intent": refund.get("payment_intent")
                                     or charge.get("payment_intent")}, now)


HANDLERS: dict[str, WebhookHandler] = {
    "refund.created": refund_changed,
    "refund.updated": refund_changed,
    "refund.failed": refund_changed,
    "charge.refunded": charge_refunded,
    "charge.dispute.created": dispute_changed,
    "charge.dispute.closed": dispute_changed,
}
