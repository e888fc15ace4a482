"""The installed ``praho`` console script against a brand-new embedded database."""

import json
import os
import subprocess
import sys


def run_praho(*args, cwd, env):
    return subprocess.run([sys.executable, "-m", "praho.core.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_db_upgrade_creates_a_working_embedded_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRAHO_")}
    env["PRAHO_INSTANCE_PATH"] = str(tmp_path / "instance")
    upgraded = run_praho("db", "upgrade", cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "instance" / "praho.db").exists()
    verified = run_praho("audit", "verify", cwd=tmp_path, env=env)
    assert verified.returncode == 0 and "audit chain intact" in verified.stdout
    listed = run_praho("invoice", "list", "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"
    downgraded = run_praho("db", "downgrade", "base", cwd=tmp_path, env=env)
    assert downgraded.returncode == 0, downgraded.stderr
    broken = run_praho("invoice", "show", "X", cwd=tmp_path, env=env)
    assert broken.returncode != 0


def _embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRAHO_")}
    env["PRAHO_INSTANCE_PATH"] = str(tmp_path / "instance")
    return env


def test_demo_creates_a_company_bills_it_and_chases_what_is_unpaid(tmp_path):
    env = _embedded_env(tmp_path)
    demo = run_praho("demo", "--date", "2026-03-31", cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stderr
    assert "4 subscriptions" in demo.stdout
    assert "billing run #1: {'issued': 4}" in demo.stdout
    assert "collection run:" in demo.stdout and "opened:succeeded" in demo.stdout
    listed = run_praho("invoice", "list", "--json", cwd=tmp_path, env=env)
    documents = json.loads(listed.stdout)
    # Subscriptions started a month earlier (28 Feb for 31 Mar: the short month's last day).
    assert {d["issue_date"] for d in documents} == {"2026-02-28", "2026-03-31"}
    statuses = {d["payment_status"] for d in documents if d["kind"] == "invoice"}
    assert {"paid", "unpaid", "partially_paid"} <= statuses
    verified = run_praho("audit", "verify", cwd=tmp_path, env=env)
    assert verified.returncode == 0 and "audit chain intact" in verified.stdout
    again = run_praho("demo", cwd=tmp_path, env=env)
    assert again.returncode == 0 and "already present" in again.stdout
    # The demo's proforma customer pays: the proforma becomes an invoice carrying the money.
    proforma = min(d["number"] for d in documents if d["kind"] == "proforma")
    refused = run_praho("invoice", "convert", proforma, "--bank-reference", "OP 7",
                        "--amount", "lots", cwd=tmp_path, env=env)
    assert refused.returncode != 0 and "not an amount" in refused.stderr
    converted = run_praho("invoice", "convert", proforma, "--bank-reference", "OP 7",
                          "--received-on", "2026-03-31", cwd=tmp_path, env=env)
    assert converted.returncode == 0, converted.stderr
    assert f"{proforma} -> invoice PRH2026-" in converted.stdout and "(paid)" in converted.stdout


def test_worker_and_beat_refuse_to_start_without_a_broker(tmp_path):
    env = _embedded_env(tmp_path)
    for command in ("worker", "beat"):
        started = run_praho(command, cwd=tmp_path, env=env)
        assert started.returncode != 0
        assert "PRAHO_BROKER_URL is not set" in started.stderr


def test_routes_lists_the_public_http_surfaces(tmp_path):
    routes = run_praho("routes", cwd=tmp_path, env=_embedded_env(tmp_path))
    assert routes.returncode == 0, routes.stderr
    for path in ("/healthz", "/webhooks/"):
        assert path in routes.stdout


def _wait_for_output(path, text, process, timeout=90):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise AssertionError(f"exited early: {path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.3)
    tail = path.read_text(errors="replace")[-2000:]
    raise AssertionError(f"no {text!r} within {timeout}s: {tail}")


def _start(command, tmp_path, env, log_name):
    log = open(tmp_path / log_name, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "praho.core.cli", *command], cwd=tmp_path,
                            env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(process):
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_praho_worker_runs_tasks_and_praho_beat_starts_with_the_schedule(tmp_path):
    import pytest

    redis_url = os.environ.get("PRAHO_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("needs Redis: set PRAHO_TEST_REDIS_URL")
    env = {**_embedded_env(tmp_path), "PRAHO_BROKER_URL": redis_url}
    assert run_praho("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    queue = "praho-test-console"
    worker = _start(["worker", "--pool=solo", "-Q", queue, "--without-gossip",
                     "--without-mingle"], tmp_path, env, "worker.log")
    beat = _start(["beat", "--schedule", str(tmp_path / "beat-schedule"), "--max-interval",
                   "1"], tmp_path, env, "beat.log")
    try:
        _wait_for_output(tmp_path / "worker.log", "ready.", worker)
        # The nightly billing run, sent by hand to this worker's queue, runs in the worker.
        send = (
            "from praho.core.app import create_app\n"
            "app = create_app()\n"
            "celery = app.extensions['celery']\n"
            f"celery.send_task('praho.billing.run', args=['2026-03-31'], queue={queue!r})\n"
        )
        sent = subprocess.run([sys.executable, "-c", send], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert sent.returncode == 0, sent.stderr
        _wait_for_output(tmp_path / "worker.log", "praho.billing.run", worker)
        _wait_for_output(tmp_path / "worker.log", "succeeded", worker)
        _wait_for_output(tmp_path / "beat.log", "beat: Starting", beat)
        status = run_praho("billing", "status", "--json", cwd=tmp_path, env=env)
    finally:
        _stop(worker)
        _stop(beat)
    assert status.returncode == 0, status.stderr
    run = json.loads(status.stdout)
    assert (run["run_date"], run["status"], run["due"]) == ("2026-03-31", "completed", 0)
