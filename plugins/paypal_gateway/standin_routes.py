"""The PayPal stand-in's API endpoints (see testing.py): what each path does to the state."""

from __future__ import annotations

import base64
import re
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from praho.plugins.paypal_gateway.verification import signed_message

if TYPE_CHECKING:
    from praho.plugins.paypal_gateway.testing import PayPalStandIn

# Vaulted PayPal methods by token: what paying with each does.
VAULT = {
    "vault_ok": "COMPLETED",
    "vault_pending": "PENDING",
    "vault_approve": "APPROVED",
    "vault_declined": "INSTRUMENT_DECLINED",
}


def error(status: int, issue: str, description: str = "") -> tuple[int, dict[str, Any]]:
    """PayPal's error body (``name``, ``details[].issue``, ``debug_id``)."""
    name = {400: "INVALID_REQUEST", 404: "RESOURCE_NOT_FOUND", 422: "UNPROCESSABLE_ENTITY"}.get(
        status, "ERROR"
    )
    return status, {
        "name": name,
        "message": "The requested action could not be performed.",
        "debug_id": "f00dbabe1234",
        "details": [{"issue": issue, "description": description or issue}],
    }


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _capture(standin: PayPalStandIn, order: dict[str, Any], status: str) -> dict[str, Any]:
    unit = order["purchase_units"][0]
    value = Decimal(unit["amount"]["value"])
    fee = (value * Decimal("0.0349") + Decimal("0.35")).quantize(Decimal("0.01"))
    currency = unit["amount"]["currency_code"]
    capture = {
        "id": standin.new_id("CAP"),
        "status": status,
        "amount": dict(unit["amount"]),
        "final_capture": True,
        "custom_id": unit.get("custom_id"),
        "invoice_id": unit.get("invoice_id"),
        "seller_protection": {"status": "ELIGIBLE"},
        "create_time": _stamp(),
        "update_time": _stamp(),
        "supplementary_data": {"related_ids": {"order_id": order["id"]}},
        "refunded": "0.00",
    }
    if status == "COMPLETED":
        capture["seller_receivable_breakdown"] = {
            "gross_amount": dict(unit["amount"]),
            "paypal_fee": {"currency_code": currency, "value": str(fee)},
            "net_amount": {"currency_code": currency, "value": str(value - fee)},
        }
    if status == "PENDING":
        capture["status_details"] = {"reason": "PENDING_REVIEW"}
    standin.captures[capture["id"]] = capture
    unit.setdefault("payments", {})["captures"] = [capture]
    order["status"] = "COMPLETED"
    return capture


def create_order(
    standin: PayPalStandIn, body: dict[str, Any], _ident: str = ""
) -> tuple[int, dict[str, Any]]:
    """``POST /v2/checkout/orders``: vaulted sources pay at once, others await approval."""
    units = body.get("purchase_units") or []
    if body.get("intent") not in ("CAPTURE", "AUTHORIZE"):
        return error(400, "INVALID_PARAMETER_VALUE", "intent")
    if (
        not units
        or not isinstance(units[0].get("amount"), dict)
        or not re.fullmatch(r"\d{1,10}(\.\d{1,2})?", str(units[0]["amount"].get("value", "")))
    ):
        return error(400, "INVALID_PARAMETER_VALUE", "purchase_units[0].amount")
    order = {
        "id": standin.new_id("ORD"),
        "intent": body["intent"],
        "status": "CREATED",
        "purchase_units": [dict(u) for u in units],
        "create_time": _stamp(),
        "links": [
            {
                "rel": "approve",
                "method": "GET",
                "href": "https://www.sandbox.paypal.com/checkoutnow",
            }
        ],
    }
    vault_id = ((body.get("payment_source") or {}).get("paypal") or {}).get("vault_id")
    if vault_id:
        outcome = VAULT.get(vault_id)
        if outcome is None:
            return error(422, "INVALID_RESOURCE_ID", "vault_id")
        if outcome == "INSTRUMENT_DECLINED":
            return error(422, "INSTRUMENT_DECLINED", "The instrument presented was declined.")
        order["payment_source"] = {
            "paypal": {"attributes": {"vault": {"id": vault_id, "status": "VAULTED"}}}
        }
        if outcome == "APPROVED":
            order["status"] = "APPROVED"
        else:
            _capture(standin, order, outcome)
    standin.orders[order["id"]] = order
    return 201, order


