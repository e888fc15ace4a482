"""What each Stripe event does to our records (the webhook source's handler table).

Payment events become :class:`GatewayResult` objects applied to our attempt (found by the
``praho_key`` metadata, else by PaymentIntent id) with ``apply_gateway_result``, which
ignores results that cannot follow the attempt's state: a late ``processing`` after
``succeeded`` changes nothing. When a refund arrives before the payment's success, the
handler asks Stripe for the PaymentIntent and applies that first, so the payment is never
missing under its refund. Events about PaymentIntents we did not create are acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from praho.core.models.disputes import DisputeStatus
from praho.core.models.gateway_refunds import GatewayRefundStatus
from praho.core.models.payments import IN_FLIGHT, PaymentAttempt
from praho.core.payments.gateway import GatewayRefused, TransactionType
from praho.core.services.disputes import DisputeReport, record_dispute, record_disputes
from praho.core.services.gateway_refunds import GatewayRefundReport, record_gateway_refund
from praho.core.services.payments import apply_gateway_result, find_attempt
from praho.core.webhooks.source import ParsedEvent, WebhookBatchHandler, WebhookHandler
from praho.plugins.stripe_gateway import stripe_api
from praho.plugins.stripe_gateway.gateway import intent_result
from praho.plugins.stripe_gateway.settings import current_settings
from praho.plugins.stripe_gateway.webhook import event_object
from sqlalchemy import select
from sqlalchemy.orm import Session

log = logging.getLogger("praho.webhooks.stripe")

# Stripe's closed dispute statuses and what they mean for the books.
DISPUTE_OUTCOME = {
    "won": DisputeStatus.WON,
    "lost": DisputeStatus.LOST,
    "warning_closed": DisputeStatus.CLOSED,
    "charge_refunded": DisputeStatus.CLOSED,
}


def _reference(value: object) -> str | None:
    if isinstance(value, dict):
        return str(value.get("id")) if value.get("id") else None
    return str(value) if value else None


def attempt_for_intent(session: Session, intent: dict[str, Any]) -> PaymentAttempt | None:
    """Our attempt behind a PaymentIntent: by the key in its metadata, else by its id."""
    metadata = intent.get("metadata") if isinstance(intent.get("metadata"), dict) else {}
    key = metadata.get("praho_key") if metadata else None
    attempt = find_attempt(session, key=str(key)) if key else None
    if attempt is None and intent.get("id"):
        attempt = find_attempt(session, gateway_id="stripe", gateway_reference=str(intent["id"]))
    return attempt


def _apply_intent(
    session: Session, attempt: PaymentAttempt, intent: dict[str, Any], now: datetime
) -> None:
    kind = (
        TransactionType.AUTHORIZE
        if intent.get("capture_method") == "manual"
        else TransactionType.PURCHASE
    )
    result = intent_result(intent, kind)
    if result.succeeded and result.fee_minor is None:
        # Events carry the charge as an id; the fee lives on its balance transaction.
        result = intent_result(
            stripe_api.retrieve_payment_intent(current_settings(), str(intent["id"])), kind
        )
    apply_gateway_result(session, attempt, result, now=now)


def payment_intent_changed(session: Session, event: ParsedEvent, now: datetime) -> None:
    """payment_intent.succeeded / .payment_failed / .canceled / .processing / .requires_action."""
    intent = event_object(event)
    attempt = attempt_for_intent(session, intent)
    if attempt is None:
        log.info("Stripe %s for %s: no attempt of ours", event.event_type, intent.get("id"))
        return
    _apply_intent(session, attempt, intent, now)


def settle_payment_first(session: Session, intent_id: str | None, now: datetime) -> None:
    """Before recording a refund, make sure the refunded payment is recorded (out of order)."""
    if not intent_id:
        return
    attempt = find_attempt(session, gateway_id="stripe", gateway_reference=intent_id)
    if attempt is not None and not attempt.in_flight:
        return
    if attempt is None and not _stripe_attempts_in_flight(session):
        return  # nothing of ours can be waiting for this payment
    try:
        intent = stripe_api.retrieve_payment_intent(current_settings(), intent_id)
    except GatewayRefused as exc:
        if exc.code == "resource_missing":
            return
        raise
    attempt = attempt or attempt_for_intent(session, intent)
    if attempt is not None and attempt.in_flight:
        _apply_intent(session, attempt, intent, now)


def _stripe_attempts_in_flight(session: Session) -> bool:
    return (
        session.execute(
            select(PaymentAttempt.id)
            .where(PaymentAttempt.gateway_id == "stripe", PaymentAttempt.status.in_(IN_FLIGHT))
            .limit(1)
        ).first()
        is not None
    )


def dispute_report(event: ParsedEvent) -> DisputeReport:
    """What a charge.dispute.* event says about its dispute, in our terms."""
    dispute = event_object(event)
    status = DISPUTE_OUTCOME.get(str(dispute.get("status")), DisputeStatus.OPEN)
    if event.event_type == "charge.dispute.closed" and status is DisputeStatus.OPEN:
        status = DisputeStatus.CLOSED
    return DisputeReport(
        gateway_id="stripe",
        gateway_reference=str(dispute["id"]),
        payment_reference=_reference(dispute.get("payment_intent"))
        or _reference(dispute.get("charge")),
        amount_minor=int(dispute.get("amount") or 0),
        currency=str(dispute.get("currency") or "").upper(),
        status=status,
        reason=str(dispute.get("reason") or ""),
        gateway_status=str(dispute.get("status") or ""),
    )


def dispute_changed(session: Session, event: ParsedEvent, now: datetime) -> None:
    """charge.dispute.created / .closed: record the dispute and its outcome."""
    record_dispute(session, dispute_report(event), now=now)


def disputes_changed(session: Session, events: Sequence[ParsedEvent], now: datetime) -> None:
    """Consecutive charge.dispute.* events at once (a wave of new disputes: one insert)."""
    record_disputes(session, [dispute_report(event) for event in events], now=now)


REFUND_STATUS = {
    "succeeded": GatewayRefundStatus.SUCCEEDED,
    "pending": GatewayRefundStatus.PENDING,
    "requires_action": GatewayRefundStatus.PENDING,
    "failed": GatewayRefundStatus.FAILED,
    "canceled": GatewayRefundStatus.CANCELED,
}


def _record_refund(session: Session, refund: dict[str, Any], now: datetime) -> None:
    metadata = refund.get("metadata") if isinstance(refund.get("metadata"), dict) else {}
    record_gateway_refund(
        session,
        GatewayRefundReport(
            gateway_id="stripe",
            gateway_reference=str(refund["id"]),
            payment_reference=_reference(refund.get("payment_intent"))
            or _reference(refund.get("charge")),
            amount_minor=int(str(refund.get("amount") or 0)),
            currency=str(refund.get("currency") or "").upper(),
            status=REFUND_STATUS.get(str(refund.get("status")), GatewayRefundStatus.PENDING),
            refund_key=str(metadata["praho_key"])
            if metadata and metadata.get("praho_key")
            else None,
            failure_reason=str(refund["failure_reason"]) if refund.get("failure_reason") else None,
        ),
        now=now,
    )


def refund_changed(session: Session, event: ParsedEvent, now: datetime) -> None:
    """refund.created / .updated / .failed: record the refund's state at Stripe.

    A refund may arrive before the payment's success: it is recorded on its own row, so
    the order of the two events does not matter.
    """
    refund = event_object(event)
    settle_payment_first(session, _reference(refund.get("payment_intent")), now)
    _record_refund(session, refund, now)


def charge_refunded(session: Session, event: ParsedEvent, now: datetime) -> None:
    """charge.refunded: record the refunds the charge lists (older API versions embed them)."""
    charge = event_object(event)
    settle_payment_first(session, _reference(charge.get("payment_intent")), now)
    refunds = charge.get("refunds")
    for refund in (refunds.get("data") or []) if isinstance(refunds, dict) else []:
        if isinstance(refund, dict) and refund.get("id"):
            _record_refund(
                session,
                {
                    **refund,
                    "payment_intent": refund.get("payment_intent") or charge.get("payment_intent"),
                },
                now,
            )


HANDLERS: dict[str, WebhookHandler] = {
    "payment_intent.succeeded": payment_intent_changed,
    "payment_intent.payment_failed": payment_intent_changed,
    "payment_intent.canceled": payment_intent_changed,
    "payment_intent.processing": payment_intent_changed,
    "payment_intent.requires_action": payment_intent_changed,
    "refund.created": refund_changed,
    "refund.updated": refund_changed,
    "refund.failed": refund_changed,
    "charge.refunded": charge_refunded,
    "charge.dispute.created": dispute_changed,
    "charge.dispute.closed": dispute_changed,
}

# Types that can arrive in floods, applied together when consecutive (same effect).
BATCH_HANDLERS: dict[str, WebhookBatchHandler] = {
    "charge.dispute.created": disputes_changed,
    "charge.dispute.closed": disputes_changed,
}
