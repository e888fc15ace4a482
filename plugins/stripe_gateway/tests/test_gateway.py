"""The Stripe gateway against the local stand-in: charges, declines, keys, unknown outcomes."""

from __future__ import annotations

from datetime import UTC, datetime

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
    TransactionType,
    VoidRequest,
)
from praho.plugins.stripe_gateway import stripe_api
from praho.plugins.stripe_gateway.settings import StripeSettings, parse_settings


def charge(key="att_1", amount=12345, token="pm_card_visa", **extra):
    return PaymentRequest(
        idempotency_key=key,
        amount_minor=amount,
        currency="RON",
        customer_reference="cus_1",
        method_token=token,
        description="Invoice PRH-1",
        metadata={"invoice": "PRH-1"},
        **extra,
    )


def intents(standin):
    return [o for o in standin.objects.values() if o["object"] == "payment_intent"]


def test_hook_register_payment_gateways(gateway):
    assert isinstance(gateway, PaymentGateway) and gateway.id == "stripe"


def test_purchase_sends_the_attempt_key_and_reports_amount_and_fee(gateway, stripe_standin):
    result = gateway.purchase(charge())
    assert result.status is TransactionStatus.PROCESSED and result.succeeded
    assert result.transaction_type is TransactionType.PURCHASE
    assert (result.amount_minor, result.currency) == (12345, "RON")
    assert result.fee_minor == 12345 * 14 // 1000 + 25
    assert result.gateway_reference.startswith("pi_")
    method, path, form, headers = stripe_standin.requests[-1]
    assert (method, path) == ("POST", "/v1/payment_intents")
    assert headers["idempotency-key"] == "att_1"
    assert form["off_session"] == "true" and form["confirm"] == "true"
    assert form["metadata"] == {"invoice": "PRH-1", "praho_key": "att_1"}
    assert "_secret_" not in str(result.raw)


def test_same_key_never_charges_twice(gateway, stripe_standin):
    first = gateway.purchase(charge())
    second = gateway.purchase(charge())
    assert first.gateway_reference == second.gateway_reference
    assert len(intents(stripe_standin)) == 1


def test_same_key_with_other_parameters_is_refused(gateway, stripe_standin):
    gateway.purchase(charge())
    with pytest.raises(GatewayRefused) as refused:
        gateway.purchase(charge(amount=999))
    assert refused.value.code == "idempotency_error"
    assert len(intents(stripe_standin)) == 1


@pytest.mark.parametrize(
    ("token", "code", "hard"),
    [
        ("pm_card_chargeDeclined", "generic_decline", True),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", True),
        ("pm_card_chargeDeclinedFraudulent", "fraudulent", True),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds", False),
        ("pm_card_authenticationRequired", "authentication_required", True),
    ],
)
def test_declines_are_results_with_codes(gateway, token, code, hard):
    result = gateway.purchase(charge(token=token))
    assert result.status is TransactionStatus.ERROR and not result.succeeded
    assert (result.error_code, result.hard_decline) == (code, hard)
    assert result.gateway_reference.startswith("pi_")


def test_processing_is_pending(gateway):
    assert gateway.purchase(charge(token="pm_card_processing")).status is TransactionStatus.PENDING


def test_server_error_after_acting_is_unknown_then_settled_by_asking(gateway, stripe_standin):
    stripe_standin.fail_next(status=500, act=True)
    with pytest.raises(OutcomeUnknown):
        gateway.purchase(charge(key="att_lost"))
    settled = gateway.get_transaction("att_lost", None)
    assert settled.status is TransactionStatus.PROCESSED and settled.amount_minor == 12345
    assert len(intents(stripe_standin)) == 1


def test_timeout_before_acting_is_unknown_and_asking_says_undefined(gateway, stripe_standin):
    stripe_standin.fail_next(hang=2.5, act=False)
    with pytest.raises(OutcomeUnknown) as unknown:
        gateway.purchase(charge(key="att_timeout"))
    assert unknown.value.code == "timeout"
    assert gateway.get_transaction("att_timeout", None).status is TransactionStatus.UNDEFINED
    assert intents(stripe_standin) == []


def test_get_transaction_by_reference(gateway):
    reference = gateway.purchase(charge()).gateway_reference
    result = gateway.get_transaction("att_1", reference)
    assert result.status is TransactionStatus.PROCESSED and result.gateway_reference == reference


