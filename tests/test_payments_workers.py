"""With a broker, a real Celery worker collects the run's invoices; duplicates charge nothing."""

import os
import signal
import textwrap

import pytest
from praho.core.app import create_app
from praho.core.billing_runner import run_in_process
from praho.core.models import Invoice, Payment, PaymentAttempt, PaymentStatus
from praho.core.payment_tasks import COLLECT_TASK
from praho.core.payments.testing import assert_ledger_balanced, customer_with_card
from praho.core.testing import (
    PrahoFactory,
    StaticTestPlugin,
    at,
    config_for_tests,
    start_worker_process,
    wait_until,
)
from sqlalchemy import func, select

RENEWAL = at("2026-02-28", 3)
REDIS_URL = os.environ.get("PRAHO_TEST_REDIS_URL")
QUEUE = "praho-test-payments"

WORKER = textwrap.dedent("""
    import sys
    from praho.core.app import create_app
    from praho.core.testing import StaticTestPlugin, config_for_tests

    url, broker, queue = sys.argv[1:4]
    app = create_app(config_for_tests(url, BROKER_URL=broker),
                     plugins=[("static_test", StaticTestPlugin())])
    celery = app.extensions["celery"]
    celery.worker_main(["worker", "--pool=solo", "--loglevel=INFO", "--without-gossip",
                        "--without-mingle", "--without-heartbeat", "-Q", queue])
""")


@pytest.mark.redis
@pytest.mark.slow
def test_workers_collect_the_run_and_a_duplicate_task_charges_nothing(praho_committing, tmp_path):
    if not REDIS_URL:
        pytest.skip("needs Redis: set PRAHO_TEST_REDIS_URL")
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        tokens = ["tok_success"] * 5 + ["tok_decline"]
        for token in tokens:
            factory.subscription(customer=customer_with_card(factory, token), start="2026-01-31")
    producer = create_app(config_for_tests(praho_committing.url, BROKER_URL=REDIS_URL),
                          plugins=[("static_test", StaticTestPlugin())])
    celery = producer.extensions["celery"]
    celery.conf.task_default_queue = QUEUE
    with celery.connection_for_write() as connection:
        connection.default_channel.queue_purge(QUEUE)
    with producer.app_context():
        run_in_process(praho_committing, now=RENEWAL, chunk_size=4)
    with praho_committing.transaction() as session:
        # Nothing was charged in the run's own process: it only dispatched tasks.
        assert session.execute(select(func.count()).select_from(PaymentAttempt)).scalar_one() == 0
        renewals = [i.id for i in session.execute(select(Invoice).where(
            Invoice.period_start == RENEWAL.date())).scalars()]
    assert len(renewals) == len(tokens)

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    worker = start_worker_process(script, [praho_committing.url, REDIS_URL, QUEUE],
                                  tmp_path / "worker.log")
    try:
        def attempts():
            with praho_committing.transaction() as session:
                return session.execute(select(func.count()).select_from(PaymentAttempt)).scalar_one()

        wait_until(lambda: attempts() == len(tokens), 120, "the worker to collect every invoice")
        # The broker delivers a collection task again: nothing more happens.
        celery.send_task(COLLECT_TASK, args=[renewals, RENEWAL.isoformat()], queue=QUEUE)
        marker = tmp_path / "worker.log"
        wait_until(lambda: marker.read_text().count("succeeded") >= 3, 60, "the duplicate to run")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        producer.extensions["praho.db"].dispose()
    with praho_committing.transaction() as session:
        found = session.execute(select(PaymentAttempt)).scalars().all()
        assert len(found) == len(tokens) and sorted(a.status for a in found) == \
            ["error"] + ["processed"] * 5
        assert session.execute(select(func.count()).select_from(Payment)).scalar_one() == 5
        paid = session.execute(select(func.count()).select_from(Invoice).where(
            Invoice.payment_status == PaymentStatus.PAID, Invoice.id.in_(renewals))).scalar_one()
        assert paid == 5
        assert_ledger_balanced(session)
