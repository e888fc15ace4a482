"""The collection run fanned out to two real Celery workers, one killed mid-chunk.

Half the customers have a card that declines, so the chunk in flight has committed
retries when its worker dies. Whatever happens, every overdue subscription is suspended
once, every invoice is charged once, every case step is recorded once, and the run
closes with a summary counting each step once.
"""

import os
import signal
import textwrap
from collections import Counter

import pytest
from praho.core.app import create_app
from praho.core.models import (
    CollectionAction,
    CollectionRun,
    CollectionRunChunk,
    DunningCase,
    EmailMessage,
    PaymentAttempt,
    Subscription,
    SubscriptionEvent,
)
from praho.core.payments.testing import customer_with_card
from praho.core.services.collections import run_collections
from praho.core.testing import (
    PrahoFactory,
    StaticTestPlugin,
    at,
    config_for_tests,
    start_worker_process,
    stop_worker_processes,
    wait_until,
    worker_ready,
)
from praho.plugins.receivables.runner import start_run
from praho.plugins.receivables.tasks import CHUNK_TASK
from sqlalchemy import func, select

REDIS_URL = os.environ.get("PRAHO_TEST_REDIS_URL")
QUEUE = "praho-test-collections"
CUSTOMERS = 24
CARDS = CUSTOMERS // 2
CHUNK = 4

WORKER = (
    textwrap.dedent("""
    import os, sys, time
    from praho.core.app import create_app
    from praho.core.hookspecs import hookimpl
    from praho.core.testing import StaticTestPlugin, config_for_tests

    url, broker, marker = sys.argv[1:4]

    class CrashOnce:
        suspended_here = 0

        @hookimpl
        def subscription_suspended(self, subscription):
            CrashOnce.suspended_here += 1
            # Mid-way through this process's second chunk: it has committed one already.
            if CrashOnce.suspended_here == CHUNK + 2 and not os.path.exists(marker + ".done"):
                open(marker, "w").write(str(os.getpid()))
                open(marker + ".done", "w").close()
                time.sleep(600)

    app = create_app(config_for_tests(url, BROKER_URL=broker),
                     plugins=[("static_test", StaticTestPlugin()), ("crash", CrashOnce())])
    celery = app.extensions["celery"]
    celery.conf.broker_transport_options = {"visibility_timeout": 3, "unacked_restore_interval": 1,
                                            "unacked_restore_throttle": 1}
    celery.worker_main(["worker", "--pool=solo", "--loglevel=INFO", "--without-gossip",
                        "--hostname", f"w{os.getpid()}@%h",
                        "--without-mingle", "--without-heartbeat", "-Q", QUEUE])
""")
    .replace("CHUNK + 2", str(CHUNK + 2))
    .replace("QUEUE]", repr(QUEUE) + "]")
)


def _overdue_cases(database):
    """CUSTOMERS customers whose first invoice (due 13 February) is unpaid, every other one
    with a card that declines, their cases opened by the run of 14 February."""
    with database.transaction() as session:
        factory = PrahoFactory(session)
        price = factory.price()
        ids = []
        for n in range(CUSTOMERS):
            customer = customer_with_card(factory, "tok_decline") if n % 2 else None
            subscription = factory.subscription(
                price, customer=customer, start="2026-01-30", now=at("2026-01-30", 9)
            )
            ids.append(subscription.id)
        run_collections(session, now=at("2026-02-14", 12))
        assert session.execute(select(func.count(DunningCase.id))).scalar_one() == CUSTOMERS
        return ids


def _start_worker(tmp_path, url, marker, log_name):
    script = tmp_path / "collections_worker.py"
    script.write_text(WORKER)
    return start_worker_process(script, [url, REDIS_URL, str(marker)], tmp_path / log_name)


