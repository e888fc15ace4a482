"""What each PayPal event does to our records (the webhook source's handler table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from praho.core.models.disputes import DisputeStatus
from praho.core.models.gateway_refunds import GatewayRefundStatus
from praho.core.services.disputes import DisputeReport, record_dispute
from praho.core.services.gateway_refunds import GatewayRefundReport, record_gateway_refund
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


REFUND_STATUS = {"COMPLETED": GatewayRefundStatus.SUCCEEDED, "PENDING": GatewayRefundStatus.PENDING,
                 "FAILED": GatewayRefundStatus.FAILED, "CANCELLED": GatewayRefundStatus.CANCELED}


def _captured_id(refund: dict[str, Any]) -> str | None:
    """The refunded capture, from the refund's ``up`` link (PayPal gives no field for it)."""
    for link in refund.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "up" and "/captures/" in str(link.get("href")):
            return str(link["href"]).rstrip("/").rsplit("/", 1)[-1]
    return None


def refund_changed(session: Session, event: ParsedEvent, now: datetime) -> None:
    """PAYMENT.CAPTURE.REFUNDED / .REVERSED: record the refund (or reversal) at PayPal.

    Recorded on its own row, so a refund that arrives before the capture's completion is
    kept and the order of the two events does not matter.
    """
    refund = event_resource(event)
    amount, currency = money(refund.get("amount"))
    status = REFUND_STATUS.get(str(refund.get("status")), GatewayRefundStatus.PENDING)
    if event.event_type == "PAYMENT.CAPTURE.REVERSED" and refund.get("status") in (None, "REVERSED"):
        status = GatewayRefundStatus.SUCCEEDED
    record_gateway_refund(session, GatewayRefundReport(
        gateway_id="paypal", gateway_reference=str(refund["id"]), payment_reference=_captured_id(refund),
        amount_minor=amount or 0, currency=currency or "", status=status,
        refund_key=str(refund["custom_id"]) if refund.get("custom_id") else None), now=now)


HANDLERS: dict[str, WebhookHandler] = {
    "PAYMENT.CAPTURE.REFUNDED": refund_changed,
    "PAYMENT.CAPTURE.REVERSED": refund_changed,
    "CUSTOMER.DISPUTE.CREATED": dispute_changed,
    "CUSTOMER.DISPUTE.RESOLVED": dispute_changed,
}
