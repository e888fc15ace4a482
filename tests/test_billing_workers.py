"""Billing under stress: concurrent runs, and a real Celery worker killed in the middle of a chunk.

Whatever happens, every due subscription-period ends up with exactly one document, the
numbers stay gapless and every document has its one ledger entry.
"""

import os
import signal
import textwrap
import threading
from datetime import date

import pytest
from praho.core.app import create_app
from praho.core.billing_runner import run_in_process, start_run
from praho.core.billing_tasks import CHUNK_TASK
from praho.core.models import (
    AuditEvent,
    BillingRun,
    BillingRunChunk,
    Invoice,
    JournalEntry,
    Subscription,
    SubscriptionPeriod,
)
from praho.core.services import ledger
from praho.core.services.audit import verify_audit_chain
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
from sqlalchemy import func, select

RENEWAL = at("2026-02-28", 3)
REDIS_URL = os.environ.get("PRAHO_TEST_REDIS_URL")


def _subscriptions(database, count):
    with database.transaction() as session:
        factory = PrahoFactory(session)
        price = factory.price()
        customer = factory.customer()
        return [
            factory.subscription(price, customer=customer, start="2026-01-31").id
            for _ in range(count)
        ]


def assert_billed_exactly_once(database, subscription_ids, periods_each):
    """One document per subscription-period, gapless numbers, one entry per document."""
    with database.transaction() as session:
        invoices = session.execute(select(Invoice)).scalars().all()
        claims = session.execute(
            select(SubscriptionPeriod.subscription_id, SubscriptionPeriod.period_start)
        ).all()
        assert len(claims) == len(set(claims)) == len(subscription_ids) * periods_each
        per_period = {(i.subscription_id, i.period_start) for i in invoices}
        assert len(per_period) == len(invoices) == len(claims)
        assert sorted(i.number for i in invoices) == list(range(1, len(invoices) + 1))
        assert session.execute(select(func.count(JournalEntry.id))).scalar_one() == len(invoices)
        assert ledger.unbalanced_currencies(ledger.trial_balance(session).items()) == {}
        issued_events = select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "invoice.issued"
        )
        assert session.execute(issued_events).scalar_one() == len(invoices)
        assert verify_audit_chain(session).ok
        due = session.execute(
            select(Subscription.next_billing_date).where(Subscription.id.in_(subscription_ids))
        )
        assert set(due.scalars()) == {date(2026, 3, 31)}


@pytest.mark.postgres
@pytest.mark.slow
def test_two_concurrent_runs_issue_each_document_once(praho_app, praho_committing):
    ids = _subscriptions(praho_committing, 120)
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            with praho_app.app_context():
                barrier.wait()
                run_in_process(praho_committing, now=RENEWAL, chunk_size=10)
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors
    assert_billed_exactly_once(praho_committing, ids, periods_each=2)
    with praho_committing.transaction() as session:
        runs = session.execute(select(BillingRun)).scalars().all()
        assert len(runs) == 2 and all(r.finished_at for r in runs)
        assert sum(r.summary["counts"].get("issued", 0) for r in runs) == len(ids)
        # Both runs saw every subscription due: what one billed, the other skipped.
        assert all(r.subscriptions_due == len(ids) for r in runs)
        assert sum(sum(r.summary["counts"].values()) for r in runs) == 2 * len(ids)


WORKER = textwrap.dedent("""
    import os, sys, time
    from praho.core.app import create_app
    from praho.core.hookspecs import hookimpl
    from praho.core.testing import StaticTestPlugin, config_for_tests

    url, broker, marker, crash_at = sys.argv[1:5]

    class CrashOnce:
        # Stops dead in the middle of a chunk, the first time only.
        def _maybe_stop(self, where):
            if crash_at == where and not os.path.exists(marker + ".done"):
                open(marker, "w").write(str(os.getpid()))
                open(marker + ".done", "w").close()
                time.sleep(600)

        @hookimpl
        def collect_renewal_charges(self, subscription):
            if subscription.id % 7 == 3:
                self._maybe_stop("prepare")
            return []

        issued_here = 0

        @hookimpl
        def invoice_issued(self, invoice):
            CrashOnce.issued_here += 1
            if invoice.subscription_id and invoice.subscription_id % 7 == 3:
                self._maybe_stop("write")
            # Mid-way through this process's second chunk: it has committed one already.
            if CrashOnce.issued_here == 15:
                self._maybe_stop("second_chunk")

    app = create_app(config_for_tests(url, BROKER_URL=broker),
                     plugins=[("static_test", StaticTestPlugin()), ("crash", CrashOnce())])
    celery = app.extensions["celery"]
    celery.conf.broker_transport_options = {"visibility_timeout": 3, "unacked_restore_interval": 1,
                                            "unacked_restore_throttle": 1}
    celery.worker_main(["worker", "--pool=solo", "--loglevel=INFO", "--without-gossip",
                        "--hostname", f"w{os.getpid()}@%h",
                        "--without-mingle", "--without-heartbeat", "-Q", "praho-test-billing"])
""")


