"""What each Stripe event does to our records (the webhook source's handler table)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from praho.core.models.disputes import DisputeStatus
from praho.core.services.disputes import DisputeReport, record_dispute
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


HANDLERS: dict[str, WebhookHandler] = {
    "charge.dispute.created": dispute_changed,
    "charge.dispute.closed": dispute_changed,
}
