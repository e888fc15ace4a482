"""The PayPal payment gateway: Orders v2 (create + capture) and capture refunds.

An off-session purchase creates an order paying with the customer's vaulted PayPal method
(``payment_source.paypal.vault_id`` = the stored token); PayPal completes such orders at
once, or leaves them APPROVED for us to capture. Our attempt key is the create request's
``PayPal-Request-Id`` and the purchase unit's ``custom_id`` (webhooks carry it back); the
capture uses ``<key>:capture``, so a repeated purchase can never capture twice.
Authorize/capture/void and vault management are not offered (``supports_authorize`` is
False): they are refused with ``unsupported`` rather than half-done.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from praho.core.money import to_major, to_minor
from praho.core.payments.answers import answer_reader, read_answer, reference
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
from praho.plugins.paypal_gateway import paypal_api
from praho.plugins.paypal_gateway.settings import current_settings

CAPTURE_STATUS = {
    "COMPLETED": TransactionStatus.PROCESSED,
    "PARTIALLY_REFUNDED": TransactionStatus.PROCESSED,
    "REFUNDED": TransactionStatus.PROCESSED,
    "PENDING": TransactionStatus.PENDING,
    "DECLINED": TransactionStatus.ERROR,
    "FAILED": TransactionStatus.ERROR,
}
REFUND_STATUS = {
    "COMPLETED": TransactionStatus.PROCESSED,
    "PENDING": TransactionStatus.PENDING,
    "FAILED": TransactionStatus.ERROR,
    "CANCELLED": TransactionStatus.CANCELED,
}
# 422 issues that mean "declined" (a result), not "malformed" (a refusal); all need the payer.
DECLINE_ISSUES = frozenset(
    {
        "INSTRUMENT_DECLINED",
        "PAYER_ACTION_REQUIRED",
        "ORDER_NOT_APPROVED",
        "PAYER_CANNOT_PAY",
        "TRANSACTION_REFUSED",
        "PAYEE_BLOCKED_TRANSACTION",
        "COMPLIANCE_VIOLATION",
        "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED",
    }
)


def money(amount: dict[str, Any] | None) -> tuple[int | None, str | None]:
    """A PayPal ``{currency_code, value}`` as minor units and currency."""
    if not isinstance(amount, dict) or not amount.get("currency_code"):
        return None, None
    currency = str(amount["currency_code"]).upper()
    return to_minor(str(amount.get("value", "0")), currency), currency


def paypal_amount(amount_minor: int, currency: str) -> dict[str, str]:
    """Minor units as PayPal's decimal string amount."""
    return {"currency_code": currency.upper(), "value": str(to_major(amount_minor, currency))}


def _check_resource(resource: Any) -> None:
    """An order, capture or refund has a text id and status; anything else is unreadable."""
    if not isinstance(resource, dict) or not isinstance(resource.get("status"), str):
        raise TypeError("not a PayPal resource (no status)")
    reference("id", resource.get("id"), required=True)


