"""The worked gateway example of docs/plugins.md, run as written against a local stand-in.

The example is what third parties copy; running it keeps it true to the gateway
contract (the request and result types, idempotency, unknown outcomes, refusals).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from praho.core.payments.gateway import (
    GatewayRefused,
    OutcomeUnknown,
    PaymentRequest,
    TransactionStatus,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def documented_gateway_class():
    """Execute the example's ``gateway.py`` block from the docs; return AcmePayGateway."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    (source,) = [b for b in blocks if "class AcmePayGateway" in b]
    namespace: dict = {}
    exec(compile(source, f"{DOC}:AcmePayGateway", "exec"), namespace)  # noqa: S102 - our docs
    return namespace["AcmePayGateway"]


class AcmePayStandIn(BaseHTTPRequestHandler):
    """AcmePay's charges API as the example assumes it: idempotent by key, one lookup."""

    charges: dict[str, dict] = {}
    fail_next: list[int] = []

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") != "Bearer sk_test_standin":
            return self._send(401, {"error": {"code": "unauthorized", "message": "bad key"}})
        if self.fail_next:
            return self._send(self.fail_next.pop(), {"error": {"code": "internal"}})
        key = self.headers["Idempotency-Key"]
        if key not in self.charges:
            declined = body["method"] == "pm_expired"
            self.charges[key] = {
                "id": f"ch_{len(self.charges) + 1}",
                "amount": body["amount"],
                "currency": body["currency"],
                "status": "failed" if declined else "succeeded",
                "fee": None if declined else 29,
                "error": {"code": "expired_card", "message": "Card expired"} if declined else None,
            }
        return self._send(200, self.charges[key])

    def do_GET(self):  # noqa: N802
        key = parse_qs(urlparse(self.path).query).get("idempotency_key", [""])[0]
        if key not in self.charges:
            return self._send(404, {"error": {"code": "not_found", "message": "no charge"}})
        return self._send(200, self.charges[key])

    def log_message(self, *args):
        return


@pytest.fixture
def acmepay():
    AcmePayStandIn.charges, AcmePayStandIn.fail_next = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), AcmePayStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gateway = documented_gateway_class()(
        base_url=f"http://127.0.0.1:{server.server_address[1]}",
        api_key="sk_test_standin",
        timeout=5,
    )
    yield gateway
    server.shutdown()
    server.server_close()


def _charge(key, method="pm_visa"):
    return PaymentRequest(
        idempotency_key=key,
        amount_minor=12100,
        currency="RON",
        customer_reference="cus_1",
        method_token=method,
    )


def test_the_documented_gateway_charges_once_per_key(acmepay):
    first = acmepay.purchase(_charge("pa_1"))
    assert (first.status, first.amount_minor, first.currency, first.fee_minor) == (
        TransactionStatus.PROCESSED,
        12100,
        "RON",
        29,
    )
    again = acmepay.purchase(_charge("pa_1"))
    assert again.gateway_reference == first.gateway_reference
    assert len(AcmePayStandIn.charges) == 1


def test_the_documented_gateway_reports_declines_unknowns_and_refusals(acmepay):
    declined = acmepay.purchase(_charge("pa_2", method="pm_expired"))
    assert (declined.status, declined.error_code, declined.hard_decline) == (
        TransactionStatus.ERROR,
        "expired_card",
        True,
    )
    AcmePayStandIn.fail_next.append(502)
    with pytest.raises(OutcomeUnknown):
        acmepay.purchase(_charge("pa_3"))
    assert acmepay.get_transaction("pa_3", None).status is TransactionStatus.UNDEFINED
    assert acmepay.get_transaction("pa_2", None).status is TransactionStatus.ERROR
    acmepay._http.headers["Authorization"] = "Bearer wrong"
    with pytest.raises(GatewayRefused) as refused:
        acmepay.purchase(_charge("pa_4"))
    assert refused.value.code == "unauthorized"
