"""Collecting invoices through gateways: attempts, their results, settling unknown outcomes.

The rule (Kill Bill's): the attempt is committed *before* the gateway is called, and
its ``key`` is the gateway's idempotency key. A timeout leaves the attempt ``unknown``;
:func:`settle_unknown_attempts` later asks the gateway what happened and never sends
the charge again. Results arrive from the call itself, from webhooks and from the
settle task, in any order and any number of times: :func:`apply_gateway_result` moves
an attempt along :data:`ATTEMPT_TRANSITIONS` and records one payment per attempt.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError, InvalidTransition, PluginError, PrahoError
from praho.core.models.invoices import DocumentKind, DocumentStatus, Invoice
from praho.core.models.payments import (
    ATTEMPT_TRANSITIONS,
    IN_FLIGHT,
    AttemptReason,
    AttemptStatus,
    MethodStatus,
    PaymentAttempt,
    PaymentKind,
    PaymentMethod,
)
from praho.core.payments.gateway import (
    GatewayError,
    GatewayRefused,
    GatewayResult,
    OutcomeUnknown,
    PaymentGateway,
    PaymentRequest,
    TransactionStatus,
    TransactionType,
)
from praho.core.plugins import get_registry
from praho.core.redaction import redact_payload
from praho.core.services.audit import Actor, record_audit
from praho.core.services.idempotency import check_key, claim_key, remember_response
from praho.core.services.payment_allocation import (
    apply_customer_credit,
    available_credit,
    lock_customer,
    lock_invoice,
    receive_payment,
)
from praho.core.services.payment_gateways import CREDIT_GATEWAY_ID, clearing_account, get_gateway
from praho.core.services.payment_methods import default_method
from sqlalchemy import select
from sqlalchemy.orm import Session

log = logging.getLogger("praho.payments")

# An unknown outcome the gateway still has no record of after this long was never
# received by it (the request was lost before arriving): the attempt becomes an error,
# and dunning may try again with a new attempt and a new key. A gateway whose lookup
# cannot find a request by our key (PayPal without an order id) says how long its
# webhook may still bring the answer with an ``unknown_give_up`` attribute.
UNKNOWN_GIVE_UP = timedelta(hours=1)

# The settle task leaves attempts younger than this alone: their call may be in flight.
SETTLE_MIN_AGE = timedelta(minutes=2)

_STATUS_OF_RESULT = {
    TransactionStatus.PROCESSED: AttemptStatus.PROCESSED,
    TransactionStatus.PENDING: AttemptStatus.PENDING,
    TransactionStatus.ERROR: AttemptStatus.ERROR,
    TransactionStatus.CANCELED: AttemptStatus.CANCELED,
}


def give_up_after(gateway: object) -> timedelta:
    """How long an unknown attempt on ``gateway`` waits before it counts as never received."""
    value = getattr(gateway, "unknown_give_up", None)
    return value if isinstance(value, timedelta) and value > UNKNOWN_GIVE_UP else UNKNOWN_GIVE_UP


def new_attempt_key() -> str:
    """A fresh gateway idempotency key: never reused, even after a database restore."""
    return f"pa_{uuid.uuid4().hex}"


def charge_invoice(
    session: Session, invoice: Invoice, *, now: datetime | None = None, reason: str = "renewal",
    method: PaymentMethod | None = None, idempotency_key: str | None = None,
    actor: Actor | None = None,
) -> PaymentAttempt:
    """Collect what is due on an issued invoice: customer credit first, then the method.

    ``method`` defaults to the customer's default method. A ``renewal`` is attempt 1 of
    the invoice: asking again returns that attempt. ``idempotency_key`` gives Stripe's
    semantics (same key and parameters: the same attempt; other parameters:
    :class:`IdempotencyConflict`). Unlike other services this one COMMITS the session
    once, after writing the attempt and before calling the gateway (so call it in its
    own transaction); the outcome is flushed and left for the caller to commit.
    """
    moment = resolve_now(now)
    reason_value = AttemptReason(v.choice("reason", reason, list(AttemptReason)))
    key = check_key("idempotency_key", idempotency_key) if idempotency_key is not None else None
    if method is not None and method.customer_id != invoice.customer_id:
        raise FieldError("method", "belongs to another customer")
    lock_customer(session, invoice.customer_id)
    lock_invoice(session, invoice)
    record = None
    if key is not None:
        record, first = claim_key(session, key=key, operation="charge_invoice", now=moment, params={
            "invoice_id": invoice.id, "method_id": method.id if method else None,
            "reason": str(reason_value)})
        stored_id = None if first else record.response.get("attempt_id")
        stored = session.get(PaymentAttempt, stored_id) if stored_id is not None else None
        if stored is not None:
            return stored
        # A claimed key without an attempt: the first request failed and its caller
        # committed anyway; this repeat runs the request (same parameters, checked above).
    earlier = _attempts_of(session, invoice.id)
    if reason_value == AttemptReason.RENEWAL:
        existing = next((a for a in earlier if a.attempt_number == 1), None)
        if existing is not None:
            if record is not None:
                remember_response(session, record, {"attempt_id": existing.id})
            return existing
    _check_chargeable(invoice, earlier)
    # Credit an open refund holds is not there to spend: counting it would skip the card
    # and record a "paid by credit" attempt of nothing.
    credit = available_credit(session, invoice.customer_id, invoice.currency)
    chosen, gateway = None, None
    if credit < invoice.balance_due_minor:
        chosen, gateway = _method_and_gateway(session, invoice, method)

    # Everything is validated; writes start here.
    used = apply_customer_credit(session, invoice, now=moment, actor=actor) if credit > 0 else 0
    attempt = PaymentAttempt(
        key=new_attempt_key(), customer_id=invoice.customer_id, invoice_id=invoice.id,
        attempt_number=(1 if reason_value == AttemptReason.RENEWAL
                        else max((a.attempt_number for a in earlier), default=0) + 1),
        reason=reason_value, currency=invoice.currency, actor=str(actor) if actor else None,
        created_at=moment, raw_response={},
    )
    if chosen is None or gateway is None or invoice.balance_due_minor == 0:
        attempt.gateway_id, attempt.amount_minor = CREDIT_GATEWAY_ID, used
        attempt.status, attempt.settled_at = AttemptStatus.PROCESSED, moment
    else:
        attempt.gateway_id, attempt.method_id = chosen.gateway_id, chosen.id
        attempt.amount_minor, attempt.status = invoice.balance_due_minor, AttemptStatus.UNKNOWN
    session.add(attempt)
    session.flush()
    if record is not None:
        remember_response(session, record, {"attempt_id": attempt.id})
    if attempt.status == AttemptStatus.PROCESSED:
        _audit_created(session, attempt, invoice, used, actor=actor, now=moment)
        return attempt
    assert chosen is not None and gateway is not None
    # The attempt must exist before money can move: commit, then call the gateway. (Its
    # audit event goes with the outcome: one seal of the audit chain per charge, not two.)
    session.commit()
    _audit_created(session, attempt, invoice, used, actor=actor, now=moment)
    result = _purchase(gateway, attempt, chosen, invoice)
    if result is None:
        session.flush()
        record_audit(session, actor=actor, action="payment_attempt.outcome_unknown",
                     object_type="invoice", object_id=invoice.full_number,
                     amount_minor=attempt.amount_minor, currency=attempt.currency, now=moment,
                     data={"attempt": attempt.key, "error": attempt.error_message})
        return attempt
    return apply_gateway_result(session, attempt, result, now=moment, actor=actor)


def _audit_created(session: Session, attempt: PaymentAttempt, invoice: Invoice, used: int, *,
                   actor: Actor | None, now: datetime) -> None:
    record_audit(session, actor=actor, action="payment_attempt.created", object_type="invoice",
                 object_id=invoice.full_number, amount_minor=attempt.amount_minor,
                 currency=attempt.currency, now=now,
                 data={"attempt": attempt.key, "gateway": attempt.gateway_id,
                       "reason": str(attempt.reason), "credit_used_minor": used})


def _attempts_of(session: Session, invoice_id: int) -> list[PaymentAttempt]:
    return list(session.execute(select(PaymentAttempt).where(
        PaymentAttempt.invoice_id == invoice_id).order_by(PaymentAttempt.attempt_number)
        .execution_options(populate_existing=True)).scalars())


def _check_chargeable(invoice: Invoice, earlier: list[PaymentAttempt]) -> None:
    if invoice.kind != DocumentKind.INVOICE or invoice.status != DocumentStatus.ISSUED:
        raise InvalidTransition(f"{invoice.kind} {invoice.full_number or invoice.id} is "
                                f"{invoice.status}; only issued invoices are charged")
    if invoice.balance_due_minor <= 0:
        raise InvalidTransition(f"nothing is due on {invoice.full_number}")
    busy = next((a for a in earlier if a.status in IN_FLIGHT), None)
    if busy is not None:
        raise InvalidTransition(
            f"attempt {busy.key} on {invoice.full_number} is still {busy.status}; it is settled "
            "by asking the gateway, never by charging again"
        )


def _method_and_gateway(session: Session, invoice: Invoice,
                        method: PaymentMethod | None) -> tuple[PaymentMethod, PaymentGateway]:
    chosen = method or default_method(session, invoice.customer_id)
    if chosen is None:
        raise FieldError("method", "the customer has no default payment method")
    if chosen.status != MethodStatus.ACTIVE:
        raise FieldError("method", f"{chosen.label()} was removed")
    try:
        return chosen, get_gateway(chosen.gateway_id)
    except PluginError as exc:
        raise FieldError("method", exc.message) from None


def _purchase(gateway: PaymentGateway, attempt: PaymentAttempt, method: PaymentMethod,
              invoice: Invoice) -> GatewayResult | None:
    """Send the charge; None when the outcome is unknown (recorded on the attempt)."""
    request = PaymentRequest(
        idempotency_key=attempt.key, amount_minor=attempt.amount_minor, currency=attempt.currency,
        customer_reference=method.customer_reference, method_token=method.token,
        description=f"Invoice {invoice.full_number}",
        metadata={"invoice": str(invoice.full_number), "attempt": attempt.key},
    )
    try:
        return gateway.purchase(request)
    except GatewayRefused as exc:
        # Refused before anything happened: a plain error, safe to retry later.
        return GatewayResult(TransactionStatus.ERROR, TransactionType.PURCHASE,
                             error_code=exc.code, error_message=exc.message)
    except GatewayError as exc:
        # OutcomeUnknown, or any gateway failure we cannot place: maybe charged, maybe not.
        attempt.error_code = v.external_text(exc.code, max_length=80)
        attempt.error_message = v.external_text(exc.message)
        if not isinstance(exc, OutcomeUnknown):
            log.warning("gateway %s raised %s for %s; treating as unknown",
                        attempt.gateway_id, type(exc).__name__, attempt.key)
        return None


def apply_gateway_result(session: Session, attempt: PaymentAttempt, result: GatewayResult, *,
                         now: datetime | None = None, actor: Actor | None = None) -> PaymentAttempt:
    """Record a gateway's answer about an attempt; safe to call any number of times.

    Used by :func:`charge_invoice`, webhooks and the settle task. A result that does not
    follow from the current status (an error after a success, a pending after an error)
    is ignored and audited; PROCESSED creates exactly one payment, allocated to the
    invoice, the excess to customer credit, and fires ``payment_succeeded``.
    ERROR/CANCELED fire ``payment_failed``.
    """
    moment = resolve_now(now)
    target = _STATUS_OF_RESULT.get(result.status)
    if target is None:
        return attempt  # UNDEFINED: nothing learned
    lock_customer(session, attempt.customer_id)
    # Fetched, so populate_existing really reloads the status another worker may have set.
    session.execute(select(PaymentAttempt).where(PaymentAttempt.id == attempt.id)
                    .with_for_update().execution_options(populate_existing=True)).scalar_one()
    if target == attempt.status:
        return attempt
    if target not in ATTEMPT_TRANSITIONS[attempt.status]:
        record_audit(session, actor=actor, action="payment_attempt.result_ignored",
                     object_type="payment_attempt", object_id=attempt.key, now=moment,
                     data={"status": str(attempt.status), "result": str(result.status)})
        return attempt
    previous = attempt.status
    attempt.status = target
    if result.gateway_reference:
        attempt.gateway_reference = v.external_text(result.gateway_reference, max_length=255)
    attempt.error_code = (v.external_text(result.error_code, max_length=80)
                          if result.error_code else None)
    attempt.error_message = v.external_text(result.error_message) if result.error_message else None
    attempt.hard_decline = bool(result.hard_decline) and target == AttemptStatus.ERROR
    attempt.fee_minor = result.fee_minor
    attempt.raw_response = redact_payload(dict(result.raw))
    if target != AttemptStatus.PENDING:
        attempt.settled_at = moment
    session.flush()
    record_audit(session, actor=actor, action=f"payment_attempt.{target}",
                 object_type="payment_attempt", object_id=attempt.key,
                 amount_minor=attempt.amount_minor, currency=attempt.currency, now=moment,
                 data={"from": str(previous), "gateway": attempt.gateway_id,
                       "reference": attempt.gateway_reference, "error_code": attempt.error_code,
                       "hard_decline": attempt.hard_decline})
    if target == AttemptStatus.PROCESSED:
        _receive(session, attempt, result, actor=actor, now=moment)
    elif target in (AttemptStatus.ERROR, AttemptStatus.CANCELED):
        get_registry().hook.payment_failed(session=session, attempt=attempt)
    return attempt


def _receive(session: Session, attempt: PaymentAttempt, result: GatewayResult, *,
             actor: Actor | None, now: datetime) -> None:
    amount = result.amount_minor if result.amount_minor is not None else attempt.amount_minor
    currency = result.currency or attempt.currency
    fee = min(max(result.fee_minor or 0, 0), amount)
    allocations = []
    invoice = session.get(Invoice, attempt.invoice_id) if attempt.invoice_id else None
    if invoice is not None:
        lock_invoice(session, invoice)
        payable = (invoice.kind == DocumentKind.INVOICE and invoice.status == DocumentStatus.ISSUED
                   and invoice.currency == currency)
        # Paid meanwhile (bank transfer, another gateway): the money becomes customer credit.
        part = min(amount, invoice.balance_due_minor) if payable else 0
        if part > 0:
            allocations.append((invoice, part))
    method = session.get(PaymentMethod, attempt.method_id) if attempt.method_id else None
    receive_payment(
        session, customer_id=attempt.customer_id, kind=method.kind if method else PaymentKind.CARD,
        amount_minor=amount, currency=currency, received_at=result.created_at or now,
        allocations=allocations, money_account=clearing_account(session, attempt.gateway_id),
        fee_minor=fee, gateway_id=attempt.gateway_id, gateway_reference=attempt.gateway_reference,
        attempt_id=attempt.id, actor=actor, now=now,
    )


def find_attempt(session: Session, *, key: str | None = None, gateway_id: str | None = None,
                 gateway_reference: str | None = None) -> PaymentAttempt | None:
    """The attempt with this idempotency key, or with this gateway's reference (webhooks)."""
    if key is not None:
        return session.execute(
            select(PaymentAttempt).where(PaymentAttempt.key == key)).scalar_one_or_none()
    if gateway_id is None or gateway_reference is None:
        raise FieldError("key", "give the attempt key, or the gateway id and its reference")
    return session.execute(select(PaymentAttempt).where(
        PaymentAttempt.gateway_id == gateway_id,
        PaymentAttempt.gateway_reference == gateway_reference)
        .order_by(PaymentAttempt.id)).scalars().first()


