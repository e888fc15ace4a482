"""Wake the workers that apply recorded webhook events, at most once per delay per process.

The endpoint records a delivery and calls :func:`request_apply`. Sending a Celery task
for every delivery would cost a broker round trip each; instead each web process sends
one task per ``PRAHO_WEBHOOK_APPLY_DELAY_MS`` (default 100 ms) with that delay as its
countdown. Nothing is left behind: an event this process records within the delay was
committed before the task already sent may start, and the task applies batches until it
finds fewer than a full batch waiting. If the broker cannot be reached the delivery is
still acknowledged (it is recorded); beat's ``webhooks-apply-received`` entry applies
whatever waits every 30 seconds. With Celery eager (no broker, the embedded default) the
events are applied right away, in the request, after the recording committed; if that
fails the delivery is still acknowledged and the next delivery applies what waits (the
embedded default runs no beat).
"""

from __future__ import annotations

import logging
import threading
import time

from flask import current_app
from praho.core.config import bounded_setting

logger = logging.getLogger("praho.webhooks")

_lock = threading.Lock()
_last_sent = [float("-inf")]


def apply_delay_seconds() -> float:
    """``PRAHO_WEBHOOK_APPLY_DELAY_MS`` in seconds; ValueError names a value out of range."""
    return bounded_setting("WEBHOOK_APPLY_DELAY_MS", 0, 5000) / 1000


def request_apply() -> bool:
    """Make sure recorded events get applied soon; True when a task was sent (or run).

    Call after the recording committed. Never raises for a broker failure: the event is
    recorded, and the periodic sweep applies it.
    """
    from praho.core.webhooks.tasks import apply_received

    celery = current_app.extensions["celery"]
    if celery.conf.task_always_eager:
        try:
            apply_received.apply()
        except Exception as exc:  # noqa: BLE001 - recorded already; the next delivery retries
            # The failure is in the back office's task failures; the delivery must still be
            # acknowledged. SQLite, for one, refuses a second concurrent writer.
            logger.warning("could not apply recorded webhook events now (%s)", exc)
            return False
        return True
    delay = apply_delay_seconds()
    moment = time.monotonic()
    with _lock:
        if moment - _last_sent[0] < delay:
            return False
        _last_sent[0] = moment
    try:
        apply_received.apply_async(countdown=delay)
    except Exception as exc:  # noqa: BLE001 - the delivery is recorded; the sweep applies it
        with _lock:
            _last_sent[0] = float("-inf")
        logger.warning("could not wake the webhook workers (%s); the sweep will apply", exc)
        return False
    return True
