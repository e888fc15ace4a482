"""A local stand-in for the BNR feed URL, for tests (127.0.0.1, port chosen by the system).

It answers ``GET /nbrfxrates.xml`` with whatever the test sets: a real feed sample, or one
of the bodies the real URL has returned on bad days (an nginx 504 page, an "Object
moved" redirect, an empty body), with the matching status and headers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from praho.core.standin import serve_in_thread, server_url, stop_server

FEED_PATH = "/nbrfxrates.xml"


@dataclass
class StubResponse:
    """What the stand-in answers."""

    body: bytes
    status: int = 200
    content_type: str = "text/xml"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class BnrStandIn:
    """The running stand-in; ``url`` is the feed URL to configure."""

    response: StubResponse = field(default_factory=lambda: StubResponse(b""))
    delay: float = 0.0
    hits: int = 0
    _server: ThreadingHTTPServer | None = None

    def start(self) -> BnrStandIn:
        """Listen on a free port in a background thread."""
        self._server = serve_in_thread(_Handler, self)
        return self

    def stop(self) -> None:
        """Stop serving."""
        stop_server(self._server)
        self._server = None

    @property
    def url(self) -> str:
        """The feed URL."""
        return server_url(self._server, FEED_PATH)

    def serve(
        self,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = "text/xml",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next requests with this body."""
        self.response = StubResponse(body, status, content_type, dict(headers or {}))


class _Handler(BaseHTTPRequestHandler):
    standin: BnrStandIn

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep test output quiet."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        standin = self.standin
        standin.hits += 1
        if standin.delay:
            time.sleep(standin.delay)
        if self.path.split("?", 1)[0] != FEED_PATH:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        response = standin.response
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)
