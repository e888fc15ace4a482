"""What each PayPal event does to our records (the webhook source's handler table)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from praho.core.models.disputes import DisputeStatus
from praho.core.services.disputes import DisputeReport, record_dispute
from praho.core.webhooks.source import ParsedEvent, WebhookHandler
from praho.plugins.paypal_gateway.gateway import money
from praho.plugins.paypal_gateway.webhook import event_resource

# PayPal dispute outcomes and what they mean for the books.
DISPUTE_OUTCOME = {"RESOLVED_BUYER_FAVOUR": DisputeStatus.LOST, "RESOLVED_SELLER_FAVOUR": DisputeStatus.WON,
                   "RESOLVED_WITH_PAYOUT": DisputeStatus.LOST, "CANCELED_BY_BUYER": DisputeStatus.WON,
                   "ACCEPTED": DisputeStatus.LOST, "DENIED": DisputeStatus.WON}


def dispute_changed(session: Session, event: ParsedEvent, now: datetime) -> None:
    """CUSTOMER.DISPUTE.CREATED / .RESOLVED: record the dispute and its outcome."""
    dispute = event_resource(event)
    outcome = str((dispute.get("dispute_outcome") or {}).get("outcome_code") or "")
    status = DisputeStatus.OPEN
    if event.event_type == "CUSTOMER.DISPUTE.RESOLVED":
        status = DISPUTE_OUTCOME.get(outcome, DisputeStatus.CLOSED)
    amount, currency = money(dispute.get("dispute_amount"))
    transactions = dispute.get("disputed_transactions") or [{}]
    reference = (transactions[0] or {}).get("seller_transaction_id")
    record_dispute(session, DisputeReport(
        gateway_id="paypal", gateway_reference=str(dispute["dispute_id"]),
        payment_reference=str(reference) if reference else None, amount_minor=amount or 0,
        currency=currency or "", status=status, reason=str(dispute.get("reason") or ""),
        gateway_status=outcome or str(dispute.get("status") or "")), now=now)


HANDLERS: dict[str, WebhookHandler] = {
    "CUSTOMER.DISPUTE.CREATED": dispute_changed,
    "CUSTOMER.DISPUTE.RESOLVED": dispute_changed,
}
