"""The fake payment gateway (``fake``): NOT A REAL GATEWAY. No money ever moves.

For tests and ``praho demo``. It follows the gateway contract exactly, answering by
magic tokens (see :mod:`praho.plugins.fake_gateway.gateway`), and keeps its
"transactions" in process memory keyed by idempotency key, so repeating a request never
charges twice. Disable it in plugin_manifest.toml on a production installation.
"""

from __future__ import annotations

from typing import Any

from praho.core.hookspecs import hookimpl
from praho.plugins.fake_gateway.gateway import GATEWAY


@hookimpl
def register_payment_gateways() -> list[Any]:
    """The one fake gateway (its state is shared by every app in the process)."""
    return [GATEWAY]
