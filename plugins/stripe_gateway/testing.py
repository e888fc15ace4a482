"""A local Stripe stand-in: a real HTTP server in a thread that speaks Stripe's API contract.

For tests and benchmarks (``StripeStandIn().start()``; point ``api_base`` at ``.url``). It
parses form-encoded requests as Stripe does (``metadata[k]=v``, ``expand[0]=...``), keeps
state, honours ``Idempotency-Key`` (same key and parameters -> the stored answer with
``Idempotent-Replayed: true``; different parameters -> 400 ``idempotency_error``) and answers
with objects shaped like the official fixtures (stripe_fixtures.json, from stripe/openapi).

Magic payment methods follow Stripe's test tokens: ``pm_card_visa`` succeeds,
``pm_card_chargeDeclined``, ``pm_card_chargeDeclinedInsufficientFunds``,
``pm_card_chargeDeclinedExpiredCard`` and ``pm_card_authenticationRequired`` are declined
with their codes, ``pm_card_processing`` stays ``processing``. ``fail_next`` makes the next
requests answer a 5xx or hang past the client's timeout (after or before acting).
``settle_in("ron", {"eur": "4.975"})`` makes it an account settling EUR charges in RON:
their balance transactions (amount, fee, net) are in RON with ``exchange_rate`` 4.975.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from praho.core.standin import serve_in_thread, server_url, stop_server
from praho.plugins.stripe_gateway.standin_routes import route

FIXTURES: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent / "stripe_fixtures.json").read_text(encoding="utf-8")
)["resources"]


def fixture(kind: str, **values: Any) -> dict[str, Any]:
    """A deep copy of the official example object ``kind`` with ``values`` set."""
    obj = copy.deepcopy(FIXTURES[kind])
    obj.update(values)
    return obj


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding back to nested dicts and lists (``a[b][0]=x``)."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = [key.split("[", 1)[0]] + [p.rstrip("]") for p in key.split("[")[1:]]
        node: Any = result
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            following_is_index = not last and parts[index + 1].isdigit()
            if isinstance(node, list):
                position = int(part)
                while len(node) <= position:
                    node.append(None)
                if last:
                    node[position] = value
                else:
                    if node[position] is None:
                        node[position] = [] if following_is_index else {}
                    node = node[position]
            elif last:
                node[part] = value
            else:
                node = node.setdefault(part, [] if following_is_index else {})
    return result


@dataclass
class Failure:
    """An injected failure: answer ``status`` (5xx) or sleep ``hang`` s; ``act`` first or not."""

    status: int = 500
    hang: float = 0.0
    act: bool = True


@dataclass
class StripeStandIn:
    """The running stand-in and its state (objects by id, idempotency records, requests)."""

    api_key_prefix: str = "sk_test_"
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    meter_identifiers: set[str] = field(default_factory=set)
    # Charge currency (lower case) -> (settlement currency, Stripe's exchange_rate); see
    # settle_in. A currency not listed settles as it is (exchange_rate null).
    settlement: dict[str, tuple[str, Decimal]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _server: ThreadingHTTPServer | None = None

    def start(self) -> StripeStandIn:
        """Listen on 127.0.0.1 (a free port) in a background thread."""
        self._server = serve_in_thread(_Handler, self)
        return self

    def stop(self) -> None:
        """Stop serving."""
        stop_server(self._server)
        self._server = None

    @property
    def url(self) -> str:
        """The API base address to configure (``StripeClient(base_addresses={"api": url})``)."""
        return server_url(self._server)

    def reset(self) -> None:
        """Forget every object, key, request and injected failure."""
        with self.lock:
            self.objects.clear()
            self.idempotency.clear()
            self.requests.clear()
            self.failures.clear()
            self.meter_identifiers.clear()
            self.settlement.clear()

    def settle_in(self, currency: str, rates: Mapping[str, Decimal | str]) -> None:
        """Settle charges in the ``rates``' currencies into ``currency``, as an account with
        that default currency does: the balance transaction is in ``currency`` and carries
        ``exchange_rate`` (units of ``currency`` per unit charged), its fee in ``currency``."""
        with self.lock:
            for charged_in, rate in rates.items():
                self.settlement[charged_in.lower()] = (currency.lower(), Decimal(rate))

    def fail_next(
        self, *, status: int = 500, hang: float = 0.0, act: bool = True, times: int = 1
    ) -> None:
        """Make the next ``times`` requests fail (after acting when ``act``)."""
        self.failures.extend(Failure(status, hang, act) for _ in range(times))

    def complete_processing(self, intent_id: str) -> dict[str, Any]:
        """Finish a ``processing`` PaymentIntent as Stripe would (charge, fee); returns it."""
        from praho.plugins.stripe_gateway.standin_routes import _charge

        with self.lock:
            intent = self.objects[intent_id]
            charge = _charge(self, intent, status="succeeded")
            intent.update(
                status="succeeded",
                amount_received=intent["amount"],
                latest_charge=charge["id"],
                processing=None,
            )
            return copy.deepcopy(intent)

    def new_id(self, prefix: str) -> str:
        """A fresh Stripe-looking id."""
        return f"{prefix}_PRAHO{next(self._ids):010d}"

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, Any],
        form: dict[str, Any],
        headers: dict[str, str],
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Run one request against the state; returns status, body and extra headers."""
        if not headers.get("authorization", "").startswith(f"Bearer {self.api_key_prefix}"):
            return 401, _error("invalid_request_error", "Invalid API Key provided."), {}
        key = headers.get("idempotency-key")
        if method != "POST" or not key:
            return (*route(self, method, path, query, form), {})
        fingerprint = hashlib.sha256(
            json.dumps([method, path, form], sort_keys=True).encode()
        ).hexdigest()
        with self.lock:
            stored = self.idempotency.get(key)
            if stored is not None:
                if not hmac.compare_digest(stored[0], fingerprint):
                    return (
                        400,
                        _error(
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other "
                            f"than '{key}' if you meant to execute a different request.",
                        ),
                        {},
                    )
                return stored[1], json.loads(stored[2]), {"Idempotent-Replayed": "true"}
            status, body = route(self, method, path, query, form)
            # Stripe stores the outcome of every request that began executing, errors included,
            # except 5xx and 429 answers, which may be retried with the same key.
            if status < 500 and status != 429:
                self.idempotency[key] = (fingerprint, status, json.dumps(body).encode())
            return status, body, {"Idempotency-Key": key}


