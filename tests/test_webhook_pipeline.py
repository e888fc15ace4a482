"""The shared webhook pipeline, driven by a small HMAC-signed source registered as a plugin.

The source's handler records a dispute (a core service), so "applied once" is a row count.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from praho.core.errors import InvalidTransition
from praho.core.hookspecs import hookimpl
from praho.core.models import AuditEvent, Dispute, WebhookEvent, WebhookStatus
from praho.core.models.audit import ActorType
from praho.core.models.disputes import DisputeStatus
from praho.core.services.audit import Actor
from praho.core.services.disputes import DisputeReport, record_dispute
from praho.core.tasks import build_beat_schedule
from praho.core.testing import StaticTestPlugin
from praho.core.webhooks.pipeline import (
    RETRY_DELAYS,
    EventNotReady,
    failed_events,
    receive_webhook,
    replay_event,
    retry_due,
)
from praho.core.webhooks.source import ParsedEvent, WebhookRejected, WebhookSource
from praho.core.webhooks.verification import check_timestamp, parse_json_body
from sqlalchemy import func, select

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SECRET = "test-hmac-secret-value"


class HmacSource:
    """A minimal source: header ``X-Sig: <unix>.<hex>`` over ``f"{t}.{body}"``."""

    id = "testsrc"

    def __init__(self, secret: str | None = SECRET) -> None:
        self.secret = secret
        self.fail_times = 0
        self.calls = 0

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        if not self.secret:
            raise WebhookRejected("no webhook secret configured", http_status=503)
        stamp, _, signature = (headers.get("X-Sig") or "").partition(".")
        if not stamp.isdigit():
            raise WebhookRejected("missing signature")
        expected = hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), signature):
            raise WebhookRejected("signature mismatch")
        check_timestamp(datetime.fromtimestamp(int(stamp), UTC), now, window_seconds=180)

    def parse(self, body: bytes) -> ParsedEvent:
        document = parse_json_body(body)
        return ParsedEvent(
            str(document.get("id", "")), str(document.get("type", "")), None, document
        )

    def handlers(self) -> dict[str, Any]:
        return {"dispute.opened": self._dispute}

    def _dispute(self, session: Any, event: ParsedEvent, now: datetime) -> None:
        self.calls += 1
        if self.fail_times:
            self.fail_times -= 1
            raise EventNotReady("payment not recorded yet")
        record_dispute(
            session,
            DisputeReport("testsrc", event.payload["ref"], None, 1000, "RON", DisputeStatus.OPEN),
            now=now,
        )


class SourcePlugin:
    def __init__(self, source: HmacSource) -> None:
        self.source = source

    @hookimpl
    def register_webhook_sources(self) -> list[Any]:
        return [self.source]


@pytest.fixture
def source() -> HmacSource:
    return HmacSource()


@pytest.fixture
def praho_plugins(source):
    return [("static_test", StaticTestPlugin()), ("testsrc", SourcePlugin(source))]


def sign(body: bytes, when: datetime = NOW, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(when.timestamp()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Sig": f"{stamp}.{digest}"}


def event_body(event_id: str = "ev_1", kind: str = "dispute.opened", ref: str = "dp_1") -> bytes:
    return json.dumps({"id": event_id, "type": kind, "ref": ref}).encode()


def counts(session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(WebhookEvent)),
        session.scalar(select(func.count()).select_from(Dispute)),
        session.scalar(select(func.count()).select_from(AuditEvent)),
    )


def test_hook_register_webhook_sources(praho_app, source):
    from praho.core.webhooks.pipeline import webhook_sources

    sources = webhook_sources()
    assert sources["testsrc"] is source
    assert isinstance(source, WebhookSource)


def test_event_is_verified_recorded_and_applied_once(praho_session, source):
    body = event_body()
    first = receive_webhook(praho_session, source, sign(body), body, now=NOW)
    assert first.status == "processed" and not first.duplicate
    again = receive_webhook(
        praho_session,
        source,
        sign(body, NOW + timedelta(seconds=30)),
        body,
        now=NOW + timedelta(seconds=30),
    )
    assert again.duplicate and again.status == "duplicate"
    assert counts(praho_session)[:2] == (1, 1)
    assert source.calls == 1
    row = praho_session.execute(select(WebhookEvent)).scalar_one()
    assert row.status == WebhookStatus.PROCESSED and row.processed_at == NOW and row.attempts == 1


def test_unknown_event_type_is_stored_and_ignored(praho_session, source):
    body = event_body(kind="customer.updated")
    outcome = receive_webhook(praho_session, source, sign(body), body, now=NOW)
    assert outcome.status == "ignored"
    row = praho_session.execute(select(WebhookEvent)).scalar_one()
    assert row.event_type == "customer.updated" and row.status == WebhookStatus.IGNORED
    assert counts(praho_session)[1] == 0


@pytest.mark.parametrize(
    "case",
    [
        "no signature",
        "bad signature",
        "stale",
        "future",
        "wrong secret",
        "not json",
        "json array",
        "oversized",
    ],
)
def test_refused_deliveries_change_nothing(praho_session, source, case):
    body = event_body()
    headers = sign(body)
    limit = 4096
    if case == "no signature":
        headers = {}
    elif case == "bad signature":
        headers = {"X-Sig": headers["X-Sig"][:-2] + "00"}
    elif case == "stale":
        headers = sign(body, NOW - timedelta(seconds=181))
    elif case == "future":
        headers = sign(body, NOW + timedelta(seconds=181))
    elif case == "wrong secret":
        headers = sign(body, secret="another-secret")
    elif case == "not json":
        body = b"id=ev_1&type=dispute.opened"
        headers = sign(body)
    elif case == "json array":
        body = b"[1, 2]"
        headers = sign(body)
    elif case == "oversized":
        body = json.dumps({"id": "ev_big", "type": "dispute.opened", "ref": "x" * limit}).encode()
        headers = sign(body)
    before = counts(praho_session)
    with pytest.raises(WebhookRejected) as refused:
        receive_webhook(praho_session, source, headers, body, now=NOW, max_bytes=limit)
    assert refused.value.http_status == (413 if case == "oversized" else 400)
    assert counts(praho_session) == before


def test_window_edges_are_inclusive():
    check_timestamp(NOW - timedelta(seconds=180), NOW, window_seconds=180)
    check_timestamp(NOW + timedelta(seconds=180), NOW, window_seconds=180)


def test_handler_failures_back_off_then_fail_and_replay(praho_session, source):
    source.fail_times = 99
    body = event_body()
    outcome = receive_webhook(praho_session, source, sign(body), body, now=NOW)
    assert outcome.status == "retrying"
    row = praho_session.execute(select(WebhookEvent)).scalar_one()
    assert row.next_attempt_at == NOW + timedelta(minutes=5) and "EventNotReady" in row.last_error
    moment = NOW
    seen = []
    for delay in RETRY_DELAYS:
        moment += delay
        assert retry_due(praho_session, {"testsrc": source}, now=moment - timedelta(seconds=1)) == 0
        retry_due(praho_session, {"testsrc": source}, now=moment)
        seen.append((row.status, row.next_attempt_at - moment if row.next_attempt_at else None))
    assert [s for s, _ in seen] == [WebhookStatus.RETRYING] * 4 + [WebhookStatus.FAILED]
    assert [d for _, d in seen] == list(RETRY_DELAYS[1:]) + [None]
    assert row.attempts == 6 and counts(praho_session)[1] == 0
    assert failed_events(praho_session) == [row]
    source.fail_times = 0
    ana = Actor(ActorType.USER, "ana@praho.test")
    replayed = replay_event(
        praho_session,
        row.id,
        now=moment + timedelta(days=1),
        sources={"testsrc": source},
        actor=ana,
    )
    assert replayed.status == WebhookStatus.PROCESSED and counts(praho_session)[1] == 1
    audit = praho_session.execute(
        select(AuditEvent).where(AuditEvent.action == "webhook.replayed")
    ).scalar_one()
    assert (audit.actor_id, audit.object_id, audit.data["from"], audit.data["to"]) == (
        "ana@praho.test",
        str(row.id),
        "failed",
        "processed",
    )
    with pytest.raises(InvalidTransition):
        replay_event(praho_session, row.id, now=moment, sources={"testsrc": source})
    assert counts(praho_session)[1] == 1


def test_failed_handler_writes_are_rolled_back_with_its_savepoint(praho_session, source):
    def half_then_fail(session, event, now):
        record_dispute(
            session,
            DisputeReport("testsrc", "dp_half", None, 5, "RON", DisputeStatus.OPEN),
            now=now,
        )
        raise RuntimeError("boom after a write")

    source.handlers = lambda: {"dispute.opened": half_then_fail}  # type: ignore[method-assign]
    body = event_body()
    receive_webhook(praho_session, source, sign(body), body, now=NOW)
    assert counts(praho_session)[1] == 0
    assert praho_session.execute(select(WebhookEvent.status)).scalar_one() == WebhookStatus.RETRYING


def test_http_endpoint(praho_app, praho_committing, source):
    client = praho_app.test_client()
    body = event_body()
    when = datetime.now(UTC)
    answer = client.post("/webhooks/testsrc", data=body, headers=sign(body, when))
    # Recorded and answered; Celery is eager here, so it was applied in the same request.
    assert answer.status_code == 200 and answer.json["status"] == "received"
    with praho_committing.transaction() as session:
        assert session.execute(select(WebhookEvent.status)).scalar_one() == "processed"
    answer = client.post("/webhooks/testsrc", data=body, headers=sign(body, when))
    assert answer.status_code == 200 and answer.json["duplicate"] is True
    bad = client.post("/webhooks/testsrc", data=body, headers={"X-Sig": "1.00"})
    assert bad.status_code == 400 and "signature" in bad.json["message"]
    assert client.post("/webhooks/nosuch", data=body).status_code == 404
    praho_app.config["WEBHOOK_MAX_BYTES"] = 64
    big = client.post(
        "/webhooks/testsrc", data=body + b" " * 100, headers=sign(body + b" " * 100, when)
    )
    assert big.status_code == 413
    source.secret = None
    refused = client.post("/webhooks/testsrc", data=body, headers=sign(body, when))
    assert refused.status_code == 503 and "secret" in refused.json["message"]
    with praho_committing.transaction() as session:
        assert counts(session)[:2] == (1, 1)


def test_retry_task_is_scheduled_by_beat(praho_app):
    schedule = build_beat_schedule(praho_app)
    assert schedule["webhooks-retry-due"]["task"] == "praho.webhooks.retry_due"


def test_retry_task_runs(praho_app, praho_committing, source):
    from praho.core.webhooks.tasks import retry_due as retry_task

    source.fail_times = 1
    body = event_body()
    with praho_committing.transaction() as session:
        receive_webhook(session, source, sign(body, datetime.now(UTC)), body)
    with praho_committing.transaction() as session:
        row = session.execute(select(WebhookEvent)).scalar_one()
        row.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
    assert retry_task.delay().get() == 1
    with praho_committing.transaction() as session:
        assert counts(session)[:2] == (1, 1)


def test_replay_task_applies_now_and_audits_who_asked(praho_app, praho_committing, source):
    from praho.core.webhooks.tasks import replay as replay_task

    source.fail_times = 1
    body = event_body()
    with praho_committing.transaction() as session:
        receive_webhook(session, source, sign(body, datetime.now(UTC)), body)
        row_id = session.execute(select(WebhookEvent.id)).scalar_one()
    assert replay_task.delay(row_id, "ana@praho.test").get() == "processed"
    with pytest.raises(InvalidTransition):  # a second replay is refused...
        replay_task.delay(row_id).get()
    with praho_committing.transaction() as session:
        assert counts(session)[:2] == (1, 1)  # ...and applies nothing twice
        audit = session.execute(
            select(AuditEvent).where(AuditEvent.action == "webhook.replayed")
        ).scalar_one()
        assert (audit.actor_type, audit.actor_id) == ("user", "ana@praho.test")


@pytest.mark.postgres
def test_fifty_concurrent_deliveries_apply_once(praho_app, praho_committing, source):
    body = event_body("ev_concurrent", ref="dp_concurrent")
    barrier = threading.Barrier(50)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            barrier.wait()
            with praho_committing.transaction() as session:
                outcomes.append(receive_webhook(session, source, sign(body), body, now=NOW).status)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sorted(outcomes) == ["duplicate"] * 49 + ["processed"]
    assert source.calls == 1
    with praho_committing.transaction() as session:
        assert counts(session)[:2] == (1, 1)


@pytest.mark.timeout(60)
def test_long_token_like_strings_are_redacted_in_linear_time(praho_session, source):
    # Before the redaction pattern was anchored, a 200 KB run of letters took hours.
    body = json.dumps(
        {
            "id": "ev_long",
            "type": "customer.updated",
            "ref": "x" * 200_000,
            "api_key": "sk_live_abcdefghijkl",
        }
    ).encode()
    receive_webhook(praho_session, source, sign(body), body, now=NOW, max_bytes=300_000)
    stored = praho_session.execute(select(WebhookEvent.payload)).scalar_one()
    assert stored["ref"] == "x" * 200_000 and stored["api_key"] == "[REDACTED]"


@pytest.mark.postgres
def test_fifty_concurrent_http_deliveries_apply_once(praho_app, praho_committing, source):
    import http.client

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, praho_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    body = event_body("ev_http", ref="dp_http")
    headers = sign(body, datetime.now(UTC))
    barrier = threading.Barrier(50)
    statuses: list[int] = []

    def deliver() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=60)
        barrier.wait()
        connection.request("POST", "/webhooks/testsrc", body=body, headers=headers)
        response = connection.getresponse()
        statuses.append(response.status)
        response.read()
        connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(50)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    finally:
        server.shutdown()
    assert statuses == [200] * 50 and source.calls == 1
    with praho_committing.transaction() as session:
        assert counts(session)[:2] == (1, 1)


def test_endpoint_stores_a_redacted_copy_with_exact_decimals(praho_app, praho_committing, source):
    # The endpoint's insert goes straight to the driver on PostgreSQL: the stored copy must
    # still be the redacted document, fractional numbers kept as their exact text.
    client = praho_app.test_client()
    when = datetime.now(UTC)
    secret = "pi_3Ma8Tx2eZvKYlo2C" + "_secret_" + "fGkqL0kC9V3uLlQ"
    body = (b'{"id": "ev_risky", "type": "note.added", "client_secret": "' + secret.encode()
            + b'", "rate": 4.970, "note": "G\xc4\x83zduire", "n": [1, null, true]}')
    assert client.post("/webhooks/testsrc", data=body, headers=sign(body, when)).status_code == 200
    with praho_committing.transaction() as session:
        stored = session.execute(
            select(WebhookEvent.payload).where(WebhookEvent.event_id == "ev_risky")
        ).scalar_one()
    assert stored == {"id": "ev_risky", "type": "note.added", "client_secret": "[REDACTED]",
                      "rate": "4.970", "note": "Găzduire", "n": [1, None, True]}
