"""The PayPal gateway against the local stand-in: orders, captures, refunds, idempotency, tokens."""

from __future__ import annotations

import pytest
from praho.core.errors import PluginError
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
from praho.plugins.paypal_gateway import paypal_api
from praho.plugins.paypal_gateway.settings import PayPalSettings, parse_settings


def charge(key="att_pp_1", token="vault_ok", amount=12345):
    return PaymentRequest(
        idempotency_key=key,
        amount_minor=amount,
        currency="EUR",
        customer_reference=None,
        method_token=token,
        description="Invoice PRH-7",
        metadata={"invoice": "PRH-7"},
    )


def test_gateway_is_registered(gateway):
    assert (
        isinstance(gateway, PaymentGateway)
        and gateway.id == "paypal"
        and not gateway.supports_authorize
    )


def test_vaulted_purchase_completes_with_fee_and_request_id(gateway, paypal_standin):
    result = gateway.purchase(charge())
    assert result.status is TransactionStatus.PROCESSED
    assert (result.amount_minor, result.currency) == (12345, "EUR")
    assert result.fee_minor == 466  # 3.49 % of 123.45 + 0.35, rounded
    assert result.gateway_reference in paypal_standin.captures
    method, path, headers = paypal_standin.requests[-1]
    assert (method, path, headers["paypal-request-id"]) == (
        "POST",
        "/v2/checkout/orders",
        "att_pp_1",
    )
    order = next(iter(paypal_standin.orders.values()))
    assert order["purchase_units"][0]["custom_id"] == "att_pp_1"
    assert order["purchase_units"][0]["amount"] == {"currency_code": "EUR", "value": "123.45"}


def test_same_key_never_captures_twice(gateway, paypal_standin):
    first = gateway.purchase(charge(token="vault_approve"))
    second = gateway.purchase(charge(token="vault_approve"))
    assert first.gateway_reference == second.gateway_reference
    assert len(paypal_standin.orders) == 1 and len(paypal_standin.captures) == 1
    assert paypal_standin.requests[-1][2]["paypal-request-id"] == "att_pp_1:capture"


def test_lost_capture_answer_is_unknown_and_the_retry_replays(gateway, paypal_standin):
    paypal_standin.fail_next(status=503)  # the create order acts, its answer is lost
    with pytest.raises(OutcomeUnknown):
        gateway.purchase(charge(key="att_lost"))
    assert gateway.get_transaction("att_lost", None).status is TransactionStatus.UNDEFINED
    again = gateway.purchase(charge(key="att_lost"))
    assert again.status is TransactionStatus.PROCESSED
    assert len(paypal_standin.orders) == 1 and len(paypal_standin.captures) == 1


def test_timeout_is_unknown(gateway, paypal_standin):
    paypal_standin.fail_next(hang=2.5)
    with pytest.raises(OutcomeUnknown) as unknown:
        gateway.purchase(charge(key="att_slow"))
    assert unknown.value.code == "timeout"


def test_already_captured_order_reads_the_capture(gateway, paypal_standin):
    gateway.purchase(charge(token="vault_approve"))
    order_id = next(iter(paypal_standin.orders))
    order = gateway.capture_order(order_id, "another-key")
    assert order["status"] == "COMPLETED" and order["purchase_units"][0]["payments"]["captures"]


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [
        ("vault_pending", TransactionStatus.PENDING, None),
        ("vault_declined", TransactionStatus.ERROR, "instrument_declined"),
        (None, TransactionStatus.ERROR, "payer_action_required"),
    ],
)
def test_pending_declined_and_unapproved(gateway, token, status, code):
    result = gateway.purchase(charge(token=token))
    assert result.status is status and result.error_code == code
    assert result.hard_decline is (status is TransactionStatus.ERROR)


def test_unknown_vault_token_is_refused(gateway, paypal_standin):
    with pytest.raises(GatewayRefused) as refused:
        gateway.purchase(charge(token="vault_nonexistent"))
    assert refused.value.code == "invalid_resource_id"


def test_refunds_and_lookups(gateway, paypal_standin):
    capture = gateway.purchase(charge()).gateway_reference
    part = gateway.refund(RefundRequest("ref_pp_1", capture, 2345, "EUR", reason="Downgrade"))
    assert part.status is TransactionStatus.PROCESSED and part.amount_minor == 2345
    assert (
        gateway.refund(
            RefundRequest("ref_pp_1", capture, 2345, "EUR", reason="Downgrade")
        ).gateway_reference
        == part.gateway_reference
    )
    with pytest.raises(GatewayRefused) as refused:
        gateway.refund(RefundRequest("ref_pp_2", capture, 10001, "EUR"))
    assert refused.value.code == "refund_amount_exceeded"
    gateway.refund(RefundRequest("ref_pp_3", capture, 10000, "EUR"))
    assert paypal_standin.captures[capture]["status"] == "REFUNDED"
    assert gateway.get_transaction("att_pp_1", capture).status is TransactionStatus.PROCESSED
    looked_up = gateway.get_transaction("ref_pp_1", part.gateway_reference)
    assert looked_up.amount_minor == 2345 and looked_up.transaction_type.value == "REFUND"


def test_token_is_cached_and_refreshed_on_401(gateway, paypal_standin):
    paypal_api._TOKENS.clear()
    gateway.purchase(charge(key="a1"))
    gateway.purchase(charge(key="a2"))
    assert paypal_standin.token_requests == 1
    paypal_standin.tokens.clear()  # PayPal expired it early
    assert gateway.purchase(charge(key="a3")).status is TransactionStatus.PROCESSED
    assert paypal_standin.token_requests == 2


def test_bad_credentials_are_refused(paypal_standin):
    settings = PayPalSettings(client_id="x", client_secret="y", api_base=paypal_standin.url)
    with pytest.raises(GatewayRefused, match="token"):
        paypal_api.access_token(settings, refresh=True)
    with pytest.raises(PluginError, match="PRAHO_PAYPAL_CLIENT_ID"):
        paypal_api.access_token(PayPalSettings())


def test_unsupported_operations_are_refused_not_faked(gateway):
    for call in (
        lambda: gateway.authorize(charge()),
        lambda: gateway.capture(CaptureRequest("k", "ref", 1, "EUR")),
        lambda: gateway.void(VoidRequest("k", "ref")),
        lambda: gateway.add_payment_method(MethodRequest("k", None, "setup")),
        lambda: gateway.remove_payment_method("tok"),
    ):
        with pytest.raises(GatewayRefused) as refused:
            call()
        assert refused.value.code == "unsupported"


def test_settings_are_validated():
    for raw, message in [
        ({"verification": "sometimes"}, "verification"),
        ({"api_base": "x"}, "api_base"),
        ({"cert_resolve": "nohost"}, "cert_resolve"),
        ({"shade": 1}, "unknown"),
    ]:
        with pytest.raises(PluginError, match=message):
            parse_settings(raw)
    assert "secret" not in repr(parse_settings({"client_secret": "very-secret-value"})).replace(
        "client_secret", ""
    )
