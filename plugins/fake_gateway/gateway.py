"""A fake gateway answering by magic tokens, with the idempotency of a real one.

Saving a method with setup reference ``tok_<behaviour>`` returns a token starting with
it; charging a token (saved or bare) behaves by its prefix:

==========================  ===================================================
``tok_success``             PROCESSED, fee 1.4 % + 0.25
``tok_decline``             ERROR ``card_declined`` (soft: dunning may retry)
``tok_insufficient_funds``  ERROR ``insufficient_funds`` (soft)
``tok_expired``             ERROR ``expired_card``, hard decline
``tok_pending``             PENDING; ``get_transaction`` then answers PROCESSED
``tok_timeout``             the charge happens, then :class:`OutcomeUnknown`
``tok_timeout_lost``        :class:`OutcomeUnknown`, the charge never happened
==========================  ===================================================

Anything else is ERROR ``invalid_token`` (hard). State is kept in process memory, keyed
by idempotency key: a repeat with the same parameters returns the first answer, with
other parameters raises :class:`GatewayRefused` (``idempotency_conflict``), as Stripe does.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal

from praho.core.money import percent_of
from praho.core.payments.gateway import (
    CaptureRequest,
    GatewayRefused,
    GatewayResult,
    MethodRequest,
    OutcomeUnknown,
    PaymentRequest,
    RefundRequest,
    SavedMethod,
    TransactionStatus,
    TransactionType,
    VoidRequest,
)

FEE_PERCENT = Decimal("1.4")
FEE_FIXED_MINOR = 25
# Longest first: "tok_timeout_lost" must not be read as "tok_timeout".
MAGIC = ("tok_insufficient_funds", "tok_timeout_lost", "tok_success", "tok_decline",
         "tok_expired", "tok_pending", "tok_timeout")
LAST4 = {"tok_success": "4242", "tok_decline": "0002", "tok_insufficient_funds": "9995",
         "tok_expired": "0069", "tok_pending": "3184", "tok_timeout": "0259",
         "tok_timeout_lost": "0341"}


def behaviour(token: str | None) -> str | None:
    """The magic token a method token starts with, if any."""
    # Longest first: "tok_timeout_lost_1" is tok_timeout_lost, not tok_timeout.
    for magic in sorted(MAGIC, key=len, reverse=True):
        if token and token.startswith(magic) and token[len(magic):][:1] in ("", "_"):
            return magic
    return None


@dataclass
class FakeTransaction:
    """What the fake gateway remembers about one idempotency key."""

    params: tuple[object, ...]
    result: GatewayResult
    moved_minor: int = 0  # money actually taken (captured/charged), for tests to check
    refunded_minor: int = 0


@dataclass
class FakeGateway:
    """The PaymentGateway protocol, in memory. NOT A REAL GATEWAY."""

    id: str = "fake"
    display_name: str = "Fake gateway (tests and demo only)"
    supports_authorize: bool = True
    transactions: dict[str, FakeTransaction] = field(default_factory=dict)
    removed_tokens: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- what tests look at -----------------------------------------------------

    def charged_minor(self, idempotency_key: str) -> int:
        """Money taken under this key (0 when nothing moved)."""
        found = self.transactions.get(idempotency_key)
        return found.moved_minor if found else 0

    # --- the protocol -----------------------------------------------------------

    def purchase(self, request: PaymentRequest) -> GatewayResult:
        """Charge a token; see the module docstring for the magic tokens."""
        return self._charge(request, TransactionType.PURCHASE)

    def authorize(self, request: PaymentRequest) -> GatewayResult:
        """Reserve an amount; behaves like purchase but moves no money until captured."""
        return self._charge(request, TransactionType.AUTHORIZE)

    def capture(self, request: CaptureRequest) -> GatewayResult:
        """Capture (part of) an authorization made here."""
        with self._lock:
            params = ("capture", request.gateway_reference, request.amount_minor, request.currency)
            repeat = self._repeat(request.idempotency_key, params)
            if repeat is not None:
                return repeat
            auth = self._by_reference(request.gateway_reference)
            if auth is None or auth.result.transaction_type != TransactionType.AUTHORIZE \
                    or auth.result.status != TransactionStatus.PROCESSED:
                raise GatewayRefused("no authorization to capture", code="resource_missing")
            if request.amount_minor > (auth.result.amount_minor or 0):
                raise GatewayRefused("capture exceeds the authorization", code="amount_too_large")
            result = self._result(TransactionStatus.PROCESSED, TransactionType.CAPTURE,
                                  request.amount_minor, request.currency,
                                  reference=request.gateway_reference)
            self.transactions[request.idempotency_key] = FakeTransaction(
                params, result, moved_minor=request.amount_minor)
            return result

    def void(self, request: VoidRequest) -> GatewayResult:
        """Release an authorization."""
        with self._lock:
            params = ("void", request.gateway_reference)
            repeat = self._repeat(request.idempotency_key, params)
            if repeat is not None:
                return repeat
            if self._by_reference(request.gateway_reference) is None:
                raise GatewayRefused("no such authorization", code="resource_missing")
            result = self._result(TransactionStatus.PROCESSED, TransactionType.VOID, None, None,
                                  reference=request.gateway_reference)
            self.transactions[request.idempotency_key] = FakeTransaction(params, result)
            return result

    def refund(self, request: RefundRequest) -> GatewayResult:
        """Refund (part of) a charge made here; never more than was charged."""
        with self._lock:
            params = ("refund", request.gateway_reference, request.amount_minor, request.currency)
            repeat = self._repeat(request.idempotency_key, params)
            if repeat is not None:
                return repeat
            charge = self._by_reference(request.gateway_reference)
            if charge is None or charge.moved_minor == 0:
                raise GatewayRefused("no such charge", code="resource_missing")
            if request.amount_minor <= 0 or \
                    request.amount_minor > charge.moved_minor - charge.refunded_minor:
                raise GatewayRefused("refund exceeds what is left of the charge",
                                     code="amount_too_large")
            charge.refunded_minor += request.amount_minor
            result = self._result(TransactionStatus.PROCESSED, TransactionType.REFUND,
                                  request.amount_minor, request.currency,
                                  reference=f"fake_re_{next(self._numbers)}")
            self.transactions[request.idempotency_key] = FakeTransaction(params, result)
            return result

    def get_transaction(self, idempotency_key: str, gateway_reference: str | None) -> GatewayResult:
        """What became of a key: a pending charge completes when asked; unknown keys are
        UNDEFINED."""
        with self._lock:
            found = self.transactions.get(idempotency_key)
            if found is None:
                return GatewayResult(TransactionStatus.UNDEFINED, TransactionType.PURCHASE)
            if found.result.status == TransactionStatus.PENDING:
                found.result = replace(found.result, status=TransactionStatus.PROCESSED,
                                       fee_minor=fee_for(found.result.amount_minor or 0))
                found.moved_minor = found.result.amount_minor or 0
            return found.result

    def add_payment_method(self, request: MethodRequest) -> SavedMethod:
        """Save a magic token as a method (``tok_success`` -> ``tok_success_<random>``)."""
        magic = behaviour(request.setup_reference)
        if magic is None:
            raise GatewayRefused(f"unknown setup reference; use one of {', '.join(MAGIC)}",
                                 code="resource_missing")
        return SavedMethod(token=f"{magic}_{uuid.uuid4().hex[:12]}",
                           customer_reference=request.customer_reference or "fake_cus",
                           kind="card", brand="visa", last4=LAST4[magic], exp_month=12,
                           exp_year=2030)

    def remove_payment_method(self, token: str) -> None:
        """Forget a token; charging it afterwards is a hard decline."""
        with self._lock:
            self.removed_tokens.add(token)

    # --- internals ---------------------------------------------------------------

    def _charge(self, request: PaymentRequest, kind: TransactionType) -> GatewayResult:
        if request.amount_minor <= 0 or len(request.currency) != 3:
            raise GatewayRefused("amount must be positive and currency ISO 4217",
                                 code="parameter_invalid")
        magic = behaviour(request.method_token)
        with self._lock:
            params = (str(kind), request.amount_minor, request.currency, request.method_token)
            repeat = self._repeat(request.idempotency_key, params)
            if repeat is not None:
                return repeat
            if magic == "tok_timeout_lost":
                raise OutcomeUnknown("timed out before the gateway received the request",
                                     code="timeout")
            result = self._decide(magic, request, kind)
            charged = result.succeeded and kind == TransactionType.PURCHASE
            moved = request.amount_minor if charged else 0
            self.transactions[request.idempotency_key] = FakeTransaction(params, result, moved)
        if magic == "tok_timeout":
            raise OutcomeUnknown("timed out after the gateway charged", code="timeout")
        return result

    def _decide(self, magic: str | None, request: PaymentRequest,
                kind: TransactionType) -> GatewayResult:
        amount, currency = request.amount_minor, request.currency
        if request.method_token in self.removed_tokens or magic is None:
            return self._result(TransactionStatus.ERROR, kind, amount, currency,
                                error=("invalid_token", "no such payment method"), hard=True)
        if magic == "tok_decline":
            return self._result(TransactionStatus.ERROR, kind, amount, currency,
                                error=("card_declined", "Your card was declined."))
        if magic == "tok_insufficient_funds":
            return self._result(TransactionStatus.ERROR, kind, amount, currency,
                                error=("insufficient_funds", "Your card has insufficient funds."))
        if magic == "tok_expired":
            return self._result(TransactionStatus.ERROR, kind, amount, currency,
                                error=("expired_card", "Your card has expired."), hard=True)
        if magic == "tok_pending":
            return self._result(TransactionStatus.PENDING, kind, amount, currency)
        fee = fee_for(amount) if kind == TransactionType.PURCHASE else None
        return self._result(TransactionStatus.PROCESSED, kind, amount, currency, fee=fee)

    def _result(self, status: TransactionStatus, kind: TransactionType, amount: int | None,
                currency: str | None, *, reference: str | None = None, fee: int | None = None,
                error: tuple[str, str] | None = None, hard: bool = False) -> GatewayResult:
        reference = reference or f"fake_ch_{next(self._numbers)}"
        code, message = error or (None, None)
        return GatewayResult(
            status=status, transaction_type=kind, gateway_reference=reference,
            amount_minor=amount, currency=currency, fee_minor=fee, error_code=code,
            error_message=message, hard_decline=hard,
            raw={"id": reference, "status": str(status), "fake": True},
        )

    def _repeat(self, key: str, params: tuple[object, ...]) -> GatewayResult | None:
        found = self.transactions.get(key)
        if found is None:
            return None
        if found.params != params:
            raise GatewayRefused("idempotency key reused with different parameters",
                                 code="idempotency_conflict")
        return found.result

    def _by_reference(self, reference: str) -> FakeTransaction | None:
        for transaction in self.transactions.values():
            if transaction.result.gateway_reference == reference:
                return transaction
        return None


def fee_for(amount_minor: int) -> int:
    """The fake's fee: 1.4 % + 25 minor units, never more than the amount."""
    return min(percent_of(amount_minor, FEE_PERCENT) + FEE_FIXED_MINOR, amount_minor)


GATEWAY = FakeGateway()
