"""Serving a local stand-in of an external service (Stripe, BNR, ...) for tests and benches.

A stand-in is an object holding the fake service's state plus a
``BaseHTTPRequestHandler`` subclass that reads it through ``self.standin``. These helpers
run it on 127.0.0.1 (a free port) in a daemon thread, so every stand-in starts, stops and
names its address the same way.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def serve_in_thread(handler_base: type[BaseHTTPRequestHandler],
                    standin: Any) -> ThreadingHTTPServer:
    """Start serving ``standin`` with a handler derived from ``handler_base``; the server."""
    handler = type(f"{type(standin).__name__}Handler", (handler_base,), {"standin": standin})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_server(server: ThreadingHTTPServer | None) -> None:
    """Stop serving and close the socket (a stopped or never started server is fine)."""
    if server is not None:
        server.shutdown()
        server.server_close()


def server_url(server: ThreadingHTTPServer | None, path: str = "") -> str:
    """``http://127.0.0.1:PORT`` + ``path`` of a started server."""
    assert server is not None, "stand-in not started"
    return f"http://127.0.0.1:{server.server_address[1]}{path}"
