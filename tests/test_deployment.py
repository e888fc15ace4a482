"""The production entry point runs under a real gunicorn and answers /healthz."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _serve(tmp_path, env_overrides):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRAHO_")}
    env.update({"PRAHO_INSTANCE_PATH": str(tmp_path),
                "PRAHO_DATABASE_URL": f"sqlite:///{tmp_path}/praho.db", **env_overrides})
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
         "praho.core.wsgi:app"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            if process.poll() is not None:
                raise AssertionError(process.stdout.read().decode())
            time.sleep(0.2)
    process.kill()
    raise AssertionError("gunicorn did not start")


def _stop(process):
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_gunicorn_serves_the_wsgi_app_and_healthz_reports_eager_mode(tmp_path):
    process, base = _serve(tmp_path, {})
    try:
        status, body = _get(base + "/healthz")
    finally:
        _stop(process)
    assert status == 200
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("eager")


def test_healthz_is_503_when_the_broker_is_down_and_leaks_no_url(tmp_path):
    # Nothing listens on port 9: the broker check fails, the database check passes.
    broker = "redis://:s3cretpass@127.0.0.1:9/0"
    process, base = _serve(tmp_path, {"PRAHO_BROKER_URL": broker})
    try:
        status, body = _get(base + "/healthz")
    finally:
        _stop(process)
    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"] == "ok"
    assert "s3cretpass" not in json.dumps(body) and "127.0.0.1:9" not in json.dumps(body)


@pytest.mark.redis
def test_healthz_checks_a_real_redis_broker(tmp_path):
    redis_url = os.environ.get("PRAHO_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("needs Redis: set PRAHO_TEST_REDIS_URL")
    process, base = _serve(tmp_path, {"PRAHO_BROKER_URL": redis_url})
    try:
        status, body = _get(base + "/healthz")
    finally:
        _stop(process)
    assert status == 200 and body["checks"]["broker"] == "ok"