def _when(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    # A time without an offset cannot be placed; the core uses its own clock instead.
    return moment if moment is not None and moment.tzinfo is not None else None


@answer_reader("PayPal", "capture answer")
def capture_result(
    capture: dict[str, Any], kind: TransactionType = TransactionType.PURCHASE
) -> GatewayResult:
    """A capture resource as a gateway result (fee from the seller receivable breakdown)."""
    _check_resource(capture)
    status = CAPTURE_STATUS.get(str(capture.get("status")), TransactionStatus.UNDEFINED)
    amount, currency = money(capture.get("amount"))
    fee, _ = money((capture.get("seller_receivable_breakdown") or {}).get("paypal_fee"))
    reason = str((capture.get("status_details") or {}).get("reason") or capture.get("status") or "")
    failed = status is TransactionStatus.ERROR
    return GatewayResult(
        status=status,
        transaction_type=kind,
        gateway_reference=capture.get("id"),
        amount_minor=amount,
        currency=currency,
        fee_minor=fee,
        error_code=reason.lower() if failed else None,
        error_message=f"capture {reason.lower()}" if failed else None,
        hard_decline=failed,
        created_at=_when(capture.get("create_time")),
        raw=redact_payload(capture),
    )


@answer_reader("PayPal", "refund answer")
def refund_result(refund: dict[str, Any]) -> GatewayResult:
    """A refund resource as a gateway result."""
    _check_resource(refund)
    status = REFUND_STATUS.get(str(refund.get("status")), TransactionStatus.UNDEFINED)
    amount, currency = money(refund.get("amount"))
    failed = status is TransactionStatus.ERROR
    return GatewayResult(
        status=status,
        transaction_type=TransactionType.REFUND,
        gateway_reference=refund.get("id"),
        amount_minor=amount,
        currency=currency,
        error_code="refund_failed" if failed else None,
        error_message="refund failed" if failed else None,
        created_at=_when(refund.get("create_time")),
        raw=redact_payload(refund),
    )


@answer_reader("PayPal", "decline answer")
def _declined(answer: paypal_api.PayPalAnswer, kind: TransactionType) -> GatewayResult:
    issue = answer.issue or "UNPROCESSABLE_ENTITY"
    return GatewayResult(
        status=TransactionStatus.ERROR,
        transaction_type=kind,
        error_code=issue.lower(),
        error_message=str(answer.body.get("message") or issue),
        hard_decline=True,
        raw=redact_payload(answer.body),
    )


def first_capture(order: dict[str, Any]) -> dict[str, Any] | None:
    """The first capture of an order's first purchase unit, if any."""
    units = order.get("purchase_units") or [{}]
    captures = ((units[0] or {}).get("payments") or {}).get("captures") or []
    return dict(captures[0]) if captures else None


def _unsupported(what: str) -> GatewayRefused:
    return GatewayRefused(f"PayPal gateway: {what} is not supported", code="unsupported")


class PayPalGateway:
    """PaymentGateway over PayPal Orders v2."""

    id = "paypal"
    display_name = "PayPal"
    supports_authorize = False
    # PayPal cannot be asked about a request by our key (no order id came back), so an
    # unknown outcome waits for the webhook, which PayPal retries for up to 3 days:
    # only after that is the request taken as never received (and charged again).
    unknown_give_up = timedelta(days=4)

    def purchase(self, request: PaymentRequest) -> GatewayResult:
        """Create an order paid with the vaulted method, then capture it if PayPal did not."""
        settings = current_settings()
        unit: dict[str, Any] = {
            "reference_id": "default",
            "custom_id": request.idempotency_key[:127],
            "amount": paypal_amount(request.amount_minor, request.currency),
        }
        if request.description:
            unit["description"] = request.description[:127]
        if request.metadata.get("invoice"):
            unit["invoice_id"] = str(request.metadata["invoice"])[:127]
        body: dict[str, Any] = {"intent": "CAPTURE", "purchase_units": [unit]}
        if request.method_token:
            body["payment_source"] = {"paypal": {"vault_id": request.method_token}}
        created = paypal_api.create_order(settings, request_id=request.idempotency_key, body=body)
        if created.status == 422:
            if created.issue in DECLINE_ISSUES:
                return _declined(created, TransactionType.PURCHASE)
            raise GatewayRefused(
                f"PayPal create order: {created.issue}", code=str(created.issue).lower()
            )
        return read_answer(
            "PayPal", "create order", lambda: self._purchased(created.body, request)
        )

    def _purchased(self, order: dict[str, Any], request: PaymentRequest) -> GatewayResult:
        """The result of a created order: captured, captured now, or waiting for the payer."""
        _check_resource(order)
        if order.get("status") == "APPROVED":
            order = self.capture_order(str(order["id"]), request.idempotency_key)
            if isinstance(order, GatewayResult):
                return order
            _check_resource(order)
        capture = first_capture(order)
        if capture is None:
            return GatewayResult(
                status=TransactionStatus.ERROR,
                transaction_type=TransactionType.PURCHASE,
                gateway_reference=order.get("id"),
                error_code="payer_action_required",
                error_message=f"order is {order.get('status')}; the payer must approve it",
                hard_decline=True,
                raw=redact_payload(order),
            )
        return capture_result(capture)

    def capture_order(self, order_id: str, key: str) -> dict[str, Any] | GatewayResult:
        """Capture an approved order (request id ``<key>:capture``): the order, or a decline."""
        settings = current_settings()
        answer = paypal_api.capture_order(settings, order_id, request_id=f"{key}:capture")
        if answer.status == 422 and answer.issue == "ORDER_ALREADY_CAPTURED":
            return paypal_api.get_order(settings, order_id).body
        if answer.status == 422:
            return _declined(answer, TransactionType.PURCHASE)
        return answer.body

    def authorize(self, request: PaymentRequest) -> GatewayResult:
        """Not offered: PayPal purchases capture at once."""
        raise _unsupported("authorize")

    def capture(self, request: CaptureRequest) -> GatewayResult:
        """Not offered (see :meth:`authorize`)."""
        raise _unsupported("capture of an authorization")

    def void(self, request: VoidRequest) -> GatewayResult:
        """Not offered (see :meth:`authorize`)."""
        raise _unsupported("void")

    def refund(self, request: RefundRequest) -> GatewayResult:
        """Refund (part of) a capture; the refund key is its PayPal-Request-Id."""
        body: dict[str, Any] = {
            "amount": paypal_amount(request.amount_minor, request.currency),
            "custom_id": request.idempotency_key[:127],
        }
        if request.reason:
            body["note_to_payer"] = request.reason[:255]
        answer = paypal_api.refund_capture(
            current_settings(),
            request.gateway_reference,
            request_id=request.idempotency_key,
            body=body,
        )
        if answer.status == 422:
            raise GatewayRefused(f"PayPal refund: {answer.issue}", code=str(answer.issue).lower())
        return refund_result(answer.body)

    def get_transaction(self, idempotency_key: str, gateway_reference: str | None) -> GatewayResult:
        """A capture or refund by id. PayPal cannot look up a request id: without a reference
        the answer is UNDEFINED, and the webhook (which carries our key as custom_id) settles it."""
        if not gateway_reference:
            return GatewayResult(
                status=TransactionStatus.UNDEFINED,
                transaction_type=TransactionType.PURCHASE,
                error_code="not_found",
                error_message="PayPal has no lookup by request id",
            )
        settings = current_settings()
        try:
            return capture_result(paypal_api.get_capture(settings, gateway_reference).body)
        except GatewayRefused as exc:
            if exc.code != "resource_not_found":
                raise
        return refund_result(paypal_api.get_refund(settings, gateway_reference).body)

    def add_payment_method(self, request: MethodRequest) -> SavedMethod:
        """Not offered: PayPal vault tokens are saved by the checkout flow (Vault v3)."""
        raise _unsupported("saving a payment method")

    def remove_payment_method(self, token: str) -> None:
        """Not offered (see :meth:`add_payment_method`)."""
        raise _unsupported("removing a payment method")
