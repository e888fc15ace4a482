"""With a broker: the hook's task goes through Redis to a real Celery worker after commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from praho.core.app import create_app
from praho.core.testing import PrahoFactory, StaticTestPlugin, config_for_tests
from praho.plugins.virtualmin.models import ActionStatus, VirtualminAction
from praho.plugins.virtualmin.tests.conftest import PASSWORD_ENV, write_virtualmin_manifest
from sqlalchemy import select

REDIS_URL = os.environ.get("PRAHO_TEST_REDIS_URL")
WORKER = textwrap.dedent("""
    import sys
    from praho.core.app import create_app
    from praho.core.testing import StaticTestPlugin, config_for_tests

    url, broker, manifest = sys.argv[1:4]
    app = create_app(config_for_tests(url, BROKER_URL=broker, PLUGIN_MANIFEST=manifest,
                                      LOAD_ENTRY_POINTS=False),
                     plugins=[("static_test", StaticTestPlugin())])
    app.extensions["celery"].worker_main(["worker", "--pool=solo", "--loglevel=INFO",
                                          "--without-gossip", "--without-mingle",
                                          "--without-heartbeat", "-Q", "celery"])
""")


@pytest.mark.redis
@pytest.mark.slow
def test_actions_reach_a_real_worker_through_the_broker(praho_committing, standin, vm_settings,
                                                        tmp_path, monkeypatch):
    if not REDIS_URL:
        pytest.skip("needs Redis: set PRAHO_TEST_REDIS_URL")
    monkeypatch.setenv(PASSWORD_ENV, standin.password)
    manifest = write_virtualmin_manifest(tmp_path, vm_settings, {"HOST-PRO": "Pro"})
    config = config_for_tests(praho_committing.url, BROKER_URL=REDIS_URL,
                              PLUGIN_MANIFEST=str(manifest), LOAD_ENTRY_POINTS=False)
    producer = create_app(config, plugins=[("static_test", StaticTestPlugin())])
    with producer.extensions["celery"].connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")
    database = producer.extensions["praho.db"]

    with producer.app_context(), database.transaction() as session:
        factory = PrahoFactory(session)
        price = factory.price(factory.product(code="HOST-PRO"))
        sub_id = factory.subscription(price, start="2026-03-01",
                                      attributes={"domain": "queued.ro"}).id
    # Committed, and nothing called yet: the task waits in Redis for a worker.
    assert standin.calls == []

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed with the process
    worker = subprocess.Popen(
        [sys.executable, str(script), praho_committing.url, REDIS_URL, str(manifest)],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True,
        env={**os.environ, PASSWORD_ENV: standin.password})
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline:
            with database.transaction() as session:
                status = session.execute(select(VirtualminAction.status).where(
                    VirtualminAction.subscription_id == sub_id)).scalar_one()
            if status == ActionStatus.SUCCEEDED:
                break
            time.sleep(0.3)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        log.close()
        database.dispose()
    assert status == ActionStatus.SUCCEEDED, (tmp_path / "worker.log").read_text()[-2000:]
    assert standin.programs_called() == ["create-domain"]
    assert standin.domains["queued.ro"].description == f"PRAHO subscription {sub_id}"
