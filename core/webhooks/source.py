"""The webhook source contract: how a plugin verifies and parses its gateway's deliveries.

A plugin returns :class:`WebhookSource` objects from ``register_webhook_sources``; the
core mounts each at ``/webhooks/<id>`` and runs every delivery through one pipeline:
size limit -> ``verify`` (signature and timestamp, on the raw bytes) -> ``parse`` ->
record once per (source, event id) -> answer; then a worker dispatches batches of recorded
events to ``handlers()[event_type]`` (see :mod:`praho.core.webhooks.applier`).

A source may also offer ``batch_handlers()``: for a type that can arrive in floods, one
function that applies several consecutive events of that type together (fewer statements
per event) with the same effect as its single handler applied to each in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session


class WebhookRejected(Exception):
    """The delivery is refused; nothing is recorded. ``http_status`` is what we answer."""

    def __init__(self, reason: str, *, http_status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status


@dataclass(frozen=True)
class ParsedEvent:
    """A verified event, ready to record. ``payload`` is stored redacted."""

    event_id: str
    event_type: str
    created_at: datetime | None
    payload: Mapping[str, Any] = field(default_factory=dict)


# A handler applies one event inside its batch's transaction; raising makes the
# pipeline retry it later with backoff (5 min, 15 min, 1 h, 2 h, 6 h), then flag it.
WebhookHandler = Callable[[Session, ParsedEvent, datetime], None]

# Applies consecutive events (in arrival order) as the single handler would one by one.
# Raising makes the applier apply each of them again alone, with the single handler.
WebhookBatchHandler = Callable[[Session, Sequence[ParsedEvent], datetime], None]


@runtime_checkable
class WebhookSource(Protocol):
    """What a gateway plugin implements for its inbound events."""

    id: str

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        """Check signature and timestamp on the raw body; raise :class:`WebhookRejected`.

        Must refuse when no secret is configured, when the timestamp is outside the
        replay window (past or future), and compare signatures in constant time.
        """

    def parse(self, body: bytes) -> ParsedEvent:
        """Turn the verified body into an event; raise :class:`WebhookRejected` on bad JSON."""

    def handlers(self) -> Mapping[str, WebhookHandler]:
        """Handlers by event type; unknown types are stored and acknowledged."""


def batch_handlers_of(source: object) -> Mapping[str, WebhookBatchHandler]:
    """The source's optional ``batch_handlers()`` (none when it offers no such method).

    Only types that also have a single handler count: the single handler is what the
    applier falls back to when a batch fails.
    """
    offered = getattr(source, "batch_handlers", None)
    if offered is None:
        return {}
    singles = source.handlers()  # type: ignore[attr-defined]
    return {kind: handler for kind, handler in offered().items() if kind in singles}
