"""The webhook endpoint's rate limit: refused deliveries per source and client address.

Only refusals count (a bad or missing signature, a stale timestamp, a body that is not an
event, one too large). A verified delivery is never throttled, not even from an address
over its limit: gateways send every merchant's webhooks from the same few addresses, so
anyone pointing their own gateway account at our URL could otherwise get the gateway's
address blocked for our genuine events; only the gateway can sign those, a replay
outside the window is refused and one inside it is a duplicate acknowledged without a
write. Counting every delivery also cost the endpoint more than recording it.

``PRAHO_RATELIMIT_WEBHOOKS`` (default ``3000 per minute``) is counted in the shared
limiter's storage (``PRAHO_RATELIMIT_STORAGE_URI``, Redis in production, so every
gunicorn worker sees the same count), under the ``webhook_refusals`` scope. The refusal
that goes over the limit, and every later refusal from that address until the window
ends, is answered 429 with ``Retry-After`` instead of its reason, and is not logged. Each
web process remembers the addresses it found over the limit, so a flood of refusals
costs it a dictionary lookup each rather than a storage round trip.
"""

from __future__ import annotations

import math
import threading
import time

from flask import current_app
from limits import RateLimitItem, parse_many
from praho.core.ratelimit import DEFAULTS, limiter

SCOPE = "webhook_refusals"
# Addresses remembered as over their limit, per process; a flood from many addresses
# must not grow this without end.
MAX_REMEMBERED = 10_000

_lock = threading.Lock()
_blocked_until: dict[tuple[str, str], float] = {}


def _limits() -> list[RateLimitItem]:
    setting = current_app.config.get("RATELIMIT_WEBHOOKS") or DEFAULTS["RATELIMIT_WEBHOOKS"]
    return list(parse_many(setting))


def refused(source_id: str, address: str) -> int | None:
    """Count one refused delivery; the seconds to wait when the address is over its limit.

    An address this process already found over the limit is not counted again until its
    window ends (the answer is the time left).
    """
    return _time_left(source_id, address) or _count_refusal(source_id, address)


def _time_left(source_id: str, address: str) -> int | None:
    key = (source_id, address)
    until = _blocked_until.get(key)
    if until is None:
        return None
    left = until - time.monotonic()
    if left > 0:
        return max(1, math.ceil(left))
    with _lock:
        if _blocked_until.get(key) == until:  # not renewed meanwhile by another thread
            del _blocked_until[key]
    return None


def _count_refusal(source_id: str, address: str) -> int | None:
    """Count one refused delivery in the shared storage (moving window); the seconds to
    wait when this one went over the limit."""
    strategy = limiter.limiter
    for item in _limits():
        if strategy.hit(item, SCOPE, source_id, address):
            continue
        stats = strategy.get_window_stats(item, SCOPE, source_id, address)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        _remember(source_id, address, wait)
        return wait
    return None


def _remember(source_id: str, address: str, wait: int) -> None:
    now = time.monotonic()
    with _lock:
        if len(_blocked_until) >= MAX_REMEMBERED:
            for key in [key for key, until in _blocked_until.items() if until <= now]:
                del _blocked_until[key]
            if len(_blocked_until) >= MAX_REMEMBERED:
                # Still full of live entries: the oldest go (the storage still counts them).
                for key in list(_blocked_until)[: MAX_REMEMBERED // 10]:
                    del _blocked_until[key]
        _blocked_until[(source_id, address)] = now + wait


def forget_all() -> None:
    """Forget every blocked address in this process (for tests)."""
    with _lock:
        _blocked_until.clear()
