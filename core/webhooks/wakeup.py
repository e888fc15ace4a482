"""Wake the workers that apply recorded webhook events, at most once per delay per process.

The endpoint records a delivery and calls :func:`request_apply`. Sending a Celery task
for every delivery would cost a broker round trip each; instead each web process sends
one task per ``PRAHO_WEBHOOK_APPLY_DELAY_MS`` (default 250 ms) with that delay as its
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


class _Wakeups:
    """One application's wake-ups: whether its tasks run eagerly, when the next may go."""

    def __init__(self, eager: bool) -> None:
        self.eager = eager
        self.lock = threading.Lock()
        self.next_at = float("-inf")  # time.monotonic() before which none is sent


def _wakeups() -> _Wakeups:
    extensions = current_app.extensions
    found = extensions.get("praho.webhook_wakeups")
    if found is None:
        # Read once: Celery's settings lookup costs more than the rest of this module's
        # work per delivery, and whether tasks run eagerly is fixed when the app is made.
        eager = bool(extensions["celery"].conf.task_always_eager)
        found = extensions.setdefault("praho.webhook_wakeups", _Wakeups(eager))
    return found


def apply_delay_seconds() -> float:
    """``PRAHO_WEBHOOK_APPLY_DELAY_MS`` in seconds; ValueError names a value out of range."""
    return bounded_setting("WEBHOOK_APPLY_DELAY_MS", 0, 5000) / 1000


def request_apply() -> bool:
    """Make sure recorded events get applied soon; True when a task was sent (or run).

    Call after the recording committed. Never raises for a broker failure: the event is
    recorded, and the periodic sweep applies it.
    """
    from praho.core.webhooks.tasks import apply_received

    state = _wakeups()
    if state.eager:
        try:
            apply_received.apply()
        except Exception as exc:  # noqa: BLE001 - recorded already; the next delivery retries
            # The failure is in the back office's task failures; the delivery must still be
            # acknowledged. SQLite, for one, refuses a second concurrent writer.
            logger.warning("could not apply recorded webhook events now (%s)", exc)
            return False
        return True
    moment = time.monotonic()
    if moment < state.next_at:
        return False  # a task sent within the delay applies this event too
    delay = apply_delay_seconds()
    with state.lock:
        if moment < state.next_at:
            return False
        state.next_at = moment + delay
    try:
        apply_received.apply_async(countdown=delay)
    except Exception as exc:  # noqa: BLE001 - the delivery is recorded; the sweep applies it
        with state.lock:
            state.next_at = float("-inf")
        logger.warning("could not wake the webhook workers (%s); the sweep will apply", exc)
        return False
    return True
