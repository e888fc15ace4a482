"""The Stripe stand-in's endpoints (see testing.py): what each path does to the state."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from praho.core.money import convert_minor

if TYPE_CHECKING:
    from praho.plugins.stripe_gateway.testing import StripeStandIn

# Stripe's test payment methods and the decline each one produces (code, decline code).
DECLINES = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": ("card_declined", "insufficient_funds"),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card"),
    "pm_card_chargeDeclinedFraudulent": ("card_declined", "fraudulent"),
    "pm_card_authenticationRequired": ("authentication_required", "authentication_required"),
}
CARDS = {
    "pm_card_visa": ("visa", "4242"),
    "pm_card_mastercard": ("mastercard", "4444"),
    "pm_card_processing": ("visa", "0077"),
}
FEE_PERCENT, FEE_FIXED = 14, 25  # 1.4 % + 0.25, Stripe's EEA card pricing


def _error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **extra}}


def _missing(name: str) -> tuple[int, dict[str, Any]]:
    return 400, _error(
        "invalid_request_error",
        f"Missing required param: {name}.",
        param=name,
        code="parameter_missing",
    )


def _no_such(kind: str, ident: str) -> tuple[int, dict[str, Any]]:
    return 404, _error(
        "invalid_request_error", f"No such {kind}: '{ident}'", code="resource_missing", param="id"
    )


def _amount(form: dict[str, Any], name: str = "amount") -> int | None:
    text = str(form.get(name, ""))
    return int(text) if text.isdigit() and int(text) > 0 else None


def route(
    standin: StripeStandIn, method: str, path: str, query: dict[str, Any], form: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Dispatch one request by method and path."""
    expand = list(form.get("expand") or query.get("expand") or [])
    with standin.lock:
        for pattern, handler in _ROUTES:
            match = re.fullmatch(pattern[1], path)
            if match and pattern[0] == method:
                status, body = handler(standin, form or query, *match.groups())
                return status, _expanded(standin, body, expand) if status < 300 else body
    return 404, _error("invalid_request_error", f"Unrecognized request URL ({method}: {path}).")


def _expanded(standin: StripeStandIn, body: dict[str, Any], expand: list[str]) -> dict[str, Any]:
    """Replace id references by the objects (``latest_charge.balance_transaction`` etc.)."""
    if not expand:
        return body
    result = dict(body)
    for dotted in expand:
        node: Any = result
        for part in dotted.split("."):
            if not isinstance(node, dict):
                break
            value = node.get(part)
            if isinstance(value, str) and value in standin.objects:
                value = dict(standin.objects[value])
                node[part] = value
            node = value
    return result


