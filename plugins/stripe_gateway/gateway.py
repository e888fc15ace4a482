"""The Stripe payment gateway: the core's PaymentGateway contract over PaymentIntents.

Every charge is a PaymentIntent confirmed off-session with our attempt id as its
Idempotency-Key and in its metadata (``praho_key``), so asking again can never charge twice
and an attempt whose outcome was unknown can be found by key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from praho.core import validation as v
from praho.core.money import CurrencyError, to_major, to_minor
from praho.core.payments.answers import answer_reader, readable_answer, reference
from praho.core.payments.gateway import (
    CaptureRequest,
    GatewayRefused,
    GatewayResult,
    MethodRequest,
    PaymentRequest,
    RefundRequest,
    SavedMethod,
    TransactionStatus,
    TransactionType,
    VoidRequest,
)
from praho.core.redaction import redact_payload
from praho.plugins.stripe_gateway import stripe_api
from praho.plugins.stripe_gateway.settings import current_settings

INTENT_STATUS = {
    "succeeded": TransactionStatus.PROCESSED,
    "processing": TransactionStatus.PENDING,
    "canceled": TransactionStatus.CANCELED,
    # Off-session there is nobody to authenticate or pick another card: a failure.
    "requires_action": TransactionStatus.ERROR,
    "requires_payment_method": TransactionStatus.ERROR,
    "requires_confirmation": TransactionStatus.ERROR,
}
REFUND_STATUS = {
    "succeeded": TransactionStatus.PROCESSED,
    "pending": TransactionStatus.PENDING,
    "requires_action": TransactionStatus.PENDING,
    "failed": TransactionStatus.ERROR,
    "canceled": TransactionStatus.CANCELED,
}


def _when(stamp: Any) -> datetime | None:
    return datetime.fromtimestamp(int(stamp), UTC) if isinstance(stamp, int) else None


def _fee(intent: dict[str, Any]) -> int | None:
    """Stripe's fee in minor units of the charge's currency, or None when we cannot tell.

    The fee is on the charge's balance transaction, which is in the Stripe account's
    settlement currency: used as it is only when that is the charge's currency. Otherwise
    Stripe converted the charge at ``exchange_rate`` (settlement = charge x rate), so the
    fee is ``fee / exchange_rate`` in the charge currency, rounded half-up to its minor
    unit with Decimal arithmetic. Without a usable rate (or with a currency we do not
    know) no fee is recorded: better none than one in the wrong currency.
    """
    charge = intent.get("latest_charge")
    txn = charge.get("balance_transaction") if isinstance(charge, dict) else None
    if not isinstance(txn, dict) or txn.get("fee") is None:
        return None
    fee = int(txn["fee"])
    charged_in = str(intent.get("currency") or "").upper()
    settled_in = str(txn.get("currency") or "").upper()
    if settled_in == charged_in:
        return fee
    rate = txn.get("exchange_rate")
    # JSON numbers arrive as float: str() gives back the digits Stripe sent (its rates
    # have far fewer than the 15 significant digits a float keeps).
    if isinstance(rate, bool) or not isinstance(rate, int | float | str | Decimal):
        return None
    try:
        exact_rate = Decimal(str(rate))
        if not exact_rate.is_finite() or exact_rate <= 0:
            return None
        # Digits enough that the quotient is never rounded across a half before to_minor.
        with localcontext(prec=60):
            return to_minor(to_major(fee, settled_in) / exact_rate, charged_in)
    except (InvalidOperation, CurrencyError):
        return None


@answer_reader("Stripe", "payment answer")
def intent_result(intent: dict[str, Any], kind: TransactionType) -> GatewayResult:
    """A PaymentIntent as a gateway result (``requires_capture`` is a processed authorization)."""
    # An answer without its id or status is not a PaymentIntent: unknown, never a result.
    reference("id", intent.get("id"), required=True)
    if not isinstance(intent.get("status"), str):
        raise TypeError("status is not text")
    status_text = str(intent.get("status"))
    status = INTENT_STATUS.get(status_text, TransactionStatus.UNDEFINED)
    if status_text == "requires_capture":
        status = (
            TransactionStatus.PROCESSED
            if kind is TransactionType.AUTHORIZE
            else TransactionStatus.PENDING
        )
    error = intent.get("last_payment_error") or {}
    if not isinstance(error, dict):
        raise TypeError("last_payment_error is not an object")
    code = message = None
    hard = False
    if status is TransactionStatus.ERROR:
        code = str(error.get("decline_code") or error.get("code") or status_text)
        message = str(error.get("message") or f"payment {status_text}")
        hard = code not in stripe_api.SOFT_DECLINES
    amount = (
        intent.get("amount_received")
        if status is TransactionStatus.PROCESSED
        and kind in (TransactionType.PURCHASE, TransactionType.CAPTURE)
        else intent.get("amount")
    )
    return GatewayResult(
        status=status,
        transaction_type=kind,
        gateway_reference=intent.get("id"),
        amount_minor=amount,
        currency=str(intent.get("currency") or "").upper() or None,
        fee_minor=_fee(intent),
        error_code=code,
        error_message=message,
        hard_decline=hard,
        created_at=_when(intent.get("created")),
        raw=redact_payload(intent),
    )


@answer_reader("Stripe", "refund answer")
def refund_result(refund: dict[str, Any]) -> GatewayResult:
    """A Refund as a gateway result."""
    reference("id", refund.get("id"), required=True)
    if not isinstance(refund.get("status"), str):
        raise TypeError("status is not text")
    status = REFUND_STATUS.get(str(refund.get("status")), TransactionStatus.UNDEFINED)
    failed = status is TransactionStatus.ERROR
    return GatewayResult(
        status=status,
        transaction_type=TransactionType.REFUND,
        gateway_reference=refund.get("id"),
        amount_minor=refund.get("amount"),
        currency=str(refund.get("currency") or "").upper() or None,
        error_code=str(refund.get("failure_reason") or "refund_failed") if failed else None,
        error_message="refund failed" if failed else None,
        created_at=_when(refund.get("created")),
        raw=redact_payload(refund),
    )


@answer_reader("Stripe", "decline answer")
def _declined(exc: stripe_api.CardDeclined, kind: TransactionType) -> GatewayResult:
    intent = exc.payment_intent
    return GatewayResult(
        status=TransactionStatus.ERROR,
        transaction_type=kind,
        gateway_reference=intent.get("id"),
        amount_minor=intent.get("amount"),
        currency=str(intent.get("currency") or "").upper() or None,
        error_code=exc.decline_code or exc.code,
        error_message=exc.message,
        hard_decline=exc.hard,
        created_at=_when(intent.get("created")),
        raw=redact_payload(intent),
    )


def _saved_method(setup: dict[str, Any], request: MethodRequest) -> SavedMethod:
    """The stored form of a SetupIntent's method; what we keep is checked (no card number)."""
    method = setup["payment_method"]
    card = method.get("card") or {}
    if not isinstance(card, dict):
        raise TypeError("card is not an object")
    last4, brand = card.get("last4"), card.get("brand")
    exp_month, exp_year = card.get("exp_month"), card.get("exp_year")
    return SavedMethod(
        token=str(reference("payment_method.id", method.get("id"), required=True)),
        customer_reference=reference("customer", setup.get("customer"))
        or request.customer_reference,
        kind=v.external_text(method.get("type") or "card", max_length=30),
        brand=None if brand is None else v.external_text(brand, max_length=30),
        last4=None if last4 is None else v.code("card.last4", last4, max_length=4),
        exp_month=None if exp_month is None else v.integer("card.exp_month", exp_month,
                                                           minimum=1, maximum=12),
        exp_year=None if exp_year is None else v.integer("card.exp_year", exp_year,
                                                         minimum=2000, maximum=2200),
    )


