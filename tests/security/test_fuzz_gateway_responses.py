"""Fuzzing the Stripe and PayPal gateways with hostile API answers.

A tiny real HTTP server (a thread on 127.0.0.1) stands in for both APIs and answers each
request with the next canned status, headers and body: random bytes, JSON of random
shapes, PaymentIntents/orders/captures/refunds with wrong types in known fields, huge
numbers and bodies, 3xx/4xx/5xx. The gateways are the real plugin objects (real
``stripe`` library, real ``requests``). Every call returns a :class:`GatewayResult`
whose stored fields are within bounds, or raises only the contract's exceptions
(:class:`OutcomeUnknown`, :class:`GatewayRefused`, :class:`GatewayError`); an answer
that is not a readable object with an id and a status is never a PROCESSED result, so no
attempt can be marked processed on garbage.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st
from praho.core.payments.gateway import (
    CaptureRequest,
    GatewayError,
    GatewayResult,
    MethodRequest,
    PaymentRequest,
    RefundRequest,
    SavedMethod,
    TransactionStatus,
    VoidRequest,
)
from praho.core.testing import StaticTestPlugin, fuzz_settings, fuzz_tried

TOKEN = {"access_token": "A21AAfuzz", "token_type": "Bearer", "expires_in": 32400}


class Hostile(BaseHTTPRequestHandler):
    """Answers every request with the next canned answer (PayPal tokens: a good one)."""

    answers: list[tuple[int, dict[str, str], bytes]] = []
    hostile_token: tuple[int, dict[str, str], bytes] | None = None
    served: list[bytes] = []

    def log_message(self, format, *args):  # noqa: A002, ANN001 - stdlib signature
        """Quiet."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path.startswith("/v1/oauth2/token"):
            status, headers, body = Hostile.hostile_token or (200, {}, json.dumps(TOKEN).encode())
        else:
            status, headers, body = (Hostile.answers.pop(0) if Hostile.answers
                                     else (500, {}, b""))
            Hostile.served.append(body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer  # noqa: N815 - stdlib names


@pytest.fixture(scope="module")
def hostile_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def praho_plugins():
    return [("static_test", StaticTestPlugin())]


@pytest.fixture
def praho_config(tmp_path, monkeypatch, hostile_server):
    monkeypatch.setenv("PRAHO_STRIPE_SECRET_KEY", "sk_test_fuzz_key")
    monkeypatch.setenv("PRAHO_PAYPAL_CLIENT_ID", "fuzz-client")
    monkeypatch.setenv("PRAHO_PAYPAL_CLIENT_SECRET", "fuzz-client-secret-value")
    manifest = tmp_path / "plugin_manifest.toml"
    manifest.write_text("\n".join([
        "[[plugin]]", 'name = "stripe_gateway"', 'module = "praho.plugins.stripe_gateway"', "",
        "[plugin.settings]", 'secret_key = { env = "PRAHO_STRIPE_SECRET_KEY" }',
        f'api_base = "{hostile_server}"', 'timeout_seconds = "2"', "",
        "[[plugin]]", 'name = "paypal_gateway"', 'module = "praho.plugins.paypal_gateway"', "",
        "[plugin.settings]", 'client_id = { env = "PRAHO_PAYPAL_CLIENT_ID" }',
        'client_secret = { env = "PRAHO_PAYPAL_CLIENT_SECRET" }',
        f'api_base = "{hostile_server}"', 'timeout_seconds = "2"', ""]))
    return {"PLUGIN_MANIFEST": str(manifest), "LOAD_ENTRY_POINTS": False}


@pytest.fixture
def gateways(praho_app):
    from praho.core.plugins import get_registry

    return get_registry().objects("register_payment_gateways")


scalars = (st.none() | st.booleans() | st.integers() | st.just(10**40) | st.floats()
           | st.text(max_size=12) | st.sampled_from(["", "x" * 2000, "1e9999", "NaN", "\x00",
                                                     "ron", "EUR", "12.34", "-5"]))
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3)
                      | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=8)


@st.composite
def resources(draw: st.DrawFn) -> dict:
    """A PaymentIntent, Refund, SetupIntent, PayPal order, capture or refund, then damaged."""
    amount = {"currency_code": draw(st.sampled_from(["EUR", "RON", "XXX", "JPY", ""])),
              "value": draw(st.sampled_from(["50.00", "0.001", "1e9999", "-3", "abc", "9" * 30]))}
    capture = {"id": "CAP1", "status": draw(st.sampled_from(["COMPLETED", "PENDING", "DECLINED"])),
               "amount": amount, "create_time": "2026-01-01T00:00:00Z",
               "seller_receivable_breakdown": {"paypal_fee": amount}}
    document = {
        "id": draw(st.sampled_from(["pi_1", "re_1", "seti_1", "ORDER1", "", "a b", "\x00"])),
        "object": draw(st.sampled_from(["payment_intent", "refund", "setup_intent", "list"])),
        "status": draw(st.sampled_from(["succeeded", "requires_capture", "processing",
                                        "requires_payment_method", "canceled", "pending",
                                        "failed", "COMPLETED", "APPROVED", "x"])),
        "amount": draw(st.integers(-10, 10**4) | st.just(10**30)),
        "amount_received": draw(st.integers(0, 10**4)),
        "currency": draw(st.sampled_from(["ron", "eur", "zzz", ""])),
        "created": draw(st.integers(0, 2_000_000_000) | st.just(10**20)),
        "capture_method": "automatic",
        "latest_charge": {"balance_transaction": {"fee": draw(st.integers(0, 99) | st.just("x"))}},
        "payment_method": {"id": "pm_1", "type": "card",
                           "card": {"brand": "visa", "last4": "4242", "exp_month": 12,
                                    "exp_year": 2030}},
        "purchase_units": [{"payments": {"captures": [capture]}}],
        "data": [{"id": "pi_1", "object": "payment_intent"}],
    }
    document.update(capture if draw(st.booleans()) and document["object"] == "list" else {})
    for _ in range(draw(st.integers(0, 3))):
        document[draw(st.sampled_from(sorted(document)))] = draw(values)
    return document