@pytest.mark.redis
@pytest.mark.slow
def test_two_workers_split_the_collection_run_and_survive_one_being_killed(
    praho_committing, tmp_path
):
    if not REDIS_URL:
        pytest.skip("needs Redis: set PRAHO_TEST_REDIS_URL")
    subscription_ids = _overdue_cases(praho_committing)
    producer = create_app(
        config_for_tests(praho_committing.url, BROKER_URL=REDIS_URL),
        plugins=[("static_test", StaticTestPlugin())],
    )
    celery = producer.extensions["celery"]
    with celery.connection_for_write() as connection:
        connection.default_channel.queue_purge(QUEUE)
    # 14 days after the due date the default policy suspends: every case does it today.
    with producer.app_context():
        run_id, chunk_ids = start_run(praho_committing, now=at("2026-02-28", 12), chunk_size=CHUNK)
    assert len(chunk_ids) == CUSTOMERS // CHUNK
    marker = tmp_path / "stopped"
    workers = [_start_worker(tmp_path, praho_committing.url, marker, f"w{n}.log") for n in (1, 2)]
    try:
        wait_until(
            lambda: all(worker_ready(tmp_path / f"w{n}.log") for n in (1, 2)), 120, "both workers"
        )
        for chunk_id in chunk_ids:
            celery.send_task(CHUNK_TASK, args=[chunk_id], queue=QUEUE)
        wait_until(marker.exists, 120, "one worker to reach the crash point")
        killed_pid = int(marker.read_text())
        killed = next(w for w in workers if w.pid == killed_pid)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
        survivor = next(w for w in workers if w.pid != killed_pid)

        def finished():
            with praho_committing.transaction() as session:
                return session.get(CollectionRun, run_id).finished_at is not None

        wait_until(finished, 240, "the survivor to finish the run, redelivered chunk included")
    finally:
        stop_worker_processes(workers)
    with praho_committing.transaction() as session:
        statuses = (
            session.execute(
                select(Subscription.status).where(Subscription.id.in_(subscription_ids))
            )
            .scalars()
            .all()
        )
        assert set(statuses) == {"suspended"}
        suspensions = (
            session.execute(
                select(SubscriptionEvent.subscription_id).where(
                    SubscriptionEvent.to_status == "suspended"
                )
            )
            .scalars()
            .all()
        )
        assert sorted(suspensions) == sorted(subscription_ids)  # once each
        steps = Counter(
            tuple(row)
            for row in session.execute(
                select(CollectionAction.case_id, CollectionAction.step_key).where(
                    CollectionAction.run_id == run_id
                )
            )
        )
        assert steps and set(steps.values()) == {1}  # every step of every case once
        per_key = Counter(key for _case, key in steps)
        # Card customers: today's retry (declined); bank-transfer customers: the reminder
        # due since 15 February; everyone: the suspension and its e-mail.
        assert per_key["retry:1"] == CARDS and per_key["email:step:1"] >= CUSTOMERS - CARDS
        assert per_key["suspended"] == per_key["email:suspended"] == CUSTOMERS
        # A retry commits before its charge: the chunk in flight when the worker died had
        # committed some, and its redelivery charged no invoice a second time.
        charged = Counter(session.execute(select(PaymentAttempt.invoice_id)).scalars())
        assert len(charged) == CARDS and set(charged.values()) == {1}
        # A worker killed between the gateway's answer and its commit leaves that attempt
        # "unknown" (settled later by asking the gateway) and its retry step pending:
        # never a second charge.
        statuses = Counter(str(s) for s in session.execute(select(PaymentAttempt.status)).scalars())
        assert statuses["error"] + statuses["unknown"] == CARDS and statuses["unknown"] <= 1
        unsettled = statuses["unknown"]
        keys = session.execute(select(EmailMessage.key)).scalars().all()
        assert len(keys) == len(set(keys))
        run_actions = Counter(
            f"{a.kind}:{a.outcome}"
            for a in session.execute(
                select(CollectionAction).where(CollectionAction.run_id == run_id)
            ).scalars()
        )
        chunk_workers = (
            session.execute(
                select(CollectionRunChunk.worker).where(
                    CollectionRunChunk.collection_run_id == run_id
                )
            )
            .scalars()
            .all()
        )
        summary = session.get(CollectionRun, run_id).summary
    pids = {int(name.rsplit(":", 1)[1]) for name in chunk_workers}
    # The work was split: the killed worker had committed a chunk before it died, and the
    # survivor did the rest, including the chunk that was in flight.
    assert pids == {killed_pid, survivor.pid}
    assert summary["counts"] == dict(sorted(run_actions.items()))
    assert summary["counts"]["suspend:succeeded"] == CUSTOMERS
    assert summary["tried"] == CARDS and summary["succeeded"] == 0
    assert summary["chunks"] == len(chunk_ids)
    # The declined retries are the run's only failures, each listed once.
    assert sorted(f["step"] for f in summary["failed"]) == ["retry:1"] * (CARDS - unsettled)
    producer.extensions["praho.db"].dispose()
