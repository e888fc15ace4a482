"""A local stand-in for Stripe's meter-event endpoint (tests and local runs).

Follows ``POST /v1/billing/meter_events`` as documented and as the official example
object (``billing.meter_event``) shows: form-encoded parameters, Bearer secret key,
``timestamp`` at most 35 days old and 5 minutes ahead, ``Idempotency-Key`` replays
(same parameters: the stored answer with ``Idempotent-Replayed: true``; different
parameters: 400 ``idempotency_error``) and one counted event per ``identifier``. As at
Stripe, a request refused by validation saves no idempotent result (no endpoint began
executing), so a retry with the same key is validated again; injected failures
(``fail_next``) carry the error type Stripe gives their status (``api_error`` for 5xx,
``invalid_request_error`` otherwise, code ``rate_limit`` for 429).
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from praho.core.standin import serve_in_thread, server_url, stop_server


@dataclass
class StripeMeterStandIn:
    """The running stand-in; ``events`` holds each identifier's event once."""

    api_key: str = "sk_test_standin"
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: dict[str, tuple[dict[str, str], int, dict[str, Any]]] = field(default_factory=dict)
    # Answer this HTTP status to the next N requests (exercise failures).
    fail_next: list[int] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> StripeMeterStandIn:
        """Listen on a free port in a background thread."""
        self._server = serve_in_thread(_Handler, self)
        return self

    def stop(self) -> None:
        """Stop serving."""
        stop_server(self._server)
        self._server = None

    @property
    def url(self) -> str:
        """Base address for ``StripeClient(base_addresses={"api": url})``."""
        return server_url(self._server)

    def handle(
        self, headers: dict[str, str], form: dict[str, str]
    ) -> tuple[int, dict[str, Any], bool]:
        """Apply Stripe's rules to one request: (status, body, replayed)."""
        with self._lock:
            self.requests.append(form)
            if self.fail_next:
                status = self.fail_next.pop(0)
                kind = "api_error" if status >= 500 else "invalid_request_error"
                failure = _error(kind, "stand-in failure")
                if status == 429:
                    failure["error"]["code"] = "rate_limit"
                return status, failure, False
            presented = headers.get("authorization") or ""
            if not hmac.compare_digest(presented.encode(), f"Bearer {self.api_key}".encode()):
                return 401, _error("invalid_request_error", "Invalid API Key provided"), False
            key = headers.get("idempotency-key")
            if key and key in self.replies:
                params, status, body = self.replies[key]
                if params != form:
                    return (
                        400,
                        _error(
                            "idempotency_error",
                            "Keys for idempotent requests can "
                            "only be used with the same parameters they were first "
                            "used with.",
                        ),
                        False,
                    )
                return status, body, True
            status, body = self._create(form)
            if key and status == 200:
                self.replies[key] = (form, status, body)
            return status, body, False

    def _create(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        for name in ("event_name", "payload[stripe_customer_id]", "payload[value]"):
            if not form.get(name):
                return 400, _error(
                    "invalid_request_error", f"Missing required param: {name}.", name
                )
        now = int(time.time())
        timestamp = int(form.get("timestamp") or now)
        if timestamp < now - 35 * 86400 or timestamp > now + 300:
            return 400, _error(
                "invalid_request_error",
                "Timestamp must be within the past 35 "
                "days and no more than 5 minutes in the future.",
                "timestamp",
            )
        identifier = form.get("identifier") or f"standin-{len(self.events) + 1}"
        event = {
            "created": now,
            "event_name": form["event_name"],
            "identifier": identifier,
            "livemode": False,
            "object": "billing.meter_event",
            "payload": {
                "stripe_customer_id": form["payload[stripe_customer_id]"],
                "value": form["payload[value]"],
            },
            "timestamp": timestamp,
        }
        # Stripe enforces identifier uniqueness: the event is counted once.
        self.events.setdefault(identifier, event)
        return 200, event


def _error(kind: str, message: str, param: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "message": message}
    if param:
        error["param"] = param
    return {"error": error}


class _Handler(BaseHTTPRequestHandler):
    standin: StripeMeterStandIn

    def log_message(self, *_args: Any) -> None:
        return

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        if self.path != "/v1/billing/meter_events":
            self._send(
                404,
                _error("invalid_request_error", f"Unrecognized request URL (POST: {self.path})"),
                False,
            )
            return
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, replayed = self.standin.handle(headers, form)
        self._send(status, body, replayed)

    def _send(self, status: int, body: dict[str, Any], replayed: bool) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", "req_standin")
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(data)
