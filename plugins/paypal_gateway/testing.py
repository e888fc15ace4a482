"""A local PayPal stand-in: the REST API over HTTP and the certificate host over HTTPS.

For tests and benchmarks. ``PayPalStandIn(pki=TestPKI()).start()`` runs two real servers in
threads on 127.0.0.1: the API (OAuth client-credentials tokens, Orders v2 create/capture,
captures, refunds, ``PayPal-Request-Id`` replay, the verify-webhook-signature endpoint) and
the certificate host (``GET /v1/notifications/certs/<name>`` over TLS with the test CA's
certificate for ``pki.tls_host``). Point the plugin at it with ``settings()``: the allowed
certificate host list and the host-to-port mapping are injected there, never widened in code.
``sign_delivery`` signs a webhook body the way PayPal does and remembers it for the verify API.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from praho.plugins.paypal_gateway.pki import TestPKI, new_transmission_id, sign_message
from praho.plugins.paypal_gateway.standin_routes import ROUTES, error
from praho.plugins.paypal_gateway.verification import signed_message

CLIENT_ID = "praho-test-client"
CLIENT_SECRET = "praho-test-client-secret"  # noqa: S105 - the stand-in's own fake credential
WEBHOOK_ID = "1JE4291016473214C"
CERT_NAME = "CERT-360caa42-fca2a594-a5cafa77"


@dataclass
class PayPalStandIn:
    """Both servers and their state."""

    pki: TestPKI = field(default_factory=TestPKI)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    replies: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    delivered: dict[str, bytes] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    failures: list[tuple[int, float]] = field(default_factory=list)
    certs: dict[str, bytes] = field(default_factory=dict)
    cert_fetches: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _api: ThreadingHTTPServer | None = None
    _certs: ThreadingHTTPServer | None = None

    def start(self) -> PayPalStandIn:
        """Start the API (HTTP) and the certificate host (HTTPS) on free ports."""
        self._api = ThreadingHTTPServer(
            ("127.0.0.1", 0), type("Api", (_ApiHandler,), {"standin": self})
        )
        self._certs = ThreadingHTTPServer(
            ("127.0.0.1", 0), type("Certs", (_CertHandler,), {"standin": self})
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.tls_cert_file, self.pki.tls_key_file)
        self._certs.socket = context.wrap_socket(self._certs.socket, server_side=True)
        for server in (self._api, self._certs):
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self.certs[CERT_NAME] = self.pki.variant("good")[0]
        return self

    def stop(self) -> None:
        """Stop both servers."""
        for server in (self._api, self._certs):
            if server is not None:
                server.shutdown()
                server.server_close()
        self._api = self._certs = None

    def reset(self) -> None:
        """Forget orders, captures, refunds, replies, deliveries, tokens and failures."""
        with self.lock:
            for store in (self.orders, self.captures, self.refunds, self.replies, self.delivered):
                store.clear()
            self.tokens.clear()
            self.requests.clear()
            self.failures.clear()
            self.token_requests = self.cert_fetches = 0
            self.certs = {CERT_NAME: self.pki.variant("good")[0]}

    @property
    def url(self) -> str:
        """The API base URL."""
        assert self._api is not None, "stand-in not started"
        return f"http://127.0.0.1:{self._api.server_address[1]}"

    @property
    def cert_port(self) -> int:
        """The certificate host's local port."""
        assert self._certs is not None, "stand-in not started"
        return int(self._certs.server_address[1])

    def cert_url(self, name: str = CERT_NAME) -> str:
        """The certificate URL as PayPal would send it (allow-listed host, no port)."""
        return f"https://{self.pki.tls_host}/v1/notifications/certs/{name}"

    def settings(self) -> dict[str, str]:
        """Plugin settings (non-secret) reaching this stand-in, for tests' manifests."""
        return {
            "api_base": self.url,
            "cert_hosts": self.pki.tls_host,
            "ca_bundle": str(self.pki.ca_file),
            "cert_resolve": f"{self.pki.tls_host}=127.0.0.1:{self.cert_port}",
        }

    def new_id(self, prefix: str) -> str:
        """A fresh PayPal-looking id."""
        return f"{prefix}{next(self._ids):013d}"

    def fail_next(self, *, status: int = 500, hang: float = 0.0, times: int = 1) -> None:
        """The next ``times`` API requests act, then answer ``status`` (or hang ``hang`` s)."""
        self.failures.extend((status, hang) for _ in range(times))

    def sign_delivery(
        self,
        body: bytes,
        *,
        webhook_id: str = WEBHOOK_ID,
        key: Any = None,
        cert_url: str | None = None,
        transmission_id: str | None = None,
        when: datetime | None = None,
    ) -> dict[str, str]:
        """PayPal's delivery headers for ``body`` (and remember it for the verify API)."""
        transmission_id = transmission_id or new_transmission_id()
        stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        signature = sign_message(
            key or self.pki.signing_key, signed_message(transmission_id, stamp, webhook_id, body)
        )
        self.delivered[transmission_id] = body
        return {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": stamp,
            "PAYPAL-TRANSMISSION-SIG": signature,
            "PAYPAL-CERT-URL": cert_url or self.cert_url(),
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "PAYPAL-AUTH-VERSION": "v2",
            "Content-Type": "application/json",
        }

    def handle(
        self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """Route one authenticated API request, replaying answers by PayPal-Request-Id."""
        request_id = headers.get("paypal-request-id")
        replay_key = f"{method} {path} {request_id}"
        with self.lock:
            if request_id and replay_key in self.replies:
                return self.replies[replay_key]
            for verb, pattern, function in ROUTES:
                match = re.fullmatch(pattern, path)
                if match and verb == method:
                    status, answer = function(self, body, *match.groups())
                    break
            else:
                status, answer = error(404, "RESOURCE_NOT_FOUND", path)
            reply = (status, json.dumps(answer).encode())
            if request_id and status < 500:
                self.replies[replay_key] = reply
            return reply


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    standin: PayPalStandIn

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep test output quiet."""

    def _send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True


class _ApiHandler(_Quiet):
    def _token(self, raw: bytes) -> None:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if (
            self.headers.get("Authorization") != expected
            or b"grant_type=client_credentials" not in raw
        ):
            self._send(
                401,
                json.dumps(
                    {"error": "invalid_client", "error_description": "Client Authentication failed"}
                ).encode(),
            )
            return
        with self.standin.lock:
            self.standin.token_requests += 1
            token = f"A21AAtest{self.standin.new_id('')}"
            self.standin.tokens.add(token)
        self._send(
            200,
            json.dumps(
                {
                    "scope": "https://uri.paypal.com/services/payments/payment",
                    "access_token": token,
                    "token_type": "Bearer",
                    "app_id": "APP-PRAHO",
                    "expires_in": 32400,
                    "nonce": "2026-test",
                }
            ).encode(),
        )

    def _serve(self, method: str) -> None:
        standin = self.standin
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        if path == "/v1/oauth2/token" and method == "POST":
            self._token(raw)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        standin.requests.append((method, path, headers))
        if headers.get("authorization", "").removeprefix("Bearer ") not in standin.tokens:
            self._send(
                401, json.dumps({"error": "invalid_token", "error_description": "expired"}).encode()
            )
            return
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._send(400, json.dumps({"name": "MALFORMED_REQUEST_JSON"}).encode())
            return
        status, payload = standin.handle(method, path, body, headers)
        failure = standin.failures.pop(0) if standin.failures else None
        if failure is not None:
            time.sleep(failure[1])
            status, payload = failure[0], json.dumps({"name": "INTERNAL_SERVER_ERROR"}).encode()
        self._send(status, payload)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self._serve("POST")


class _CertHandler(_Quiet):
    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        standin = self.standin
        standin.cert_fetches += 1
        path = urlsplit(self.path).path
        name = path.removeprefix("/v1/notifications/certs/")
        if name == "redirect":
            self.send_response(302)
            self.send_header("Location", standin.cert_url())
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        pem = standin.certs.get(name)
        if pem is None or not path.startswith("/v1/notifications/certs/"):
            self._send(404, b"not found", "text/plain")
            return
        self._send(200, pem, "application/x-pem-file")
