"""What each PayPal event does to our records (the webhook source's handler table).

Capture events become :class:`GatewayResult` objects applied to our attempt (found by the
``custom_id`` we set to the attempt key, else by capture id) with ``apply_gateway_result``,
which ignores results that cannot follow the attempt's state. A refund that arrives before
its capture's completion fetches the capture and applies it first. An approved checkout
order is captured with ``<key>:capture`` as its PayPal-Request-Id (never twice).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from praho.core.models.disputes import DisputeStatus
from praho.core.models.gateway_refunds import GatewayRefundStatus
from praho.core.models.payments import IN_FLIGHT, PaymentAttempt
from praho.core.payments.gateway import GatewayRefused
from praho.core.services.disputes import DisputeReport, record_dispute
from praho.core.services.gateway_refunds import GatewayRefundReport, record_gateway_refund
from praho.core.services.payments import apply_gateway_result, find_attempt
from praho.core.webhooks.source import ParsedEvent, WebhookHandler
from praho.plugins.paypal_gateway import paypal_api
from praho.plugins.paypal_gateway.gateway import PayPalGateway, capture_result, first_capture, money
from praho.plugins.paypal_gateway.settings import current_settings
from praho.plugins.paypal_gateway.webhook import event_resource
from sqlalchemy import select
from sqlalchemy.orm import Session

# PayPal dispute outcomes and what they mean for the books.
DISPUTE_OUTCOME = {
    "RESOLVED_BUYER_FAVOUR": DisputeStatus.LOST,
    "RESOLVED_SELLER_FAVOUR": DisputeStatus.WON,
    "RESOLVED_WITH_PAYOUT": DisputeStatus.LOST,
    "CANCELED_BY_BUYER": DisputeStatus.WON,
    "ACCEPTED": DisputeStatus.LOST,
    "DENIED": DisputeStatus.WON,
}


def attempt_for_capture(session: Session, capture: dict[str, Any]) -> PaymentAttempt | None:
    """Our attempt behind a capture: by ``custom_id`` (our key), else by the capture id."""
    key = capture.get("custom_id")
    attempt = find_attempt(session, key=str(key)) if key else None
    if attempt is None and capture.get("id"):
        attempt = find_attempt(session, gateway_id="paypal", gateway_reference=str(capture["id"]))
    return attempt


def capture_changed(session: Session, event: ParsedEvent, now: datetime) -> None:
    """PAYMENT.CAPTURE.COMPLETED / .PENDING / .DENIED / .DECLINED: apply to our attempt."""
    capture = event_resource(event)
    attempt = attempt_for_capture(session, capture)
    if attempt is not None:
        apply_gateway_result(session, attempt, capture_result(capture), now=now)


def order_approved(session: Session, event: ParsedEvent, now: datetime) -> None:
    """CHECKOUT.ORDER.APPROVED: capture an order one of our attempts created."""
    order = event_resource(event)
    units = order.get("purchase_units") or [{}]
    key = (units[0] or {}).get("custom_id")
    attempt = find_attempt(session, key=str(key)) if key else None
    if attempt is None or not attempt.in_flight:
        return
    captured = PayPalGateway().capture_order(str(order["id"]), attempt.key)
    if isinstance(captured, dict):
        capture = first_capture(captured)
        if capture is None:
            return
        captured = capture_result(capture)
    apply_gateway_result(session, attempt, captured, now=now)


def _settle_capture_first(session: Session, capture_id: str | None, now: datetime) -> None:
    """Before recording a refund, make sure the refunded capture is recorded (out of order)."""
    if not capture_id:
        return
    attempt = find_attempt(session, gateway_id="paypal", gateway_reference=capture_id)
    if attempt is not None and not attempt.in_flight:
        return
    if (
        attempt is None
        and session.execute(
            select(PaymentAttempt.id)
            .where(PaymentAttempt.gateway_id == "paypal", PaymentAttempt.status.in_(IN_FLIGHT))
            .limit(1)
        ).first()
        is None
    ):
        return  # nothing of ours can be waiting for this capture
    try:
        capture = paypal_api.get_capture(current_settings(), capture_id).body
    except GatewayRefused as exc:
        if exc.code == "resource_not_found":
            return
        raise
    attempt = attempt or attempt_for_capture(session, capture)
    if attempt is not None and attempt.in_flight:
        apply_gateway_result(session, attempt, capture_result(capture), now=now)


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
    record_dispute(
        session,
        DisputeReport(
            gateway_id="paypal",
            gateway_reference=str(dispute["dispute_id"]),
            payment_reference=str(reference) if reference else None,
            amount_minor=amount or 0,
            currency=currency or "",
            status=status,
            reason=str(dispute.get("reason") or ""),
            gateway_status=outcome or str(dispute.get("status") or ""),
        ),
        now=now,
    )


REFUND_STATUS = {
    "COMPLETED": GatewayRefundStatus.SUCCEEDED,
    "PENDING": GatewayRefundStatus.PENDING,
    "FAILED": GatewayRefundStatus.FAILED,
    "CANCELLED": GatewayRefundStatus.CANCELED,
}


def _captured_id(refund: dict[str, Any]) -> str | None:
    """The refunded capture, from the refund's ``up`` link (PayPal gives no field for it)."""
    for link in refund.get("links") or []:
        if (
            isinstance(link, dict)
            and link.get("rel") == "up"
            and "/captures/" in str(link.get("href"))
        ):
            return str(link["href"]).rstrip("/").rsplit("/", 1)[-1]
    return None


def refund_changed(session: Session, event: ParsedEvent, now: datetime) -> None:
    """PAYMENT.CAPTURE.REFUNDED / .REVERSED: record the refund (or reversal) at PayPal.

    Recorded on its own row, so a refund that arrives before the capture's completion is
    kept and the order of the two events does not matter.
    """
    refund = event_resource(event)
    _settle_capture_first(session, _captured_id(refund), now)
    amount, currency = money(refund.get("amount"))
    status = REFUND_STATUS.get(str(refund.get("status")), GatewayRefundStatus.PENDING)
    if event.event_type == "PAYMENT.CAPTURE.REVERSED" and refund.get("status") in (
        None,
        "REVERSED",
    ):
        status = GatewayRefundStatus.SUCCEEDED
    record_gateway_refund(
        session,
        GatewayRefundReport(
            gateway_id="paypal",
            gateway_reference=str(refund["id"]),
            payment_reference=_captured_id(refund),
            amount_minor=amount or 0,
            currency=currency or "",
            status=status,
            refund_key=str(refund["custom_id"]) if refund.get("custom_id") else None,
        ),
        now=now,
    )


HANDLERS: dict[str, WebhookHandler] = {
    "PAYMENT.CAPTURE.COMPLETED": capture_changed,
    "PAYMENT.CAPTURE.PENDING": capture_changed,
    "PAYMENT.CAPTURE.DENIED": capture_changed,
    "PAYMENT.CAPTURE.DECLINED": capture_changed,
    "CHECKOUT.ORDER.APPROVED": order_approved,
    "PAYMENT.CAPTURE.REFUNDED": refund_changed,
    "PAYMENT.CAPTURE.REVERSED": refund_changed,
    "CUSTOMER.DISPUTE.CREATED": dispute_changed,
    "CUSTOMER.DISPUTE.RESOLVED": dispute_changed,
}