bodies = (resources().map(lambda d: json.dumps(d).encode())
          | st.binary(max_size=200) | values.map(lambda x: json.dumps(x).encode())
          | st.sampled_from([b"", b"{", b"[]", b"null", b'{"error": "x"}',
                             b'{"error": {"type": "card_error", "code": "card_declined",'
                             b' "payment_intent": "pi_1"}}',
                             b'{"name": "UNPROCESSABLE_ENTITY", "details": 5}',
                             b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                             b'{"id": "pi_1", "status": "succeeded", "x": "' + b"y" * 300_000
                             + b'"}']))
statuses = st.sampled_from([200, 200, 200, 201, 400, 402, 404, 409, 422, 429, 500, 502, 503]) \
    | st.integers(100, 599)
answers = st.tuples(statuses, st.sampled_from([{}, {"Content-Type": "application/json"},
                                               {"Location": "http://169.254.169.254/"}]), bodies)


def _readable(body: bytes) -> bool:
    try:
        document = json.loads(body)
    except ValueError:
        return False
    return isinstance(document, dict) and isinstance(document.get("status"), str) and bool(
        document.get("id")) or isinstance(document, dict) and isinstance(
        document.get("purchase_units"), list)


CALLS = ["purchase", "authorize", "capture", "void", "refund", "get_pi", "get_re", "get_key",
         "add_method"]


def _call(gateway, call: str):
    if call in ("purchase", "authorize"):
        request = PaymentRequest("pa_fuzz", 5000, "RON", "cus_1", "pm_1", "Invoice X",
                                 {"invoice": "X"})
        return getattr(gateway, call)(request)
    if call == "capture":
        return gateway.capture(CaptureRequest("pa_fuzz:c", "pi_1", 5000, "RON"))
    if call == "void":
        return gateway.void(VoidRequest("pa_fuzz:v", "pi_1"))
    if call == "refund":
        return gateway.refund(RefundRequest("rf_fuzz", "pi_1", 100, "RON", "requested_by_customer"))
    if call == "get_pi":
        return gateway.get_transaction("pa_fuzz", "pi_1")
    if call == "get_re":
        return gateway.get_transaction("rf_fuzz", "re_1")
    if call == "get_key":
        return gateway.get_transaction("pa_fuzz", None)
    return gateway.add_payment_method(MethodRequest("pm_fuzz", "cus_1", "seti_1"))


def _check(outcome, answered: list[bytes]) -> None:
    if isinstance(outcome, SavedMethod):
        assert isinstance(outcome.token, str) and outcome.token
        assert outcome.last4 is None or (isinstance(outcome.last4, str) and len(outcome.last4) <= 4)
        return
    assert isinstance(outcome, GatewayResult)
    for amount in (outcome.amount_minor, outcome.fee_minor):
        assert amount is None or (type(amount) is int and abs(amount) <= 100_000_000)
    assert outcome.currency is None or (isinstance(outcome.currency, str)
                                        and len(outcome.currency) == 3)
    assert outcome.gateway_reference is None or (isinstance(outcome.gateway_reference, str)
                                                 and "\x00" not in outcome.gateway_reference)
    json.dumps(dict(outcome.raw), allow_nan=False, default=str)
    if outcome.status is TransactionStatus.PROCESSED:
        # Success only from an answer that really was an object with an id and a status.
        assert answered and all(_readable(body) for body in answered)


@fuzz_settings(factor=6)
@given(gateway_id=st.sampled_from(["stripe", "paypal"]), call=st.sampled_from(CALLS),
       queue=st.lists(answers, min_size=1, max_size=3),
       token=st.none() | st.none() | answers)
def test_hostile_answers_give_a_checked_result_or_a_contract_exception(gateways, gateway_id,
                                                                       call, queue, token):
    from praho.plugins.paypal_gateway import paypal_api

    fuzz_tried(f"gateways: {gateway_id} calls, hostile answers")
    paypal_api._TOKENS.clear()  # noqa: SLF001 - every example starts without a cached token
    Hostile.answers[:] = list(queue)
    Hostile.hostile_token = token
    Hostile.served.clear()
    try:
        outcome = _call(gateways[gateway_id], call)
    except GatewayError as error:
        assert error.message and "fuzz-client-secret-value" not in error.message
        assert "sk_test_fuzz_key" not in error.message
    else:
        _check(outcome, list(Hostile.served))
    finally:
        Hostile.answers.clear()
        Hostile.hostile_token = None


def test_unreadable_success_answer_is_an_unknown_outcome(gateways):
    """Regressions: a 2xx Stripe could not parse was GatewayRefused (the attempt became an
    error, so dunning would charge again with a new key), and a PayPal 201 without a body
    was a hard decline."""
    from praho.core.payments.gateway import OutcomeUnknown

    request = PaymentRequest("pa_fuzz", 5000, "RON", "cus_1", "pm_1")
    for gateway_id, body in (("stripe", b"<html>"), ("paypal", b""), ("paypal", b"[]"),
                             ("stripe", b'{"id": "pi_1", "status": "succeeded",'
                                        b' "amount_received": "5"}')):
        Hostile.answers[:] = [(201 if gateway_id == "paypal" else 200, {}, body)]
        with pytest.raises(OutcomeUnknown):
            gateways[gateway_id].purchase(request)
