"""Recorded webhook events applied in batches: once each, failures isolated, audit sealed once.

The endpoint records a delivery and answers; :func:`apply_received` applies what was
recorded, one transaction per batch. The source here records a dispute per event (a core
service that writes a row and an audit event), so "applied once" is a row count.
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
from praho.core.hookspecs import hookimpl
from praho.core.models import AuditEvent, Dispute, WebhookEvent, WebhookStatus
from praho.core.models.disputes import DisputeStatus
from praho.core.services.audit import audit_written_at_commit, record_audit, verify_audit_chain
from praho.core.services.disputes import DisputeReport, record_dispute, record_disputes
from praho.core.tasks import build_beat_schedule
from praho.core.testing import StaticTestPlugin
from praho.core.webhooks.applier import apply_received
from praho.core.webhooks.pipeline import RETRY_DELAYS, record_webhook
from praho.core.webhooks.source import ParsedEvent, WebhookRejected
from praho.core.webhooks.verification import check_timestamp, parse_json_body
from sqlalchemy import func, select

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SECRET = "applier-test-secret"


class DisputeSource:
    """``X-Sig: <unix>.<hex>`` over ``f"{t}.{body}"``; ``dispute.opened`` records a dispute."""

    id = "applysrc"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.failing: set[str] = set()

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        stamp, _, signature = (headers.get("X-Sig") or "").partition(".")
        expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        if not stamp.isdigit() or not hmac.compare_digest(expected.hexdigest(), signature):
            raise WebhookRejected("signature mismatch")
        check_timestamp(datetime.fromtimestamp(int(stamp), UTC), now, window_seconds=180)

    def parse(self, body: bytes) -> ParsedEvent:
        document = parse_json_body(body)
        return ParsedEvent(str(document["id"]), str(document["type"]), None, document)

    def handlers(self) -> dict[str, Any]:
        return {"dispute.opened": self._dispute}

    def _dispute(self, session: Any, event: ParsedEvent, now: datetime) -> None:
        ref = event.payload["ref"]
        self.calls.append(ref)
        record_dispute(
            session, DisputeReport(self.id, ref, None, 1000, "RON", DisputeStatus.OPEN), now=now
        )
        if ref in self.failing:  # after a write and its audit event: both must vanish
            raise RuntimeError(f"cannot apply {ref} yet")


class SourcePlugin:
    def __init__(self, source: DisputeSource) -> None:
        self.source = source

    @hookimpl
    def register_webhook_sources(self) -> list[Any]:
        return [self.source]


@pytest.fixture
def source() -> DisputeSource:
    return DisputeSource()


@pytest.fixture
def praho_plugins(source):
    return [("static_test", StaticTestPlugin()), ("applysrc", SourcePlugin(source))]


def delivery(number: int, kind: str = "dispute.opened", when: datetime = NOW):
    body = json.dumps({"id": f"ev_{number}", "type": kind, "ref": f"dp_{number}"}).encode()
    stamp = str(int(when.timestamp()))
    digest = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Sig": f"{stamp}.{digest}"}, body


def record(session, source, numbers, kind="dispute.opened", when=NOW):
    for number in numbers:
        headers, body = delivery(number, kind, when)
        record_webhook(session, source, headers, body, now=when)


def statuses(session) -> dict[str, str]:
    rows = session.execute(select(WebhookEvent.event_id, WebhookEvent.status))
    return {event_id: str(status) for event_id, status in rows}


def test_recording_applies_nothing_and_a_batch_applies_each_event_once(praho_session, source):
    record(praho_session, source, range(5))
    assert set(statuses(praho_session).values()) == {"received"}
    assert source.calls == [] and praho_session.scalar(select(func.count(Dispute.id))) == 0
    later = NOW + timedelta(seconds=2)
    batch = apply_received(praho_session, {"applysrc": source}, now=later, limit=3)
    assert (batch.taken, batch.processed, batch.failed) == (3, 3, 0)
    rest = apply_received(praho_session, {"applysrc": source}, now=later, limit=3)
    assert (rest.taken, rest.processed) == (2, 2)
    assert apply_received(praho_session, {"applysrc": source}, now=later).taken == 0
    praho_session.commit()
    assert source.calls == [f"dp_{n}" for n in range(5)]  # arrival order, once each
    rows = praho_session.execute(select(WebhookEvent)).scalars().all()
    assert {(r.status, r.attempts, r.processed_at) for r in rows} == {("processed", 1, later)}
    assert praho_session.scalar(select(func.count(Dispute.id))) == 5
    actions = praho_session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars()
    assert list(actions) == ["dispute.opened"] * 5
    assert verify_audit_chain(praho_session).ok


def test_a_failing_event_is_retried_later_and_the_rest_of_its_batch_applied(
    praho_session, source
):
    source.failing = {"dp_2"}
    record(praho_session, source, range(4))
    batch = apply_received(praho_session, {"applysrc": source}, now=NOW)
    praho_session.commit()
    assert (batch.taken, batch.processed, batch.failed) == (4, 3, 1)
    # The shared pass stopped at dp_2; the isolated pass ran every event again.
    assert source.calls == ["dp_0", "dp_1", "dp_2", "dp_0", "dp_1", "dp_2", "dp_3"]
    failed = praho_session.execute(
        select(WebhookEvent).where(WebhookEvent.event_id == "ev_2")
    ).scalar_one()
    assert failed.status == WebhookStatus.RETRYING and failed.attempts == 1
    assert failed.next_attempt_at == NOW + RETRY_DELAYS[0]
    assert "cannot apply dp_2 yet" in failed.last_error and failed.processed_at is None
    refs = praho_session.execute(select(Dispute.gateway_reference)).scalars().all()
    assert sorted(refs) == ["dp_0", "dp_1", "dp_3"]  # dp_2's write rolled back
    # dp_2's audit event went with its savepoint; the chain holds the other three.
    audited = praho_session.execute(select(AuditEvent.object_id)).scalars().all()
    assert len(audited) == 3 and verify_audit_chain(praho_session).ok


def test_a_write_that_fails_when_the_shared_savepoint_is_released_is_isolated(
    praho_session, source
):
    # The last handler adds a row that breaks a unique constraint and does not flush:
    # the error surfaces only when the batch's shared savepoint is released.
    record(praho_session, source, range(3))
    praho_session.add(Dispute(gateway_id="applysrc", gateway_reference="dp_taken",
                              amount_minor=1, currency="RON", status=DisputeStatus.OPEN,
                              reason="", gateway_status="", opened_at=NOW, created_at=NOW,
                              updated_at=NOW))
    praho_session.flush()
    plain = source._dispute

    def clashing(session, event, now):
        plain(session, event, now)
        if event.payload["ref"] == "dp_2":
            session.add(Dispute(gateway_id="applysrc", gateway_reference="dp_taken",
                                amount_minor=1, currency="RON", status=DisputeStatus.OPEN,
                                reason="", gateway_status="", opened_at=now, created_at=now,
                                updated_at=now))

    source.handlers = lambda: {"dispute.opened": clashing}  # type: ignore[method-assign]
    batch = apply_received(praho_session, {"applysrc": source}, now=NOW)
    praho_session.commit()
    assert (batch.taken, batch.processed, batch.failed) == (3, 2, 1)
    assert statuses(praho_session) == {"ev_0": "processed", "ev_1": "processed",
                                       "ev_2": "retrying"}
    refs = praho_session.execute(select(Dispute.gateway_reference)).scalars().all()
    assert sorted(refs) == ["dp_0", "dp_1", "dp_taken"]
    assert verify_audit_chain(praho_session).ok


def test_unknown_types_are_ignored_at_recording_and_a_missing_source_is_retried(
    praho_session, source
):
    record(praho_session, source, [1], kind="customer.updated")
    assert statuses(praho_session) == {"ev_1": "ignored"}
    record(praho_session, source, [2])
    batch = apply_received(praho_session, {}, now=NOW)  # the plugin was disabled meanwhile
    assert (batch.taken, batch.failed) == (1, 1)
    row = praho_session.execute(
        select(WebhookEvent).where(WebhookEvent.event_id == "ev_2")
    ).scalar_one()
    praho_session.refresh(row)
    assert row.status == WebhookStatus.RETRYING and "not loaded" in row.last_error
    assert source.calls == []


def test_duplicates_are_recorded_once(praho_session, source):
    record(praho_session, source, [7])
    headers, body = delivery(7, when=NOW + timedelta(seconds=60))
    again = record_webhook(praho_session, source, headers, body, now=NOW + timedelta(seconds=60))
    assert again.duplicate and again.status == "duplicate"
    assert praho_session.scalar(select(func.count(WebhookEvent.id))) == 1


def test_bad_batch_size_is_refused_before_anything_is_taken(praho_session, source):
    record(praho_session, source, [1])
    with pytest.raises(ValueError, match="batch size"):
        apply_received(praho_session, {"applysrc": source}, limit=0)
    assert statuses(praho_session) == {"ev_1": "received"}


def test_audit_events_written_at_commit_keep_order_and_drop_rolled_back_savepoints(
    praho_app, praho_committing
):
    with praho_committing.transaction() as session:
        record_audit(session, actor=None, action="first", object_type="t", object_id=1)
        with audit_written_at_commit(session):
            record_audit(session, actor=None, action="second", object_type="t", object_id=2)
            try:
                with session.begin_nested():
                    record_audit(session, actor=None, action="lost", object_type="t",
                                 object_id=3)
                    raise RuntimeError("roll this savepoint back")
            except RuntimeError:
                pass
            # "second" is not inserted yet (only "first", which was added to the session).
            assert session.scalar(select(func.count(AuditEvent.id))) == 1
            with session.begin_nested():
                record_audit(session, actor=None, action="third", object_type="t", object_id=4)
        record_audit(session, actor=None, action="fourth", object_type="t", object_id=5)
    with praho_committing.transaction() as session:
        # The savepoint's rollback kept what was recorded before it ("first", "second"):
        # every event has its place in the chain.
        rows = session.execute(select(AuditEvent.action, AuditEvent.seq).order_by(AuditEvent.seq))
        assert [tuple(row) for row in rows] == [("first", 1), ("second", 2), ("third", 3),
                                                ("fourth", 4)]
        assert verify_audit_chain(session).ok


@pytest.mark.parametrize("deferred", [False, True])
def test_events_recorded_before_savepoints_survive_their_rollback(
    praho_app, praho_committing, deferred
):
    from sqlalchemy.exc import IntegrityError

    with praho_committing.transaction() as session:
        if deferred:
            session.info["praho.audit.defer"] = True  # what audit_written_at_commit sets
        record_audit(session, actor=None, action="before", object_type="t", object_id=1)
        # The insert-once pattern: a savepoint whose unique violation is caught.
        try:
            with session.begin_nested():
                record_audit(session, actor=None, action="lost", object_type="t", object_id=2)
                session.add(Dispute(gateway_id="x", gateway_reference="same", amount_minor=1,
                                    currency="RON", status=DisputeStatus.OPEN, reason="",
                                    gateway_status="", opened_at=NOW, created_at=NOW,
                                    updated_at=NOW))
                session.add(Dispute(gateway_id="x", gateway_reference="same", amount_minor=1,
                                    currency="RON", status=DisputeStatus.OPEN, reason="",
                                    gateway_status="", opened_at=NOW, created_at=NOW,
                                    updated_at=NOW))
                session.flush()
        except IntegrityError:
            pass
        # A released savepoint inside one that rolls back.
        try:
            with session.begin_nested():
                with session.begin_nested():
                    record_audit(session, actor=None, action="inner", object_type="t",
                                 object_id=3)
                raise RuntimeError("roll the outer savepoint back")
        except RuntimeError:
            pass
        record_audit(session, actor=None, action="after", object_type="t", object_id=4)
        session.info.pop("praho.audit.defer", None)
    with praho_committing.transaction() as session:
        rows = session.execute(select(AuditEvent.action, AuditEvent.seq).order_by(AuditEvent.seq))
        assert [tuple(row) for row in rows] == [("before", 1), ("after", 2)]
        assert verify_audit_chain(session).ok


def test_a_deferred_event_recorded_before_the_session_began_is_sealed(
    praho_app, praho_committing
):
    session = praho_committing.session_factory()
    try:
        with audit_written_at_commit(session):
            record_audit(session, actor=None, action="early", object_type="t", object_id=1)
        session.commit()
    finally:
        session.close()
    with praho_committing.transaction() as check:
        assert list(check.execute(select(AuditEvent.action)).scalars()) == ["early"]
        assert verify_audit_chain(check).ok


def test_deferred_audit_events_of_a_closed_session_are_not_sealed_later(
    praho_app, praho_committing
):
    session = praho_committing.session_factory()
    with audit_written_at_commit(session):
        record_audit(session, actor=None, action="abandoned", object_type="t", object_id=1)
    session.close()  # neither committed nor rolled back explicitly
    record_audit(session, actor=None, action="kept", object_type="t", object_id=2)
    session.commit()
    with praho_committing.transaction() as check:
        assert list(check.execute(select(AuditEvent.action)).scalars()) == ["kept"]


def test_endpoint_records_and_eager_celery_applies_in_the_request(praho_app, praho_committing):
    client = praho_app.test_client()
    headers, body = delivery(1, when=datetime.now(UTC))
    answer = client.post("/webhooks/applysrc", data=body, headers=headers)
    assert answer.status_code == 200 and answer.json["status"] == "received"
    with praho_committing.transaction() as session:
        assert statuses(session) == {"ev_1": "processed"}


def test_a_web_process_wakes_the_workers_at_most_once_per_delay(praho_database_url):
    import time

    from celery.signals import before_task_publish
    from praho.core.app import create_app
    from praho.core.testing import config_for_tests
    from praho.core.webhooks.wakeup import request_apply

    app = create_app(config_for_tests(praho_database_url, BROKER_URL="memory://",
                                      WEBHOOK_APPLY_DELAY_MS=300),
                     plugins=[("static_test", StaticTestPlugin())])
    sent = []

    def _count(sender=None, headers=None, **_):
        if sender == "praho.webhooks.apply_received":
            sent.append(headers.get("eta"))

    before_task_publish.connect(_count, weak=False)
    try:
        with app.test_request_context("/webhooks/applysrc", method="POST"):
            assert [request_apply() for _ in range(5)] == [True, False, False, False, False]
            time.sleep(0.35)
            assert request_apply() is True
    finally:
        before_task_publish.disconnect(_count)
    # Two tasks, each due a delay after it was sent (events recorded meanwhile are
    # committed before it starts).
    assert len(sent) == 2 and all(eta is not None for eta in sent)


def test_beat_sweeps_recorded_events(praho_app):
    entry = build_beat_schedule(praho_app)["webhooks-apply-received"]
    assert entry["task"] == "praho.webhooks.apply_received"
    assert entry["schedule"] == timedelta(seconds=30)


@pytest.mark.parametrize("name,value", [("WEBHOOK_APPLY_BATCH", 0),
                                        ("WEBHOOK_APPLY_BATCH", 5001),
                                        ("WEBHOOK_APPLY_DELAY_MS", -1),
                                        ("WEBHOOK_APPLY_DELAY_MS", 5001)])
def test_settings_out_of_range_are_refused_with_their_name(praho_app, name, value):
    from praho.core.webhooks.tasks import apply_batch_size
    from praho.core.webhooks.wakeup import apply_delay_seconds

    praho_app.config[name] = value
    check = apply_batch_size if name == "WEBHOOK_APPLY_BATCH" else apply_delay_seconds
    with praho_app.app_context(), pytest.raises(ValueError, match=f"PRAHO_{name}"):
        check()


@pytest.mark.postgres
def test_two_appliers_at_once_share_the_backlog_and_apply_each_event_once(
    praho_app, praho_committing, source
):
    with praho_committing.transaction() as session:
        record(session, source, range(300))
    taken: list[list[int]] = [[], []]
    errors: list[BaseException] = []

    def applier(slot: int) -> None:
        try:
            while True:
                with praho_committing.transaction() as session:
                    batch = apply_received(session, {"applysrc": source}, limit=20)
                if not batch.taken:
                    return
                taken[slot].extend(batch.event_ids)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=applier, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert taken[0] and taken[1]  # both took part
    assert not set(taken[0]) & set(taken[1]) and len(taken[0]) + len(taken[1]) == 300
    with praho_committing.transaction() as session:
        assert set(statuses(session).values()) == {"processed"}
        assert session.scalar(select(func.count(Dispute.id))) == 300
        assert verify_audit_chain(session).ok


@pytest.mark.postgres
@pytest.mark.parametrize("waiting", [30, 3000])
def test_a_batch_reads_only_the_waiting_events_it_takes(praho_committing, waiting):
    # However many events were applied before them, and whatever share of the table the
    # statistics say is waiting, the oldest waiting events come from the partial index
    # (neither the primary key filtered on status nor a sort of every waiting event).
    from praho.core.webhooks.applier import waiting_events
    from sqlalchemy import text

    with praho_committing.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO webhook_events (source, event_id, event_type, payload, status, "
            "attempts, received_at) SELECT 'plan', 'ev_' || n, 'probe', '{}'::jsonb, "
            "CASE WHEN n > 6000 - :waiting THEN 'received' ELSE 'processed' END, 0, now() "
            "FROM generate_series(1, 6000) AS n"
        ), {"waiting": waiting})
        connection.execute(text("ANALYZE webhook_events"))
        statement = waiting_events(20).compile(
            dialect=praho_committing.engine.dialect, compile_kwargs={"literal_binds": True}
        )
        plan = "\n".join(connection.execute(text(f"EXPLAIN {statement}")).scalars())
    assert "ix_webhook_events_received" in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.postgres
def test_endpoint_survives_its_pooled_connection_dying(praho_app, praho_committing):
    # The endpoint's connections are not pinged before use: a dead one is retried once.
    from sqlalchemy import text

    client = praho_app.test_client()
    headers, body = delivery(1, when=datetime.now(UTC))
    assert client.post("/webhooks/applysrc", data=body, headers=headers).status_code == 200
    with praho_committing.engine.connect() as connection:
        connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name = '' AND state = 'idle'"
        ))
    headers, body = delivery(2, when=datetime.now(UTC))
    answer = client.post("/webhooks/applysrc", data=body, headers=headers)
    assert answer.status_code == 200 and answer.json["status"] == "received"
    with praho_committing.transaction() as session:
        assert statuses(session) == {"ev_1": "processed", "ev_2": "processed"}


def test_apply_waiting_stops_at_its_time_budget_and_says_more_is_waiting(
    praho_app, praho_committing, source
):
    from praho.core.webhooks.applier import apply_waiting

    with praho_committing.transaction() as session:
        record(session, source, range(5))
    sources = {"applysrc": source}
    # A spent budget: one batch, then it stops and says more waits.
    assert apply_waiting(praho_committing, sources, batch_size=2, budget_seconds=0) == (2, True)
    # Enough time: batches until one comes back short.
    assert apply_waiting(praho_committing, sources, batch_size=2) == (3, False)
    with praho_committing.transaction() as session:
        assert set(statuses(session).values()) == {"processed"}


class BatchDisputeSource(DisputeSource):
    """The same source, also applying runs of ``dispute.opened`` with one batch handler."""

    id = "applysrc"

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[list[str]] = []
        self.batch_failing = False

    def handlers(self) -> dict[str, Any]:
        return {"dispute.opened": self._dispute, "note.added": self._note}

    def batch_handlers(self) -> dict[str, Any]:
        # "orphan.type" has no single handler: it must never be used.
        return {"dispute.opened": self._disputes, "orphan.type": self._disputes}

    def _note(self, session: Any, event: ParsedEvent, now: datetime) -> None:
        self.calls.append("note:" + event.payload["ref"])

    def _disputes(self, session: Any, events: list[ParsedEvent], now: datetime) -> None:
        refs = [event.payload["ref"] for event in events]
        self.runs.append(refs)
        record_disputes(
            session,
            [DisputeReport(self.id, ref, None, 1000, "RON", DisputeStatus.OPEN) for ref in refs],
            now=now,
        )
        if self.batch_failing:
            raise RuntimeError("the batch handler failed after writing")


def test_consecutive_events_with_a_batch_handler_are_applied_together_in_order(praho_session):
    source = BatchDisputeSource()
    record(praho_session, source, [0, 1, 2])
    record(praho_session, source, [3], kind="note.added")
    record(praho_session, source, [4])  # a run of one goes to the single handler
    record(praho_session, source, [5], kind="note.added")
    record(praho_session, source, [6, 7])
    batch = apply_received(praho_session, {"applysrc": source}, now=NOW)
    praho_session.commit()
    assert (batch.taken, batch.processed, batch.failed) == (8, 8, 0)
    assert source.runs == [["dp_0", "dp_1", "dp_2"], ["dp_6", "dp_7"]]
    assert source.calls == ["note:dp_3", "dp_4", "note:dp_5"]
    refs = praho_session.execute(select(Dispute.gateway_reference)).scalars().all()
    assert sorted(refs) == [f"dp_{n}" for n in (0, 1, 2, 4, 6, 7)]
    rows = praho_session.execute(select(WebhookEvent)).scalars().all()
    assert {(r.status, r.attempts) for r in rows} == {("processed", 1)}
    audited = praho_session.execute(
        select(AuditEvent.object_id).order_by(AuditEvent.seq)
    ).scalars().all()
    assert len(audited) == 6 and verify_audit_chain(praho_session).ok


def test_a_failing_batch_handler_leaves_nothing_and_each_event_is_applied_alone(praho_session):
    source = BatchDisputeSource()
    source.batch_failing = True
    source.failing = {"dp_1"}
    record(praho_session, source, [0, 1, 2])
    batch = apply_received(praho_session, {"applysrc": source}, now=NOW)
    praho_session.commit()
    assert source.runs == [["dp_0", "dp_1", "dp_2"]]
    assert source.calls == ["dp_0", "dp_1", "dp_2"]  # the isolated pass, single handler
    assert (batch.taken, batch.processed, batch.failed) == (3, 2, 1)
    assert statuses(praho_session) == {"ev_0": "processed", "ev_1": "retrying",
                                       "ev_2": "processed"}
    refs = praho_session.execute(select(Dispute.gateway_reference)).scalars().all()
    assert sorted(refs) == ["dp_0", "dp_2"]  # the batch's inserts rolled back with it
    audited = praho_session.execute(select(AuditEvent.object_id)).scalars().all()
    assert len(audited) == 2 and verify_audit_chain(praho_session).ok