def test_authorize_capture_and_void(gateway):
    held = gateway.authorize(charge(key="att_auth"))
    assert (
        held.status is TransactionStatus.PROCESSED
        and held.transaction_type is TransactionType.AUTHORIZE
    )
    captured = gateway.capture(CaptureRequest("att_cap", held.gateway_reference, 10000, "RON"))
    assert captured.status is TransactionStatus.PROCESSED and captured.amount_minor == 10000
    other = gateway.authorize(charge(key="att_auth2"))
    voided = gateway.void(VoidRequest("att_void", other.gateway_reference))
    assert (
        voided.status is TransactionStatus.PROCESSED
        and voided.transaction_type is TransactionType.VOID
    )
    with pytest.raises(GatewayRefused):
        gateway.void(VoidRequest("att_void2", held.gateway_reference))


def test_refunds_partial_full_and_too_much(gateway, stripe_standin):
    paid = gateway.purchase(charge())
    part = gateway.refund(
        RefundRequest("ref_1", paid.gateway_reference, 2345, "RON", reason="requested_by_customer")
    )
    assert part.status is TransactionStatus.PROCESSED and part.amount_minor == 2345
    assert part.gateway_reference.startswith("re_")
    assert (
        gateway.refund(
            RefundRequest(
                "ref_1", paid.gateway_reference, 2345, "RON", reason="requested_by_customer"
            )
        ).gateway_reference
        == part.gateway_reference
    )
    with pytest.raises(GatewayRefused) as refused:
        gateway.refund(RefundRequest("ref_2", paid.gateway_reference, 10001, "RON"))
    assert refused.value.code == "amount_too_large"
    rest = gateway.refund(RefundRequest("ref_3", paid.gateway_reference, 10000, "RON"))
    assert rest.status is TransactionStatus.PROCESSED
    assert gateway.get_transaction("ref_3", rest.gateway_reference).amount_minor == 10000


def test_payment_methods_from_setup_intents(gateway, stripe_standin):
    setup = stripe_standin.handle(
        "POST",
        "/v1/setup_intents",
        {},
        {"customer": "cus_1", "payment_method": "pm_card_mastercard", "confirm": "true"},
        {"authorization": "Bearer sk_test_x"},
    )[1]
    saved = gateway.add_payment_method(MethodRequest("pm_att_1", "cus_1", setup["id"]))
    assert (saved.token, saved.brand, saved.last4, saved.exp_month, saved.exp_year) == (
        "pm_card_mastercard",
        "mastercard",
        "4444",
        12,
        2031,
    )
    assert saved.customer_reference == "cus_1"
    gateway.remove_payment_method(saved.token)
    assert stripe_standin.objects["pm_card_mastercard"]["customer"] is None
    pending = stripe_standin.handle(
        "POST",
        "/v1/setup_intents",
        {},
        {"customer": "cus_1"},
        {"authorization": "Bearer sk_test_x"},
    )[1]
    with pytest.raises(GatewayRefused):
        gateway.add_payment_method(MethodRequest("pm_att_2", "cus_1", pending["id"]))


def test_meter_events_are_idempotent_by_identifier(praho_app, stripe_standin):
    from praho.plugins.stripe_gateway.settings import current_settings

    now = datetime.now(UTC)
    sent = stripe_api.send_meter_event(
        current_settings(),
        event_name="api_request",
        identifier="use-1",
        stripe_customer_id="cus_1",
        value=25,
        timestamp=now,
    )
    assert sent["identifier"] == "use-1" and sent["payload"] == {
        "stripe_customer_id": "cus_1",
        "value": "25",
    }
    again = stripe_api.send_meter_event(
        current_settings(),
        event_name="api_request",
        identifier="use-1",
        stripe_customer_id="cus_1",
        value=25,
        timestamp=now,
    )
    assert again == sent  # the Idempotency-Key replay
    stripe_standin.idempotency.clear()
    with pytest.raises(GatewayRefused) as refused:
        stripe_api.send_meter_event(
            current_settings(),
            event_name="api_request",
            identifier="use-1",
            stripe_customer_id="cus_1",
            value=25,
            timestamp=now,
        )
    assert refused.value.code == "resource_already_exists"


def test_missing_key_and_bad_settings_are_refused():
    with pytest.raises(PluginError, match="PRAHO_STRIPE_SECRET_KEY"):
        stripe_api.client_for(StripeSettings())
    for raw, message in [
        ({"api_base": "ftp://x"}, "api_base"),
        ({"webhook_secret": "nope"}, "whsec_"),
        ({"colour": 1}, "unknown settings"),
        ({"replay_window_seconds": "0"}, "positive"),
    ]:
        with pytest.raises(PluginError, match=message):
            parse_settings(raw)
    settings = parse_settings(
        {"secret_key": "sk_test_abcdefgh", "webhook_secret": "whsec_a, whsec_b"}
    )
    assert settings.webhook_secrets == ("whsec_a", "whsec_b") and "sk_test" not in repr(settings)