def capture_order(
    standin: PayPalStandIn, _body: dict[str, Any], ident: str
) -> tuple[int, dict[str, Any]]:
    """``POST /v2/checkout/orders/{id}/capture``."""
    order = standin.orders.get(ident)
    if order is None:
        return error(404, "INVALID_RESOURCE_ID", "order")
    if order["status"] == "COMPLETED":
        return error(422, "ORDER_ALREADY_CAPTURED", "Order already captured.")
    if order["status"] != "APPROVED":
        return error(422, "ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment.")
    _capture(standin, order, "COMPLETED")
    return 201, order


def get_order(
    standin: PayPalStandIn, _body: dict[str, Any], ident: str
) -> tuple[int, dict[str, Any]]:
    """``GET /v2/checkout/orders/{id}``."""
    order = standin.orders.get(ident)
    return (200, order) if order else error(404, "INVALID_RESOURCE_ID", "order")


def get_capture(
    standin: PayPalStandIn, _body: dict[str, Any], ident: str
) -> tuple[int, dict[str, Any]]:
    """``GET /v2/payments/captures/{id}``."""
    capture = standin.captures.get(ident)
    return (200, capture) if capture else error(404, "RESOURCE_NOT_FOUND", "capture")


def get_refund(
    standin: PayPalStandIn, _body: dict[str, Any], ident: str
) -> tuple[int, dict[str, Any]]:
    """``GET /v2/payments/refunds/{id}``."""
    refund = standin.refunds.get(ident)
    return (200, refund) if refund else error(404, "RESOURCE_NOT_FOUND", "refund")


def refund_capture(
    standin: PayPalStandIn, body: dict[str, Any], ident: str
) -> tuple[int, dict[str, Any]]:
    """``POST /v2/payments/captures/{id}/refund``."""
    capture = standin.captures.get(ident)
    if capture is None:
        return error(404, "RESOURCE_NOT_FOUND", "capture")
    if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
        return error(
            422,
            "CAPTURE_FULLY_REFUNDED" if capture["status"] == "REFUNDED" else "REFUND_NOT_ALLOWED",
        )
    remaining = Decimal(capture["amount"]["value"]) - Decimal(capture["refunded"])
    amount = Decimal(str((body.get("amount") or {}).get("value") or remaining))
    if amount <= 0 or amount > remaining:
        return error(
            422,
            "REFUND_AMOUNT_EXCEEDED",
            "The refund amount must be less than or equal to the "
            "capture amount that has not yet been refunded.",
        )
    capture["refunded"] = str(Decimal(capture["refunded"]) + amount)
    capture["status"] = "REFUNDED" if amount == remaining else "PARTIALLY_REFUNDED"
    refund = {
        "id": standin.new_id("REF"),
        "status": "COMPLETED",
        "custom_id": body.get("custom_id"),
        "amount": {"currency_code": capture["amount"]["currency_code"], "value": str(amount)},
        "create_time": _stamp(),
        "update_time": _stamp(),
        "links": [{"rel": "up", "href": f"/v2/payments/captures/{ident}", "method": "GET"}],
    }
    standin.refunds[refund["id"]] = refund
    return 201, refund


def verify_signature(
    standin: PayPalStandIn, body: dict[str, Any], _ident: str = ""
) -> tuple[int, dict[str, Any]]:
    """``POST /v1/notifications/verify-webhook-signature``: SUCCESS only for what we signed."""
    fields = (
        "auth_algo",
        "cert_url",
        "transmission_id",
        "transmission_sig",
        "transmission_time",
        "webhook_id",
        "webhook_event",
    )
    missing = [f for f in fields if not body.get(f)]
    if missing:
        return error(400, "MISSING_REQUIRED_PARAMETER", ", ".join(missing))
    raw = standin.delivered.get(body["transmission_id"])
    status = "FAILURE"
    if (
        raw is not None
        and body["cert_url"] == standin.cert_url()
        and body["auth_algo"] == "SHA256withRSA"
    ):
        message = signed_message(
            body["transmission_id"], body["transmission_time"], body["webhook_id"], raw
        )
        try:
            standin.pki.signing_key.public_key().verify(
                base64.b64decode(body["transmission_sig"]),
                message,
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            status = "SUCCESS"
        except (InvalidSignature, ValueError):
            status = "FAILURE"
    return 200, {"verification_status": status}


ROUTES: list[tuple[str, str, Any]] = [
    ("POST", r"/v2/checkout/orders", create_order),
    ("POST", r"/v2/checkout/orders/([^/]+)/capture", capture_order),
    ("GET", r"/v2/checkout/orders/([^/]+)", get_order),
    ("GET", r"/v2/payments/captures/([^/]+)", get_capture),
    ("POST", r"/v2/payments/captures/([^/]+)/refund", refund_capture),
    ("GET", r"/v2/payments/refunds/([^/]+)", get_refund),
    ("POST", r"/v1/notifications/verify-webhook-signature", verify_signature),
]
