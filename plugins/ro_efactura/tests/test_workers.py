"""e-Factura uploads fan out to real Celery workers: split between them, each document once."""

from __future__ import annotations

import json
import os
import textwrap

import pytest
from praho.core.app import create_app
from praho.core.testing import (
    StaticTestPlugin,
    config_for_tests,
    start_worker_process,
    stop_worker_processes,
    wait_until,
    worker_ready,
)
from praho.plugins.ro_efactura.models import EfacturaSubmission, SubmissionState
from praho.plugins.ro_efactura.tasks import SUBMIT_TASK
from praho.plugins.ro_efactura.tests import scenarios
from praho.plugins.ro_efactura.tests.conftest import TOKEN_KEY, ReverseChargeTestRegime
from sqlalchemy import func, select

REDIS_URL = os.environ.get("PRAHO_TEST_REDIS_URL")
QUEUE = "praho-test-efactura"
DOCUMENTS = 40

WORKER = textwrap.dedent("""
    import json, sys
    from praho.core.app import create_app
    from praho.core.testing import StaticTestPlugin, config_for_tests
    from praho.plugins.ro_efactura.tests.conftest import ReverseChargeTestRegime

    url, broker, settings, queue = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
    app = create_app(config_for_tests(url, BROKER_URL=broker, EFACTURA=settings),
                     plugins=[("static_test", StaticTestPlugin(regime=ReverseChargeTestRegime()))])
    celery = app.extensions["celery"]
    # Tasks sent from inside a worker (the upload batches) go to the test's queue too.
    celery.conf.task_default_queue = queue
    celery.worker_main(["worker", "--pool=solo", "--loglevel=INFO", "--without-gossip",
                        "--without-mingle", "--without-heartbeat", "-Q", queue,
                        "--hostname", f"efactura{sys.argv[5]}@%h"])
""")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_two_workers_share_the_uploads_and_send_each_document_once(
    praho_committing, committed, authorized, anaf, tmp_path
):
    if not REDIS_URL:
        pytest.skip("needs Redis: set PRAHO_TEST_REDIS_URL")
    for _ in range(DOCUMENTS):
        committed(scenarios.domestic_21)
    settings = anaf.settings(TOKEN_KEY)
    producer = create_app(
        config_for_tests(praho_committing.url, BROKER_URL=REDIS_URL, EFACTURA=settings),
        plugins=[("static_test", StaticTestPlugin(regime=ReverseChargeTestRegime()))],
    )
    celery = producer.extensions["celery"]
    with celery.connection_for_write() as connection:
        connection.default_channel.queue_purge(QUEUE)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    logs = [tmp_path / f"worker{n}.log" for n in (1, 2)]
    workers = [
        start_worker_process(
            script,
            [praho_committing.url, REDIS_URL, json.dumps(settings), QUEUE, str(n)],
            log,
        )
        for n, log in enumerate(logs, start=1)
    ]
    try:
        wait_until(lambda: all(worker_ready(log) for log in logs), 120,
              "both workers to be ready")
        celery.send_task(SUBMIT_TASK, queue=QUEUE)

        def uploaded() -> bool:
            with praho_committing.transaction() as session:
                waiting = session.execute(select(func.count(EfacturaSubmission.id)).where(
                    EfacturaSubmission.state == SubmissionState.PENDING)).scalar_one()
            return waiting == 0

        wait_until(uploaded, 180, "every pending submission to be uploaded")
        wait_until(lambda: _batches_done(logs) == DOCUMENTS // 10, 60, "the batch tasks to finish")
    finally:
        stop_worker_processes(workers)
        producer.extensions["praho.db"].dispose()
    # Each document reached ANAF once, and both workers uploaded some of them.
    assert len(anaf.state.uploads) == DOCUMENTS
    per_worker = [_succeeded_batches(log) for log in logs]
    assert sum(per_worker) == DOCUMENTS // 10
    assert all(count >= 1 for count in per_worker), per_worker
    with praho_committing.transaction() as session:
        attempts = session.execute(select(EfacturaSubmission.attempts)).scalars().all()
    assert attempts == [1] * DOCUMENTS


def _succeeded_batches(log) -> int:
    return sum(1 for line in log.read_text().splitlines()
               if "praho.efactura.upload_batch" in line and "succeeded" in line)


def _batches_done(logs) -> int:
    return sum(_succeeded_batches(log) for log in logs)


