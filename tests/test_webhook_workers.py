"""Webhook deliveries answered by the web app and applied by two real Celery workers.

The app records each delivery and wakes the workers through Redis; one worker is killed
while it holds a batch (its transaction is rolled back by PostgreSQL and its task is
redelivered). Every event is still applied exactly once: one dispute per event, every
event processed, the audit chain intact.
"""

import hashlib
import hmac
import importlib.util
import json
import os
import signal
import textwrap
import time

import pytest
from praho.core.app import create_app
from praho.core.models import Dispute, WebhookEvent
from praho.core.services.audit import verify_audit_chain
from praho.core.testing import (
    StaticTestPlugin,
    config_for_tests,
    start_worker_process,
    stop_worker_processes,
    wait_until,
    worker_ready,
)
from sqlalchemy import func, select

REDIS_URL = os.environ.get("PRAHO_TEST_REDIS_URL")
QUEUE = "praho-test-webhooks"
EVENTS = 120
SECRET = "worker-test-secret"
STOP_AT = "dp_40"  # the worker that applies this event stops there, holding its batch

# Shared by the web app (verify, parse) and the workers (apply): written next to the
# worker script so both import the same source.
SOURCE = textwrap.dedent("""
    import hashlib, hmac, os, time
    from datetime import UTC, datetime
    from praho.core.hookspecs import hookimpl
    from praho.core.models.disputes import DisputeStatus
    from praho.core.services.disputes import DisputeReport, record_dispute
    from praho.core.webhooks.source import ParsedEvent, WebhookRejected
    from praho.core.webhooks.verification import check_timestamp, parse_json_body

    class WorkerSource:
        id = "workersrc"

        def __init__(self, secret, marker=None, stop_at=None):
            self.secret, self.marker, self.stop_at = secret, marker, stop_at

        def verify(self, headers, body, now):
            stamp, _, signature = (headers.get("X-Sig") or "").partition(".")
            expected = hmac.new(self.secret.encode(), stamp.encode() + b"." + body,
                                hashlib.sha256).hexdigest()
            if not stamp.isdigit() or not hmac.compare_digest(expected, signature):
                raise WebhookRejected("signature mismatch")
            check_timestamp(datetime.fromtimestamp(int(stamp), UTC), now, window_seconds=180)

        def parse(self, body):
            document = parse_json_body(body)
            return ParsedEvent(document["id"], document["type"], None, document)

        def handlers(self):
            return {"dispute.opened": self.apply}

        def apply(self, session, event, now):
            ref = event.payload["ref"]
            record_dispute(session, DisputeReport("workersrc", ref, None, 1000, "RON",
                                                  DisputeStatus.OPEN), now=now)
            if ref == self.stop_at and not os.path.exists(self.marker + ".done"):
                open(self.marker, "w").write(str(os.getpid()))
                open(self.marker + ".done", "w").close()
                time.sleep(600)

    class SourcePlugin:
        def __init__(self, source):
            self.source = source

        @hookimpl
        def register_webhook_sources(self):
            return [self.source]
""")

WORKER = textwrap.dedent("""
    import os, sys
    from praho.core.app import create_app
    from praho.core.testing import StaticTestPlugin, config_for_tests
    from worker_source import SourcePlugin, WorkerSource

    url, broker, marker, stop_at, secret, queue = sys.argv[1:7]
    source = WorkerSource(secret, marker, stop_at)
    app = create_app(config_for_tests(url, BROKER_URL=broker),
                     plugins=[("static_test", StaticTestPlugin()), ("src", SourcePlugin(source))])
    celery = app.extensions["celery"]
    celery.conf.task_default_queue = queue
    celery.conf.broker_transport_options = {"visibility_timeout": 3, "unacked_restore_interval": 1,
                                            "unacked_restore_throttle": 1}
    celery.worker_main(["worker", "--pool=solo", "--loglevel=INFO", "--without-gossip",
                        "--hostname", f"w{os.getpid()}@%h",
                        "--without-mingle", "--without-heartbeat", "-Q", queue])
""")


def _load_source(path):
    spec = importlib.util.spec_from_file_location("worker_source", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _delivery(number):
    body = json.dumps({"id": f"ev_{number}", "type": "dispute.opened",
                       "ref": f"dp_{number}"}).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return body, {"X-Sig": f"{stamp}.{digest}"}


@pytest.mark.redis
@pytest.mark.slow
def test_workers_apply_recorded_deliveries_once_even_when_one_is_killed(
    praho_committing, tmp_path
):
    if not REDIS_URL:
        pytest.skip("needs Redis: set PRAHO_TEST_REDIS_URL")
    (tmp_path / "worker_source.py").write_text(SOURCE)
    script = tmp_path / "webhook_worker.py"
    script.write_text(WORKER)
    shared = _load_source(tmp_path / "worker_source.py")
    web = create_app(
        config_for_tests(praho_committing.url, BROKER_URL=REDIS_URL),
        plugins=[("static_test", StaticTestPlugin()),
                 ("src", shared.SourcePlugin(shared.WorkerSource(SECRET)))],
    )
    celery = web.extensions["celery"]
    celery.conf.task_default_queue = QUEUE
    with celery.connection_for_write() as connection:
        connection.default_channel.queue_purge(QUEUE)
    marker = tmp_path / "stopped"
    args = [praho_committing.url, REDIS_URL, str(marker), STOP_AT, SECRET, QUEUE]
    workers = [start_worker_process(script, args, tmp_path / f"w{n}.log") for n in (1, 2)]
    try:
        wait_until(lambda: all(worker_ready(tmp_path / f"w{n}.log") for n in (1, 2)), 120,
                   "both workers")
        client = web.test_client()
        for number in range(EVENTS):
            body, headers = _delivery(number)
            answer = client.post("/webhooks/workersrc", data=body, headers=headers)
            assert answer.status_code == 200 and answer.json["status"] == "received"
        wait_until(marker.exists, 120, "a worker to stop inside a batch")
        stopped = int(marker.read_text())
        killed = next(w for w in workers if w.pid == stopped)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)

        def all_applied():
            with praho_committing.transaction() as session:
                waiting = session.scalar(
                    select(func.count()).select_from(WebhookEvent)
                    .where(WebhookEvent.status != "processed")
                )
                return waiting == 0

        # The killed worker's task comes back to the survivor (acks late).
        wait_until(all_applied, 120, "the survivor to apply the killed worker's batch")
    finally:
        stop_worker_processes(workers)
    with praho_committing.transaction() as session:
        refs = session.execute(select(Dispute.gateway_reference)).scalars().all()
        assert sorted(refs) == sorted(f"dp_{n}" for n in range(EVENTS))  # once each
        attempts = session.execute(select(WebhookEvent.attempts)).scalars().all()
        assert set(attempts) == {1}  # the killed batch left no trace, not even an attempt
        assert verify_audit_chain(session).ok
    survivor_log = next(
        (tmp_path / f"w{n}.log").read_text() for n, w in zip((1, 2), workers, strict=True)
        if w.pid != stopped
    )
    assert "praho.webhooks.apply_received" in survivor_log
