"""What a gateway's refund report means for our own refunds.

:func:`praho.core.services.gateway_refunds.record_gateway_refund` keeps the gateway's
side of the story; this module carries it over to the refund workflow
(:mod:`praho.core.services.refunds`):

* a refund we started and the gateway answered PENDING completes (credit note, ledger)
  or fails when the gateway's final word arrives by webhook;
* a refund made at the gateway itself (its dashboard, a support agent) that we never
  requested is recorded as one of ours, settled without calling the gateway again, so
  the invoice is credited and the ledger moves; if it cannot be matched to a payment or
  exceeds what remains refundable, it is left for staff with an audit event saying why.
"""

from __future__ import annotations

import re
from datetime import datetime

from praho.core.errors import PrahoError
from praho.core.models.gateway_refunds import GatewayRefund, GatewayRefundStatus
from praho.core.models.refunds import Refund, RefundStatus
from praho.core.payments.gateway import GatewayResult, TransactionStatus, TransactionType
from praho.core.services.audit import Actor, record_audit
from sqlalchemy import or_, select
from sqlalchemy.orm import Session


class RefundNotYetVisible(Exception):  # noqa: N818 - a condition, retried by the pipeline
    """A refund carrying our key arrived before the transaction that created it committed.

    Raised from the webhook handler so the pipeline retries the event later (5 minutes),
    instead of recording a second refund for the same money.
    """


# The shape of our refund references (services.refunds.new_reference), sent as the key.
OUR_REFERENCE = re.compile(r"REF-\d{8}-[A-Z0-9]{8}")

STATUS_RESULTS = {
    GatewayRefundStatus.SUCCEEDED: TransactionStatus.PROCESSED,
    GatewayRefundStatus.PENDING: TransactionStatus.PENDING,
    GatewayRefundStatus.FAILED: TransactionStatus.ERROR,
    GatewayRefundStatus.CANCELED: TransactionStatus.CANCELED,
}


def our_refund(session: Session, report: GatewayRefund) -> Refund | None:
    """Our refund behind a gateway refund: by our key, else by the gateway's reference."""
    conditions = [Refund.gateway_reference == report.gateway_reference]
    if report.refund_key:
        conditions.append(Refund.reference == report.refund_key)
    return session.execute(select(Refund).where(or_(*conditions))).scalars().first()


def follow_gateway_refund(session: Session, gateway_refund: GatewayRefund, *,
                          actor: Actor | None = None, now: datetime) -> Refund | None:
    """Carry a recorded gateway refund over to our refund workflow; safe to repeat."""
    from praho.core.services.refunds import apply_refund_result

    status = GatewayRefundStatus(gateway_refund.status)
    refund = our_refund(session, gateway_refund)
    if refund is not None:
        if status == GatewayRefundStatus.FAILED and refund.status == RefundStatus.COMPLETED:
            # The card network sent the money back after the refund completed: staff decide.
            record_audit(session, actor=actor, action="refund.returned_by_network",
                         object_type="refund", object_id=refund.reference,
                         amount_minor=refund.amount_minor, currency=refund.currency, now=now,
                         data={"gateway_refund": gateway_refund.gateway_reference,
                               "reason": gateway_refund.failure_reason})
            return refund
        result = GatewayResult(
            status=STATUS_RESULTS[status], transaction_type=TransactionType.REFUND,
            gateway_reference=gateway_refund.gateway_reference,
            amount_minor=gateway_refund.amount_minor, currency=gateway_refund.currency,
            error_code="refund_failed" if status == GatewayRefundStatus.FAILED else None,
            error_message=gateway_refund.failure_reason,
        )
        return apply_refund_result(session, refund, result, actor=actor, now=now)
    if gateway_refund.refund_key and OUR_REFERENCE.fullmatch(gateway_refund.refund_key):
        raise RefundNotYetVisible(f"refund {gateway_refund.refund_key} is not visible yet")
    if status != GatewayRefundStatus.SUCCEEDED:
        return None
    return _adopt_gateway_refund(session, gateway_refund, actor=actor, now=now)


def _adopt_gateway_refund(session: Session, gateway_refund: GatewayRefund, *,
                          actor: Actor | None, now: datetime) -> Refund | None:
    """Record a refund made at the gateway as ours, and settle it without calling it again."""
    from praho.core.services.payment_gateways import payment_by_gateway_reference
    from praho.core.services.payments import clearing_account
    from praho.core.services.refund_settlement import settle_refund
    from praho.core.services.refunds import create_refund, move_refund

    payment = payment_by_gateway_reference(
        session, gateway_refund.gateway_id, gateway_refund.payment_reference
    )
    note = f"refunded at {gateway_refund.gateway_id} ({gateway_refund.gateway_reference})"
    try:
        if payment is None:
            raise PrahoError(
                f"no payment with gateway reference {gateway_refund.payment_reference!r}"
            )
        with session.begin_nested():
            refund = create_refund(session, payment, reason="other",
                                   amount_minor=gateway_refund.amount_minor,
                                   internal_note=note, actor=actor, now=now)
            move_refund(session, refund, RefundStatus.PROCESSING, actor=actor, note=note, now=now)
            move_refund(session, refund, RefundStatus.APPROVED, actor=actor, note=note, now=now)
            refund.gateway_id = gateway_refund.gateway_id
            refund.gateway_reference = gateway_refund.gateway_reference
            refund.gateway_status = "processed"
            settle_refund(session, refund, money_account=clearing_account(
                session, gateway_refund.gateway_id), actor=actor, now=now)
        return refund
    except PrahoError as error:
        record_audit(session, actor=actor, action="gateway_refund.unmatched",
                     object_type="gateway_refund", object_id=gateway_refund.id,
                     amount_minor=gateway_refund.amount_minor, currency=gateway_refund.currency,
                     now=now, data={"reason": error.message,
                                    "reference": gateway_refund.gateway_reference})
        return None
