"""The fake gateway keeps the contract: magic tokens, idempotency, refunds within limits."""

import uuid

import pytest
from praho.core.payments.gateway import (
    CaptureRequest,
    GatewayRefused,
    MethodRequest,
    OutcomeUnknown,
    PaymentGateway,
    PaymentRequest,
    RefundRequest,
    TransactionStatus,
    VoidRequest,
)
from praho.plugins.fake_gateway.gateway import FakeGateway, behaviour, fee_for


@pytest.fixture
def gateway():
    return FakeGateway()


def _charge(gateway, token, amount=10000, key=None, authorize=False):
    request = PaymentRequest(idempotency_key=key or f"pa_{uuid.uuid4().hex}", amount_minor=amount,
                             currency="RON", customer_reference=None, method_token=token)
    return request, (gateway.authorize if authorize else gateway.purchase)(request)


def test_it_implements_the_protocol(gateway):
    assert isinstance(gateway, PaymentGateway) and gateway.id == "fake"
    assert "tests and demo only" in gateway.display_name


@pytest.mark.parametrize("token, status, code, hard", [
    ("tok_success", TransactionStatus.PROCESSED, None, False),
    ("tok_success_abc", TransactionStatus.PROCESSED, None, False),
    ("tok_decline", TransactionStatus.ERROR, "card_declined", False),
    ("tok_insufficient_funds", TransactionStatus.ERROR, "insufficient_funds", False),
    ("tok_expired_1", TransactionStatus.ERROR, "expired_card", True),
    ("tok_pending", TransactionStatus.PENDING, None, False),
    ("tok_successful", TransactionStatus.ERROR, "invalid_token", True),
    ("pm_real_looking", TransactionStatus.ERROR, "invalid_token", True),
])
def test_magic_tokens(gateway, token, status, code, hard):
    request, result = _charge(gateway, token)
    assert (result.status, result.error_code, result.hard_decline) == (status, code, hard)
    moved = 10000 if status == TransactionStatus.PROCESSED else 0
    assert gateway.charged_minor(request.idempotency_key) == moved
    assert result.fee_minor == (fee_for(10000) if moved else None)


def test_repeats_never_charge_twice_and_conflicts_are_refused(gateway):
    request, first = _charge(gateway, "tok_success")
    again = gateway.purchase(request)
    assert again == first and gateway.charged_minor(request.idempotency_key) == 10000
    with pytest.raises(GatewayRefused) as refused:
        _charge(gateway, "tok_success", amount=9999, key=request.idempotency_key)
    assert refused.value.code == "idempotency_conflict"


def test_timeouts_either_charged_or_not(gateway):
    charged = PaymentRequest("pa_t1", 5000, "RON", None, "tok_timeout")
    with pytest.raises(OutcomeUnknown):
        gateway.purchase(charged)
    assert gateway.get_transaction("pa_t1", None).status == TransactionStatus.PROCESSED
    assert gateway.purchase(charged).status == TransactionStatus.PROCESSED  # the stored answer
    assert gateway.charged_minor("pa_t1") == 5000

    lost = PaymentRequest("pa_t2", 5000, "RON", None, "tok_timeout_lost")
    with pytest.raises(OutcomeUnknown):
        gateway.purchase(lost)
    assert gateway.get_transaction("pa_t2", None).status == TransactionStatus.UNDEFINED
    assert gateway.charged_minor("pa_t2") == 0


def test_pending_completes_when_asked(gateway):
    request, result = _charge(gateway, "tok_pending")
    assert gateway.charged_minor(request.idempotency_key) == 0
    settled = gateway.get_transaction(request.idempotency_key, result.gateway_reference)
    assert settled.status == TransactionStatus.PROCESSED and settled.fee_minor == fee_for(10000)
    assert gateway.charged_minor(request.idempotency_key) == 10000


def test_refunds_stay_within_the_charge_and_are_idempotent(gateway):
    _request, charge = _charge(gateway, "tok_success")
    refund = RefundRequest("rf_1", charge.gateway_reference, 4000, "RON")
    assert gateway.refund(refund).status == TransactionStatus.PROCESSED
    assert gateway.refund(refund).status == TransactionStatus.PROCESSED  # repeat: no second refund
    assert gateway.refund(RefundRequest("rf_2", charge.gateway_reference, 6000, "RON")).succeeded
    with pytest.raises(GatewayRefused, match="exceeds"):
        gateway.refund(RefundRequest("rf_3", charge.gateway_reference, 1, "RON"))
    with pytest.raises(GatewayRefused, match="no such charge"):
        gateway.refund(RefundRequest("rf_4", "fake_ch_missing", 1, "RON"))


def test_authorize_capture_void(gateway):
    _request, auth = _charge(gateway, "tok_success", authorize=True)
    assert auth.succeeded and auth.fee_minor is None
    with pytest.raises(GatewayRefused, match="exceeds"):
        gateway.capture(CaptureRequest("cp_0", auth.gateway_reference, 10001, "RON"))
    capture = gateway.capture(CaptureRequest("cp_1", auth.gateway_reference, 8000, "RON"))
    assert capture.succeeded and gateway.charged_minor("cp_1") == 8000
    _request, other = _charge(gateway, "tok_success", authorize=True)
    assert gateway.void(VoidRequest("vd_1", other.gateway_reference)).succeeded
    with pytest.raises(GatewayRefused):
        gateway.void(VoidRequest("vd_2", "fake_ch_missing"))


def test_saved_methods_and_removal(gateway):
    saved = gateway.add_payment_method(MethodRequest("pm_1", None, "tok_expired"))
    assert behaviour(saved.token) == "tok_expired" and saved.last4 == "0069"
    assert saved.token != gateway.add_payment_method(MethodRequest("pm_2", None, "tok_expired")).token
    with pytest.raises(GatewayRefused):
        gateway.add_payment_method(MethodRequest("pm_3", None, "4242424242424242"))
    good = gateway.add_payment_method(MethodRequest("pm_4", None, "tok_success"))
    gateway.remove_payment_method(good.token)
    _request, result = _charge(gateway, good.token)
    assert (result.status, result.error_code) == (TransactionStatus.ERROR, "invalid_token")


def test_bad_requests_are_refused_before_anything_happens(gateway):
    with pytest.raises(GatewayRefused):
        gateway.purchase(PaymentRequest("pa_bad", 0, "RON", None, "tok_success"))
    assert gateway.transactions == {}
