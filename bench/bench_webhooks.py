"""Benchmark: signed Stripe webhooks through gunicorn (2 workers) on PostgreSQL.

    .venv/bin/python bench/bench_webhooks.py --seconds 20 --write-docs

Builds a fresh database (``praho_bench_webhooks``) from the migrations, starts gunicorn with
two sync workers serving the real application plus one bare Flask endpoint on the same
server, and drives it with keep-alive HTTP clients for three phases of ``--seconds`` each:

* ``bare``: ``POST /bench/bare`` with the same body (Flask + gunicorn, no PRAHO work);
* ``new``: unique ``charge.dispute.created`` events, each verified (HMAC, replay window),
  parsed, recorded once (``INSERT ... ON CONFLICT DO NOTHING``), applied (a dispute row
  and its audit event, sealed into the audit chain) and committed;
* ``dup``: the same events delivered again: verified, found recorded, acknowledged.

Reported per phase: requests/s, p50 and p99 latency (client side), and at the end the
row counts proving every new event was applied exactly once. The target is 1,000
events/s. With ``--write-docs`` a section is appended to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "PRAHO_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres"
)
DATABASE = "praho_bench_webhooks"
SECRET = "whsec_bench_0123456789abcdefghijklmnop"
BODY_PAD = 1200  # Stripe dispute events are 2-3 KB


def bench_app() -> Any:
    """The application gunicorn serves: PRAHO plus a bare endpoint (gunicorn factory call)."""
    from flask import request
    from praho.core.app import create_app

    app = create_app()

    @app.post("/bench/bare")
    def bare() -> Any:
        request.get_data()
        return {"received": True}

    return app


def url_for(name: str) -> str:
    """The SQLAlchemy URL of a database on the benchmark server."""
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def fresh_database() -> str:
    """Drop and recreate the benchmark database, migrated and with reference data."""
    from sqlalchemy import create_engine, text

    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {DATABASE}"))
    engine.dispose()
    url = url_for(DATABASE)
    from praho.core.testing import reset_database

    reset_database(url)
    from praho.core.db import make_engine
    from praho.core.services.setup import ensure_reference_data
    from sqlalchemy.orm import Session

    engine = make_engine(url)
    with Session(engine) as session:
        ensure_reference_data(session)
        session.commit()
    engine.dispose()
    return url


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_gunicorn(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """gunicorn serving :func:`bench_app`, waiting until /healthz answers."""
    env = {
        **os.environ,
        "PRAHO_DATABASE_URL": url,
        "PRAHO_STRIPE_WEBHOOK_SECRET": SECRET,
        "PRAHO_RATELIMIT_WEBHOOKS": "10000000 per minute",
        "PRAHO_LOG_LEVEL": "WARNING",
        "PRAHO_INSTANCE_PATH": "/tmp/praho-bench-webhooks",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--chdir",
            str(ROOT / "bench"),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
            "bench_webhooks:bench_app()",
        ],
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError("gunicorn did not start within 60 s")


def dispute_event(number: int) -> bytes:
    """A signed-to-be Stripe dispute event, unique by ``number``."""
    from praho.plugins.stripe_gateway.testing import fixture, stripe_event

    dispute = fixture(
        "dispute",
        id=f"dp_bench_{number:09d}",
        amount=1000 + number % 5000,
        currency="ron",
        payment_intent=f"pi_bench_{number:09d}",
        status="warning_needs_response",
    )
    dispute["metadata"] = {"pad": "x" * BODY_PAD}
    return json.dumps(
        stripe_event("charge.dispute.created", dispute, event_id=f"evt_bench_{number:09d}"),
        separators=(",", ":"),
    ).encode()


def signature(body: bytes) -> str:
    """A Stripe-Signature header for now."""
    from praho.plugins.stripe_gateway.testing import sign_stripe_event

    return sign_stripe_event(body, SECRET, int(time.time()))


def drive(
    port: int, path: str, bodies: list[bytes], *, seconds: float, clients: int, sign: bool
) -> tuple[int, float, list[float], dict[int, int]]:
    """Post bodies round-robin from ``clients`` keep-alive connections for ``seconds``.

    Returns requests done, the time taken (s), their latencies (s) and the count of each
    status code. Each body
    is sent at most once per phase (the ``new`` phase must not repeat an event).
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    next_index = [0]
    started_phase = time.monotonic()
    stop = started_phase + seconds

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        seen: dict[int, int] = {}
        while time.monotonic() < stop:
            with lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= len(bodies):
                break
            body = bodies[index]
            headers = {"Content-Type": "application/json"}
            if sign:
                headers["Stripe-Signature"] = signature(body)
            started = time.perf_counter()
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            seen[response.status] = seen.get(response.status, 0) + 1
        connection.close()
        with lock:
            latencies.extend(mine)
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), time.monotonic() - started_phase, latencies, statuses


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile of ``values`` (nearest rank), in milliseconds."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def row_counts(url: str) -> dict[str, int]:
    """Rows in the tables the webhooks write."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        counts = {
            table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("webhook_events", "disputes", "audit_events")
        }
    engine.dispose()
    return counts


def machine() -> str:
    """One line describing the machine and the software."""
    load = os.getloadavg()
    return (
        f"{platform.node() or 'unknown'}: {platform.machine()}, {os.cpu_count()} CPU(s), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"load average before the run {load[0]:.2f}"
    )


def main() -> None:
    """Build the database, start gunicorn, measure the three phases, report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--events", type=int, default=60_000, help="unique events prepared")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    about = machine()
    url = fresh_database()
    port = free_port()
    bodies = [dispute_event(n) for n in range(args.events)]
    server = start_gunicorn(url, port, args.workers)
    results: dict[str, tuple[int, float, list[float], dict[int, int]]] = {}
    try:
        drive(
            port, "/bench/bare", bodies[:200], seconds=2, clients=args.clients, sign=False
        )  # warm up
        results["bare"] = drive(
            port, "/bench/bare", bodies, seconds=args.seconds, clients=args.clients, sign=False
        )
        results["new"] = drive(
            port, "/webhooks/stripe", bodies, seconds=args.seconds, clients=args.clients, sign=True
        )
        applied = results["new"][0]
        results["dup"] = drive(
            port,
            "/webhooks/stripe",
            bodies[:applied],
            seconds=args.seconds,
            clients=args.clients,
            sign=True,
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    counts = row_counts(url)
    lines = [
        "## Webhooks: signed Stripe events through gunicorn "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"`bench/bench_webhooks.py --seconds {args.seconds:g} --clients {args.clients} "
        f"--workers {args.workers}`, PostgreSQL, gunicorn {args.workers} sync workers, "
        f"{args.clients} keep-alive clients on the same machine. Machine: {about}.",
        "",
        "| phase | requests | per second | p50 ms | p99 ms | statuses |",
        "|---|---|---|---|---|---|",
    ]
    names = {
        "bare": "bare Flask endpoint (same server)",
        "new": "new events: verified, recorded, applied",
        "dup": "duplicates: verified, acknowledged",
    }
    for key, (done, elapsed, latencies, statuses) in results.items():
        rate = done / elapsed
        lines.append(
            f"| {names[key]} | {done} | {rate:,.0f} | {percentile(latencies, 0.5):.1f} | "
            f"{percentile(latencies, 0.99):.1f} | {statuses} |"
        )
    lines += [
        "",
        f"Rows after the run: {counts} (each new event applied once: "
        f"{counts['webhook_events'] == results['new'][0] == counts['disputes']}).",
    ]
    print("\n".join(lines))
    if args.write_docs:
        with (ROOT / "docs" / "benchmarks.md").open("a", encoding="utf-8") as handle:
            handle.write("\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