def _error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **extra}}


class _Handler(BaseHTTPRequestHandler):
    standin: StripeStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep test output quiet."""

    def _serve(self, method: str) -> None:
        standin = self.standin
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        parts = urlsplit(self.path)
        query = decode_form(parts.query)
        form = decode_form(raw)
        headers = {k.lower(): v for k, v in self.headers.items()}
        standin.requests.append((method, parts.path, form, headers))
        failure = standin.failures.pop(0) if standin.failures else None
        if failure is not None and not failure.act:
            self._fail(failure)
            return
        status, body, extra = standin.handle(method, parts.path, query, form, headers)
        if failure is not None:
            self._fail(failure)
            return
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", f"req_{standin.new_id('r')}")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _fail(self, failure: Failure) -> None:
        if failure.hang:
            time.sleep(failure.hang)
        payload = json.dumps(_error("api_error", "An unknown error occurred")).encode()
        try:
            self.send_response(failure.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            # The client gave up waiting (a timeout test): nobody is left to answer.
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802 - stdlib name
        self._serve("DELETE")


def sign_stripe_event(payload: bytes, secret: str, timestamp: int) -> str:
    """A ``Stripe-Signature`` header built by the stripe library itself (the real signer)."""
    import stripe

    return str(
        stripe.WebhookSignature.generate_signature_header(
            payload.decode(), secret, timestamp=timestamp
        )
    )


def stripe_event(
    kind: str, obj: dict[str, Any], *, event_id: str | None = None, created: int = 1_772_445_600
) -> dict[str, Any]:
    """An event shaped like the fixture, carrying ``obj`` as ``data.object``."""
    digest = hashlib.sha256(kind.encode() + json.dumps(obj, sort_keys=True).encode()).hexdigest()
    return fixture(
        "event",
        id=event_id or f"evt_{digest[:24]}",
        type=kind,
        created=created,
        data={"object": obj},
        api_version="2026-08-27",
    )
