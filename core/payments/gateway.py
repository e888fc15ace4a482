"""The payment gateway contract: what the core asks a gateway plugin and what it gets back.

Modelled on Kill Bill's payment plugin API. A gateway plugin returns objects that
implement :class:`PaymentGateway` from its ``register_payment_gateways`` hook; the core
dispatches to one by ``id``. Every call takes one request object and returns one
:class:`GatewayResult`; a gateway never raises for a decline (that is a result with
status ERROR), only :class:`OutcomeUnknown` when it cannot tell whether the request took
effect (timeout, reset connection, 5xx after sending), and :class:`GatewayRefused` when the
request was rejected before anything happened (bad parameters, idempotency conflict).

Idempotency: ``idempotency_key`` is the id of our own attempt/refund record, written before
the call. Gateways send it as their idempotency header (Stripe ``Idempotency-Key``, PayPal
``PayPal-Request-Id``), so asking again with the same key can never charge twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


class TransactionStatus(StrEnum):
    """Outcome of a gateway call (Kill Bill's PaymentPluginStatus)."""

    PROCESSED = "PROCESSED"  # money moved (or the method was saved, the void applied)
    PENDING = "PENDING"  # accepted, final outcome arrives later (webhook or query)
    ERROR = "ERROR"  # declined or failed; nothing moved
    CANCELED = "CANCELED"  # cancelled before completion (e.g. customer abandoned)
    UNDEFINED = "UNDEFINED"  # the gateway cannot say; settle later, never retry blindly


class TransactionType(StrEnum):
    """What a transaction did."""

    PURCHASE = "PURCHASE"
    AUTHORIZE = "AUTHORIZE"
    CAPTURE = "CAPTURE"
    VOID = "VOID"
    REFUND = "REFUND"


class GatewayError(Exception):
    """Base of the exceptions a gateway may raise (declines are results, not exceptions)."""

    def __init__(self, message: str, *, code: str = "gateway_error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class OutcomeUnknown(GatewayError):
    """The request may or may not have taken effect; settle by asking the gateway later."""


class GatewayRefused(GatewayError):
    """The gateway rejected the request before acting (bad parameters, idempotency conflict)."""


@dataclass(frozen=True)
class PaymentRequest:
    """Charge (PURCHASE) or reserve (AUTHORIZE) an amount on a stored method, off-session."""

    idempotency_key: str
    amount_minor: int
    currency: str
    customer_reference: str | None
    method_token: str | None
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CaptureRequest:
    """Capture (part of) an authorization."""

    idempotency_key: str
    gateway_reference: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class VoidRequest:
    """Release an authorization that was not captured."""

    idempotency_key: str
    gateway_reference: str


@dataclass(frozen=True)
class RefundRequest:
    """Give back (part of) a processed payment."""

    idempotency_key: str
    gateway_reference: str
    amount_minor: int
    currency: str
    reason: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodRequest:
    """Save a payment method the customer set up with the gateway (SetupIntent, vault)."""

    idempotency_key: str
    customer_reference: str | None
    setup_reference: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SavedMethod:
    """A payment method on file: a gateway token and what may be shown, never a card number."""

    token: str
    customer_reference: str | None
    kind: str = "card"
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None


@dataclass(frozen=True)
class GatewayResult:
    """One gateway call's outcome.

    ``hard_decline`` marks errors that retrying cannot fix (expired card, no method,
    fraud): dunning stops and asks the customer to act. ``raw`` is a redacted copy of
    the gateway's answer, safe to store.
    """

    status: TransactionStatus
    transaction_type: TransactionType
    gateway_reference: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    fee_minor: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    hard_decline: bool = False
    method: SavedMethod | None = None
    created_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        """True when money moved (or the operation applied)."""
        return self.status is TransactionStatus.PROCESSED


@runtime_checkable
class PaymentGateway(Protocol):
    """What a gateway plugin implements. ``id`` is stored on every payment record."""

    id: str
    display_name: str
    supports_authorize: bool

    def purchase(self, request: PaymentRequest) -> GatewayResult:
        """Charge a stored method off-session."""

    def authorize(self, request: PaymentRequest) -> GatewayResult:
        """Reserve an amount without capturing it."""

    def capture(self, request: CaptureRequest) -> GatewayResult:
        """Capture an authorization."""

    def void(self, request: VoidRequest) -> GatewayResult:
        """Release an authorization."""

    def refund(self, request: RefundRequest) -> GatewayResult:
        """Refund (part of) a processed payment."""

    def get_transaction(self, idempotency_key: str, gateway_reference: str | None) -> GatewayResult:
        """Ask what became of a request: settles attempts whose outcome was unknown.

        Returns status UNDEFINED when the gateway has no record of the key yet.
        """

    def add_payment_method(self, request: MethodRequest) -> SavedMethod:
        """Attach a method the customer set up; returns what may be stored."""

    def remove_payment_method(self, token: str) -> None:
        """Detach a stored method at the gateway."""