def _start_worker(tmp_path, url, marker, crash_at, log_name):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    args = [url, REDIS_URL, str(marker), crash_at]
    return start_worker_process(script, args, tmp_path / log_name)


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.parametrize("crash_at", ["prepare", "write"])
def test_worker_killed_mid_chunk_then_rerun_gives_zero_duplicates(
    praho_committing, tmp_path, crash_at
):
    if not REDIS_URL:
        pytest.skip("needs Redis: set PRAHO_TEST_REDIS_URL")
    ids = _subscriptions(praho_committing, 40)
    producer = create_app(
        config_for_tests(praho_committing.url, BROKER_URL=REDIS_URL),
        plugins=[("static_test", StaticTestPlugin())],
    )
    celery = producer.extensions["celery"]
    with celery.connection_for_write() as connection:
        connection.default_channel.queue_purge("praho-test-billing")
    run_id, chunk_ids = start_run(praho_committing, now=RENEWAL, chunk_size=10)
    marker = tmp_path / "stopped"
    worker = _start_worker(tmp_path, praho_committing.url, marker, crash_at, "worker1.log")
    replacement = None
    try:
        for chunk_id in chunk_ids:
            celery.send_task(CHUNK_TASK, args=[chunk_id], queue="praho-test-billing")
        wait_until(marker.exists, 120, "the worker to reach the crash point")
        # Some chunks may be committed already; the one in flight is not.
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        with praho_committing.transaction() as session:
            half_done = session.execute(select(func.count(Invoice.id))).scalar_one()
        assert len(ids) <= half_done < 2 * len(ids)
        replacement = _start_worker(tmp_path, praho_committing.url, marker, crash_at, "worker2.log")

        def finished():
            with praho_committing.transaction() as session:
                return session.get(BillingRun, run_id).finished_at is not None

        wait_until(finished, 180, "the redelivered chunk to be billed")
    finally:
        stop_worker_processes((worker, replacement))
    assert_billed_exactly_once(praho_committing, ids, periods_each=2)
    # And a complete rerun afterwards finds nothing left to bill.
    with producer.app_context():
        rerun = run_in_process(praho_committing, now=RENEWAL, chunk_size=10)
    with praho_committing.transaction() as session:
        assert session.get(BillingRun, rerun).subscriptions_due == 0
        summary = session.get(BillingRun, run_id).summary
    assert summary["counts"] == {"issued": len(ids)}
    assert_billed_exactly_once(praho_committing, ids, periods_each=2)
    producer.extensions["praho.db"].dispose()


@pytest.mark.redis
@pytest.mark.slow
def test_two_workers_split_the_run_and_survive_one_being_killed(praho_committing, tmp_path):
    """Two real worker processes share the chunks; one dies mid-chunk, the other finishes."""
    if not REDIS_URL:
        pytest.skip("needs Redis: set PRAHO_TEST_REDIS_URL")
    ids = _subscriptions(praho_committing, 80)
    producer = create_app(
        config_for_tests(praho_committing.url, BROKER_URL=REDIS_URL),
        plugins=[("static_test", StaticTestPlugin())],
    )
    celery = producer.extensions["celery"]
    with celery.connection_for_write() as connection:
        connection.default_channel.queue_purge("praho-test-billing")
    run_id, chunk_ids = start_run(praho_committing, now=RENEWAL, chunk_size=10)
    marker = tmp_path / "stopped"
    workers = [
        _start_worker(tmp_path, praho_committing.url, marker, "second_chunk", f"worker{n}.log")
        for n in (1, 2)
    ]
    try:
        wait_until(lambda: all(worker_ready(tmp_path / f"worker{n}.log") for n in (1, 2)), 120,
              "both workers to be ready")
        for chunk_id in chunk_ids:
            celery.send_task(CHUNK_TASK, args=[chunk_id], queue="praho-test-billing")
        wait_until(marker.exists, 120, "one worker to reach the crash point")
        killed_pid = int(marker.read_text())
        killed = next(w for w in workers if w.pid == killed_pid)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
        survivor = next(w for w in workers if w.pid != killed_pid)

        def finished():
            with praho_committing.transaction() as session:
                return session.get(BillingRun, run_id).finished_at is not None

        wait_until(finished, 240, "the survivor to finish the run, redelivered chunk included")
    finally:
        stop_worker_processes(workers)
    assert_billed_exactly_once(praho_committing, ids, periods_each=2)
    with praho_committing.transaction() as session:
        chunk_workers = session.execute(
            select(BillingRunChunk.worker).where(BillingRunChunk.billing_run_id == run_id)
        ).scalars().all()
        summary = session.get(BillingRun, run_id).summary
    pids = {int(name.rsplit(":", 1)[1]) for name in chunk_workers}
    # The work was split: the killed worker had committed a chunk before it died, and the
    # survivor did the rest, including the chunk that was in flight.
    assert pids == {killed_pid, survivor.pid}
    assert summary["counts"] == {"issued": len(ids)}
    producer.extensions["praho.db"].dispose()