def _create_payment_intent(
    standin: StripeStandIn, form: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    amount = _amount(form)
    if amount is None:
        return _missing("amount")
    if not form.get("currency"):
        return _missing("currency")
    method = str(form.get("payment_method") or "")
    intent = _new(
        standin,
        "payment_intent",
        "pi",
        amount=amount,
        currency=form["currency"].lower(),
        customer=form.get("customer"),
        description=form.get("description"),
        metadata=dict(form.get("metadata") or {}),
        payment_method=method or None,
        capture_method=form.get("capture_method", "automatic_async"),
        amount_received=0,
        amount_capturable=0,
        latest_charge=None,
        last_payment_error=None,
        next_action=None,
        canceled_at=None,
        status="requires_payment_method",
        client_secret=None,
        transfer_data=None,
        processing=None,
    )
    intent["client_secret"] = f"{intent['id']}_secret_standin"
    if str(form.get("confirm", "")).lower() != "true":
        return 200, intent
    return _confirm(standin, intent)


def _confirm(standin: StripeStandIn, intent: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    method = intent.get("payment_method") or ""
    if method in DECLINES:
        code, decline = DECLINES[method]
        charge = _charge(standin, intent, status="failed", code=code, decline=decline)
        error = {
            "type": "card_error",
            "code": code,
            "decline_code": decline,
            "message": f"Your card was declined ({decline}).",
            "charge": charge["id"],
            "payment_method": {"id": method, "object": "payment_method"},
        }
        intent.update(
            status="requires_payment_method", last_payment_error=error, latest_charge=charge["id"]
        )
        if code == "authentication_required":
            intent.update(status="requires_action", next_action={"type": "use_stripe_sdk"})
        return 402, {"error": {**error, "payment_intent": dict(intent)}}
    if method not in CARDS and not method.startswith("pm_"):
        return _missing("payment_method")
    if method == "pm_card_processing":
        intent.update(status="processing", processing={"type": "card"})
        return 200, intent
    charge = _charge(standin, intent, status="succeeded")
    if intent["capture_method"] == "manual":
        intent.update(
            status="requires_capture",
            amount_capturable=intent["amount"],
            latest_charge=charge["id"],
        )
    else:
        intent.update(
            status="succeeded", amount_received=intent["amount"], latest_charge=charge["id"]
        )
    return 200, intent


def _new(standin: StripeStandIn, kind: str, prefix: str, **values: Any) -> dict[str, Any]:
    from praho.plugins.stripe_gateway.testing import fixture

    obj = fixture(
        kind, id=standin.new_id(prefix), created=int(time.time()), livemode=False, **values
    )
    standin.objects[obj["id"]] = obj
    return obj


def _charge(
    standin: StripeStandIn,
    intent: dict[str, Any],
    *,
    status: str,
    code: str | None = None,
    decline: str | None = None,
) -> dict[str, Any]:
    method = intent.get("payment_method") or "pm_card_visa"
    brand, last4 = CARDS.get(method, ("visa", "0002"))
    amount = intent["amount"]
    # The balance transaction is in the settlement currency (Stripe converts at its rate
    # and charges its fee there); without a conversion exchange_rate is null.
    currency, rate = standin.settlement.get(intent["currency"], (intent["currency"], None))
    settled = (
        amount
        if rate is None
        else convert_minor(amount, intent["currency"].upper(), rate, currency.upper())
    )
    fee = settled * FEE_PERCENT // 1000 + FEE_FIXED
    txn = (
        _new(
            standin,
            "balance_transaction",
            "txn",
            amount=settled,
            fee=fee,
            fee_details=[
                {
                    "amount": fee,
                    "application": None,
                    "currency": currency,
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ],
            net=settled - fee,
            currency=currency,
            exchange_rate=None if rate is None else float(rate),  # a JSON number, as Stripe's
        )
        if status == "succeeded"
        else None
    )
    charge = _new(
        standin,
        "charge",
        "ch",
        amount=amount,
        currency=intent["currency"],
        payment_intent=intent["id"],
        status=status,
        paid=status == "succeeded",
        captured=status == "succeeded" and intent["capture_method"] != "manual",
        amount_captured=amount if status == "succeeded" else 0,
        amount_refunded=0,
        refunded=False,
        customer=intent.get("customer"),
        failure_code=code,
        failure_message=decline,
        metadata=dict(intent.get("metadata") or {}),
        balance_transaction=txn["id"] if txn else None,
        payment_method=method,
    )
    charge["payment_method_details"]["card"].update(brand=brand, last4=last4)
    if txn is not None:
        txn["source"] = charge["id"]
    return charge


def _retrieve(
    standin: StripeStandIn, _form: dict[str, Any], ident: str
) -> tuple[int, dict[str, Any]]:
    obj = standin.objects.get(ident)
    return (200, obj) if obj is not None else _no_such("object", ident)


def _search(standin: StripeStandIn, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    match = re.fullmatch(r"metadata\['([^']+)'\]:'([^']*)'", str(form.get("query", "")).strip())
    if not match:
        return 400, _error("invalid_request_error", "unsupported search query", param="query")
    key, value = match.groups()
    found = [
        o
        for o in standin.objects.values()
        if o.get("object") == "payment_intent" and (o.get("metadata") or {}).get(key) == value
    ]
    return 200, {
        "object": "search_result",
        "data": found,
        "has_more": False,
        "next_page": None,
        "url": "/v1/payment_intents/search",
    }


def _capture(
    standin: StripeStandIn, form: dict[str, Any], ident: str
) -> tuple[int, dict[str, Any]]:
    intent = standin.objects.get(ident)
    if intent is None:
        return _no_such("payment_intent", ident)
    if intent["status"] != "requires_capture":
        return 400, _error(
            "invalid_request_error",
            "This PaymentIntent could not be captured because "
            f"it has a status of {intent['status']}.",
            code="payment_intent_unexpected_state",
        )
    amount = _amount(form, "amount_to_capture") or intent["amount_capturable"]
    intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
    standin.objects[intent["latest_charge"]].update(captured=True, amount_captured=amount)
    return 200, intent


def _cancel(standin: StripeStandIn, form: dict[str, Any], ident: str) -> tuple[int, dict[str, Any]]:
    intent = standin.objects.get(ident)
    if intent is None:
        return _no_such("payment_intent", ident)
    if intent["status"] in ("succeeded", "canceled"):
        return 400, _error(
            "invalid_request_error",
            f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}.",
            code="payment_intent_unexpected_state",
        )
    intent.update(
        status="canceled",
        canceled_at=int(time.time()),
        amount_capturable=0,
        cancellation_reason=form.get("cancellation_reason", "requested_by_customer"),
    )
    return 200, intent


def _refund(standin: StripeStandIn, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    intent = standin.objects.get(str(form.get("payment_intent") or ""))
    if intent is None and form.get("charge"):
        charge = standin.objects.get(str(form["charge"]))
        intent = standin.objects.get(charge["payment_intent"]) if charge else None
    if intent is None or intent.get("status") != "succeeded":
        return 400, _error(
            "invalid_request_error",
            "This PaymentIntent does not have a successful charge to refund.",
            code="charge_not_refundable",
        )
    charge = standin.objects[intent["latest_charge"]]
    amount = _amount(form) or (charge["amount_captured"] - charge["amount_refunded"])
    if amount > charge["amount_captured"] - charge["amount_refunded"]:
        return 400, _error(
            "invalid_request_error",
            f"Refund amount ({amount}) is greater than unrefunded amount on charge.",
            code="amount_too_large",
            param="amount",
        )
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
    refund = _new(
        standin,
        "refund",
        "re",
        amount=amount,
        currency=charge["currency"],
        charge=charge["id"],
        payment_intent=intent["id"],
        status="succeeded",
        reason=form.get("reason"),
        metadata=dict(form.get("metadata") or {}),
    )
    return 200, refund


def _create_setup_intent(
    standin: StripeStandIn, form: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    method = str(form.get("payment_method") or "")
    confirmed = str(form.get("confirm", "")).lower() == "true" and method in CARDS
    if confirmed:
        _payment_method(standin, method, form.get("customer"))
    intent = _new(
        standin,
        "setup_intent",
        "seti",
        customer=form.get("customer"),
        payment_method=method or None,
        status="succeeded" if confirmed else "requires_payment_method",
        metadata=dict(form.get("metadata") or {}),
        usage=form.get("usage", "off_session"),
        last_setup_error=None,
        next_action=None,
    )
    intent["client_secret"] = f"{intent['id']}_secret_standin"
    return 200, intent


def _payment_method(standin: StripeStandIn, method: str, customer: Any) -> dict[str, Any]:
    from praho.plugins.stripe_gateway.testing import fixture

    brand, last4 = CARDS[method]
    obj = fixture("payment_method", id=method, customer=customer, metadata={})
    obj["card"].update(brand=brand, last4=last4, exp_month=12, exp_year=2031)
    standin.objects[method] = obj
    return obj


def _detach(
    standin: StripeStandIn, _form: dict[str, Any], ident: str
) -> tuple[int, dict[str, Any]]:
    method = standin.objects.get(ident)
    if method is None or method.get("object") != "payment_method":
        return _no_such("PaymentMethod", ident)
    if method.get("customer") is None:
        return 400, _error(
            "invalid_request_error",
            "The payment method you provided is not attached "
            "to a customer so detachment is impossible.",
            code="payment_method_unexpected_state",
        )
    method["customer"] = None
    return 200, method


def _meter_event(standin: StripeStandIn, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    for name in ("event_name", "payload"):
        if not form.get(name):
            return _missing(name)
    payload = form["payload"]
    if "stripe_customer_id" not in payload or "value" not in payload:
        return _missing(
            "payload[stripe_customer_id]"
            if "stripe_customer_id" not in payload
            else "payload[value]"
        )
    now = int(time.time())
    stamp = int(form.get("timestamp") or now)
    if stamp < now - 35 * 86400 or stamp > now + 300:
        return 400, _error(
            "invalid_request_error",
            "Timestamp must be within the past 35 days and not more than 5 minutes in the future.",
            param="timestamp",
        )
    identifier = str(form.get("identifier") or standin.new_id("mev"))
    if identifier in standin.meter_identifiers:
        return 400, _error(
            "invalid_request_error",
            f"An event already exists with identifier {identifier}.",
            param="identifier",
            code="resource_already_exists",
        )
    standin.meter_identifiers.add(identifier)
    from praho.plugins.stripe_gateway.testing import fixture

    return 200, fixture(
        "billing.meter_event",
        event_name=form["event_name"],
        identifier=identifier,
        payload=dict(payload),
        timestamp=stamp,
        created=now,
    )


_ROUTES: list[tuple[tuple[str, str], Any]] = [
    (("POST", r"/v1/payment_intents"), _create_payment_intent),
    (("GET", r"/v1/payment_intents/search"), _search),
    (("GET", r"/v1/payment_intents/([^/]+)"), _retrieve),
    (("POST", r"/v1/payment_intents/([^/]+)/capture"), _capture),
    (("POST", r"/v1/payment_intents/([^/]+)/cancel"), _cancel),
    (("POST", r"/v1/refunds"), _refund),
    (("GET", r"/v1/refunds/([^/]+)"), _retrieve),
    (("GET", r"/v1/charges/([^/]+)"), _retrieve),
    (("POST", r"/v1/setup_intents"), _create_setup_intent),
    (("GET", r"/v1/setup_intents/([^/]+)"), _retrieve),
    (("GET", r"/v1/payment_methods/([^/]+)"), _retrieve),
    (("POST", r"/v1/payment_methods/([^/]+)/detach"), _detach),
    (("POST", r"/v1/billing/meter_events"), _meter_event),
]