@dataclass
class SettleReport:
    """What one pass of :func:`settle_unknown_attempts` did."""

    checked: int = 0
    settled: int = 0
    still_open: int = 0
    given_up: int = 0
    failed: int = 0

    def add(self, outcome: str) -> None:
        """Count one :func:`settle_attempt` outcome."""
        setattr(self, outcome, getattr(self, outcome) + 1)


def attempts_to_settle(session: Session, *, now: datetime | None = None,
                       limit: int = 500) -> list[PaymentAttempt]:
    """Unknown and pending attempts older than :data:`SETTLE_MIN_AGE`, least recently
    checked first."""
    moment = resolve_now(now)
    return list(session.execute(
        select(PaymentAttempt).where(
            PaymentAttempt.status.in_([str(s) for s in IN_FLIGHT]),
            PaymentAttempt.created_at <= moment - SETTLE_MIN_AGE,
        ).order_by(PaymentAttempt.last_checked_at.is_not(None), PaymentAttempt.last_checked_at,
                   PaymentAttempt.id).limit(limit)
    ).scalars())


def settle_attempt(session: Session, attempt: PaymentAttempt, *, now: datetime | None = None,
                   actor: Actor | None = None) -> str:
    """Ask the gateway about one attempt and record the answer; never re-sends the charge.

    Returns ``settled``, ``still_open``, ``given_up`` (unknown to the gateway after
    :func:`give_up_after`: recorded as error ``outcome_lost``) or ``failed`` (the
    gateway could not answer). The gateway is asked before any row is locked.
    """
    moment = resolve_now(now)
    attempt.last_checked_at, attempt.checks = moment, attempt.checks + 1
    try:
        gateway = get_gateway(attempt.gateway_id)
        result = gateway.get_transaction(attempt.key, attempt.gateway_reference)
    except (GatewayError, PluginError) as exc:
        log.warning("settling %s: %s", attempt.key, exc)
        session.flush()
        return "failed"
    outcome = "settled"
    if result.status == TransactionStatus.UNDEFINED:
        young = moment - attempt.created_at < give_up_after(gateway)
        if attempt.status != AttemptStatus.UNKNOWN or young:
            session.flush()
            return "still_open"
        result = GatewayResult(TransactionStatus.ERROR, TransactionType.PURCHASE,
                               error_code="outcome_lost",
                               error_message="the gateway never received this request")
        outcome = "given_up"
    apply_gateway_result(session, attempt, result, now=moment, actor=actor)
    return "still_open" if attempt.in_flight else outcome


def settle_unknown_attempts(session: Session, *, now: datetime | None = None,
                            actor: Actor | None = None, limit: int = 500) -> SettleReport:
    """Settle every attempt :func:`attempts_to_settle` finds, in this one session.

    Each attempt is applied in its own savepoint, so one failure does not hold back the
    others. Row locks taken for one attempt are held while the next gateway is asked:
    workers use :func:`praho.core.payment_runner.settle_in_transactions` instead.
    """
    moment = resolve_now(now)
    report = SettleReport()
    for attempt in attempts_to_settle(session, now=moment, limit=limit):
        report.checked += 1
        try:
            with session.begin_nested():
                outcome = settle_attempt(session, attempt, now=moment, actor=actor)
        except PrahoError as exc:
            log.error("settling %s failed: %s", attempt.key, exc)
            outcome = "failed"
        report.add(outcome)
    session.flush()
    return report