class StripeGateway:
    """PaymentGateway over Stripe PaymentIntents, SetupIntents and Refunds."""

    id = "stripe"
    display_name = "Stripe"
    supports_authorize = True

    def _charge(self, request: PaymentRequest, kind: TransactionType) -> GatewayResult:
        try:
            intent = stripe_api.create_payment_intent(
                current_settings(),
                idempotency_key=request.idempotency_key,
                amount_minor=request.amount_minor,
                currency=request.currency,
                customer=request.customer_reference,
                payment_method=request.method_token,
                capture=kind is TransactionType.PURCHASE,
                description=request.description,
                metadata=request.metadata,
            )
        except stripe_api.CardDeclined as exc:
            return _declined(exc, kind)
        return intent_result(intent, kind)

    def purchase(self, request: PaymentRequest) -> GatewayResult:
        """Charge a stored method off-session (PaymentIntent, automatic capture)."""
        return self._charge(request, TransactionType.PURCHASE)

    def authorize(self, request: PaymentRequest) -> GatewayResult:
        """Reserve an amount (PaymentIntent, manual capture)."""
        return self._charge(request, TransactionType.AUTHORIZE)

    def capture(self, request: CaptureRequest) -> GatewayResult:
        """Capture an authorized PaymentIntent."""
        try:
            intent = stripe_api.capture_payment_intent(
                current_settings(),
                request.gateway_reference,
                amount_minor=request.amount_minor,
                idempotency_key=request.idempotency_key,
            )
        except stripe_api.CardDeclined as exc:  # a 402 escaped the contract before
            return _declined(exc, TransactionType.CAPTURE)
        return intent_result(intent, TransactionType.CAPTURE)

    def void(self, request: VoidRequest) -> GatewayResult:
        """Cancel an uncaptured PaymentIntent."""
        try:
            intent = stripe_api.cancel_payment_intent(
                current_settings(), request.gateway_reference,
                idempotency_key=request.idempotency_key,
            )
        except stripe_api.CardDeclined as exc:
            return _declined(exc, TransactionType.VOID)
        result = intent_result(intent, TransactionType.VOID)
        if result.status is TransactionStatus.CANCELED:
            # The void applied: for a VOID transaction that is success.
            return GatewayResult(**{**result.__dict__, "status": TransactionStatus.PROCESSED})
        return result

    def refund(self, request: RefundRequest) -> GatewayResult:
        """Refund (part of) a PaymentIntent."""
        try:
            refund = stripe_api.create_refund(
                current_settings(),
                idempotency_key=request.idempotency_key,
                payment_intent=request.gateway_reference,
                amount_minor=request.amount_minor,
                reason=request.reason,
                metadata=request.metadata,
            )
        except stripe_api.CardDeclined as exc:
            raise GatewayRefused(f"Stripe refund: {exc.message}", code=exc.code) from None
        return refund_result(refund)

    def get_transaction(self, idempotency_key: str, gateway_reference: str | None) -> GatewayResult:
        """What became of an attempt: by PaymentIntent/Refund id, else by our key in metadata."""
        try:
            return self._lookup(idempotency_key, gateway_reference)
        except stripe_api.CardDeclined as exc:
            raise GatewayRefused(f"Stripe lookup: {exc.message}", code=exc.code) from None

    def _lookup(self, idempotency_key: str, gateway_reference: str | None) -> GatewayResult:
        settings = current_settings()
        if gateway_reference and gateway_reference.startswith("re_"):
            return refund_result(stripe_api.retrieve_refund(settings, gateway_reference))
        if gateway_reference:
            intent: dict[str, Any] | None = stripe_api.retrieve_payment_intent(
                settings, gateway_reference
            )
        else:
            intent = stripe_api.find_payment_intent(settings, idempotency_key)
        if intent is None:
            return GatewayResult(
                status=TransactionStatus.UNDEFINED,
                transaction_type=TransactionType.PURCHASE,
                error_code="not_found",
                error_message="Stripe has no payment with this key (yet)",
            )
        manual = intent.get("capture_method") == "manual"
        return intent_result(
            intent, TransactionType.AUTHORIZE if manual else TransactionType.PURCHASE
        )

    def add_payment_method(self, request: MethodRequest) -> SavedMethod:
        """The card a succeeded SetupIntent saved: token, brand, last4, expiry (no number)."""
        try:
            setup = stripe_api.retrieve_setup_intent(current_settings(), request.setup_reference)
        except stripe_api.CardDeclined as exc:
            raise GatewayRefused(f"Stripe setup: {exc.message}", code=exc.code) from None
        if setup.get("status") != "succeeded" or not isinstance(setup.get("payment_method"), dict):
            raise GatewayRefused(
                f"SetupIntent {request.setup_reference} is {setup.get('status')}, not succeeded",
                code="setup_incomplete",
            )
        with readable_answer("Stripe", "retrieve setup"):
            return _saved_method(setup, request)

    def remove_payment_method(self, token: str) -> None:
        """Detach the method from its Stripe customer."""
        try:
            stripe_api.detach_payment_method(current_settings(), token)
        except stripe_api.CardDeclined as exc:
            raise GatewayRefused(f"Stripe detach: {exc.message}", code=exc.code) from None
