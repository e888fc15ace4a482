"""Benchmark: signed Stripe webhooks through gunicorn on PostgreSQL, applied by Celery workers.

    .venv/bin/python bench/bench_webhooks.py --seconds 20 --write-docs

Builds a fresh database (``praho_bench_webhooks``) from the migrations, gives it a
history as a running installation has (``--history`` earlier dispute events recorded and
applied, then ``VACUUM ANALYZE``; ``--history 0`` for a brand-new database), starts gunicorn
(``--workers`` processes of ``--threads`` threads, gthread, so connections are kept
alive; ``--threads 0`` for sync workers) serving the real application plus one bare
Flask endpoint on the same server, and ``--appliers`` Celery worker processes (``praho
worker``, Redis as broker), then drives the server with keep-alive HTTP clients for
three phases of ``--seconds`` each:

* ``bare``: ``POST /bench/bare`` with the same body (Flask + gunicorn, no PRAHO work);
* ``new``: unique ``charge.dispute.created`` events, each verified (HMAC, replay window),
  parsed, recorded once (``INSERT ... ON CONFLICT DO NOTHING``) and answered; the workers
  apply them meanwhile (a dispute row and its audit event, sealed into the audit chain,
  the event marked processed). The phase ends when the last event is applied: *applied
  per second* is the events divided by the time from the first request to that moment;
* ``dup``: the same events delivered again: verified, found recorded, acknowledged.

Reported per phase: requests/s, p50 and p99 latency (client side); for ``new`` also the
applied rate and how long after the last answer the last event was applied; at the end
the row counts proving every new event was applied exactly once. The target is 1,000
events per second. With ``--write-docs`` a section is appended to docs/benchmarks.md.
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
BROKER_URL = os.environ.get("PRAHO_BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
SECRET = "whsec_bench_0123456789abcdefghijklmnop"
HISTORY_FIRST = 100_000_000  # event numbers of the history (the phases use 0, 1, 2, ...)
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


def seed_history(url: str, count: int) -> None:
    """Record and apply ``count`` earlier dispute events, then ``VACUUM ANALYZE``.

    A running installation has history and the statistics autovacuum keeps: without them
    PostgreSQL plans its first minute of queries on a brand-new database blind (it took
    the growing ``disputes`` table for a few rows and filtered all of it for every batch),
    which is not what a hosting company's server does all day. ``--history 0`` measures
    the brand-new database instead.
    """
    if count <= 0:
        return
    os.environ.update(server_env(url))
    from praho.core.app import create_app
    from praho.core.webhooks.applier import apply_waiting
    from praho.core.webhooks.pipeline import record_webhook, webhook_sources

    app = create_app({"BROKER_URL": None})  # nothing to wake: applied right here
    stamp = int(time.time())
    with app.app_context():
        database = app.extensions["praho.db"]
        source = webhook_sources()["stripe"]
        for number in range(HISTORY_FIRST, HISTORY_FIRST + count):
            body = dispute_event(number)
            record_webhook(database, source, {"Stripe-Signature": signature(body, stamp)}, body)
        while apply_waiting(database, webhook_sources())[0]:
            pass
        database.dispose()
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(url: str) -> dict[str, str]:
    """The environment gunicorn and the workers run with."""
    return {
        **os.environ,
        "PRAHO_DATABASE_URL": url,
        "PRAHO_BROKER_URL": BROKER_URL,
        "PRAHO_STRIPE_WEBHOOK_SECRET": SECRET,
        "PRAHO_RATELIMIT_WEBHOOKS": "10000000 per minute",
        "PRAHO_LOG_LEVEL": "WARNING",
        "PRAHO_INSTANCE_PATH": "/tmp/praho-bench-webhooks",
    }


def start_appliers(url: str, count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` Celery worker processes (solo pool) applying the recorded events."""
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()  # no task left from an earlier run
    processes = []
    for number in range(count):
        log = open(f"/tmp/praho-bench-applier-{number}.log", "w")  # noqa: SIM115
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "praho.core.cli", "worker", "--pool=solo",
                 "--loglevel=WARNING", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "--hostname", f"bench{number}@%h"],
                env=server_env(url), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    time.sleep(4)  # the workers connect to the broker
    for process in processes:
        if process.poll() is not None:
            raise RuntimeError(
                "a Celery worker exited at start; see /tmp/praho-bench-applier-*.log"
            )
    return processes


def start_gunicorn(url: str, port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    """gunicorn serving :func:`bench_app`, waiting until /healthz answers."""
    env = server_env(url)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--chdir",
            str(ROOT / "bench"),
            "--workers",
            str(workers),
            # gthread keeps connections alive (the sync worker closes each after one
            # request); a gateway, or the proxy in front, reuses them.
            *(["--worker-class", "gthread", "--threads", str(threads)] if threads else []),
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


def signature(body: bytes, stamp: int) -> str:
    """A Stripe-Signature header for ``body`` signed at ``stamp`` (Unix time)."""
    from praho.plugins.stripe_gateway.testing import sign_stripe_event

    return sign_stripe_event(body, SECRET, stamp)


def prepared_requests(path: str, bodies: list[bytes], *, sign: bool) -> list[bytes]:
    """Each body as the bytes of a whole HTTP/1.1 request, signed now when ``sign``.

    Built before a phase starts, so the clients spend their time sending, not formatting
    or signing (a gateway does that on its own machine). A phase lasts far less than the
    180-second replay window.
    """
    stamp = int(time.time())
    requests = []
    for body in bodies:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
        )
        if sign:
            head += f"Stripe-Signature: {signature(body, stamp)}\r\n"
        requests.append(head.encode() + b"\r\n" + body)
    return requests


def exchange(connection: socket.socket | None, port: int, request: bytes
             ) -> tuple[socket.socket | None, int]:
    """Send one request and read its response; the connection to reuse (None: closed)."""
    if connection is None:
        connection = socket.create_connection(("127.0.0.1", port), timeout=30)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connection.sendall(request)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection before answering")
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.lower(): value.strip() for name, _, value in
               (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-response")
        rest += chunk
    if headers.get("connection", "").lower() == "close":
        connection.close()
        connection = None
    return connection, status


def drive(
    port: int, requests: list[bytes], *, seconds: float, clients: int
) -> tuple[int, float, list[float], dict[int, int]]:
    """Send the requests in order from ``clients`` keep-alive connections for ``seconds``.

    Returns requests done, the time taken (s), their latencies (s) and the count of each
    status code. Each request is sent at most once per phase (the ``new`` phase must not
    repeat an event).
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    next_index = [0]
    started_phase = time.monotonic()
    stop = started_phase + seconds

    def worker() -> None:
        connection: socket.socket | None = None
        mine: list[float] = []
        seen: dict[int, int] = {}
        while time.monotonic() < stop:
            with lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= len(requests):
                break
            started = time.perf_counter()
            connection, status = exchange(connection, port, requests[index])
            mine.append(time.perf_counter() - started)
            seen[status] = seen.get(status, 0) + 1
        if connection is not None:
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


def cpu_seconds(groups: dict[str, set[int]]) -> dict[str, float]:
    """CPU time (user + system, seconds) used so far by each group of processes.

    A group is a set of process-group ids; ``postgres`` and ``redis`` are found by name.
    Processes that ended are not counted, so read it before stopping anything.
    """
    tick = os.sysconf("SC_CLK_TCK")
    totals = dict.fromkeys([*groups, "postgres", "redis"], 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        used = (int(fields[11]) + int(fields[12])) / tick
        pgrp = int(fields[2])
        owner = next((group for group, ids in groups.items() if pgrp in ids), None)
        if owner is None and name.startswith("postgres"):
            owner = "postgres"
        elif owner is None and name.startswith("redis"):
            owner = "redis"
        if owner is not None:
            totals[owner] += used
    return totals


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile of ``values`` (nearest rank), in milliseconds."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def wait_applied(url: str, timeout: float = 600) -> float:
    """Wait until no recorded event is waiting to be applied; the monotonic time it was seen."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as connection:
            while time.monotonic() < deadline:
                waiting = connection.execute(
                    text("SELECT count(*) FROM webhook_events WHERE status = 'received'")
                ).scalar_one()
                connection.commit()
                if waiting == 0:
                    return time.monotonic()
                time.sleep(0.05)
    finally:
        engine.dispose()
    raise RuntimeError(f"events still waiting after {timeout} s")


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
    parser.add_argument("--appliers", type=int, default=1, help="Celery worker processes")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads per gunicorn worker (gthread, keep-alive); 0: sync workers")
    parser.add_argument("--events", type=int, default=60_000, help="unique events prepared")
    parser.add_argument("--history", type=int, default=20_000,
                        help="earlier events recorded and applied before measuring")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    about = machine()
    url = fresh_database()
    seed_history(url, args.history)
    port = free_port()
    bodies = [dispute_event(n) for n in range(args.events)]
    appliers = start_appliers(url, args.appliers)
    server = start_gunicorn(url, port, args.workers, args.threads)
    results: dict[str, tuple[int, float, list[float], dict[int, int]]] = {}
    try:
        drive(port, prepared_requests("/bench/bare", bodies[:200], sign=False), seconds=2,
              clients=args.clients)  # warm up
        groups = {
            "HTTP clients (this process)": {os.getpgrp()},
            "gunicorn": {server.pid},
            "Celery workers": {process.pid for process in appliers},
        }
        bare_requests = prepared_requests("/bench/bare", bodies, sign=False)
        cpu_before = cpu_seconds(groups)
        results["bare"] = drive(port, bare_requests, seconds=args.seconds, clients=args.clients)
        bare_cpu = {group: used - cpu_before[group]
                    for group, used in cpu_seconds(groups).items()}
        new_requests = prepared_requests("/webhooks/stripe", bodies, sign=True)
        cpu_before = cpu_seconds(groups)
        started = time.monotonic()
        results["new"] = drive(port, new_requests, seconds=args.seconds, clients=args.clients)
        answered = time.monotonic()
        all_applied = wait_applied(url)
        cpu_used = {
            group: used - cpu_before[group] for group, used in cpu_seconds(groups).items()
        }
        applied = results["new"][0]
        applied_rate = applied / (all_applied - started)
        lag = all_applied - answered
        results["dup"] = drive(
            port,
            prepared_requests("/webhooks/stripe", bodies[:applied], sign=True),
            seconds=args.seconds,
            clients=args.clients,
        )
    finally:
        for process in (server, *appliers):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    counts = row_counts(url)
    once = (counts["webhook_events"] - args.history == results["new"][0]
            == counts["disputes"] - args.history)
    lines = [
        "## Webhooks: signed Stripe events through gunicorn "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"`bench/bench_webhooks.py --seconds {args.seconds:g} --clients {args.clients} "
        f"--workers {args.workers} --threads {args.threads} --appliers {args.appliers} "
        f"--history {args.history}`, PostgreSQL "
        + (f"holding {args.history:,} earlier events, applied and analyzed" if args.history
           else "starting empty, without statistics")
        + f", gunicorn {args.workers} "
        + (f"gthread workers of {args.threads} threads" if args.threads else "sync workers")
        + f", {args.appliers} Celery worker(s) applying, Redis broker, {args.clients} "
        f"keep-alive clients (prebuilt requests on raw sockets) on the same machine. "
        f"Machine: {about}.",
        "",
        "| phase | requests | per second | p50 ms | p99 ms | statuses |",
        "|---|---|---|---|---|---|",
    ]
    names = {
        "bare": "bare Flask endpoint (same server)",
        "new": "new events: verified, recorded, answered",
        "dup": "duplicates: verified, acknowledged",
    }
    for key, (done, elapsed, latencies, statuses) in results.items():
        rate = done / elapsed
        lines.append(
            f"| {names[key]} | {done} | {rate:,.0f} | {percentile(latencies, 0.5):.1f} | "
            f"{percentile(latencies, 0.99):.1f} | {statuses} |"
        )
    per_event = {group: 1e6 * used / results["new"][0] for group, used in cpu_used.items()}
    per_bare = {group: 1e6 * used / results["bare"][0] for group, used in bare_cpu.items()}
    lines += [
        "",
        "CPU per new event, from the first request until the last was applied: "
        + ", ".join(f"{group} {micros:,.0f} µs" for group, micros in per_event.items())
        + f"; {sum(per_event.values()):,.0f} µs in all. The bare endpoint's requests: "
        + ", ".join(f"{group} {micros:,.0f} µs" for group, micros in per_bare.items()
                    if micros >= 1)
        + f"; {sum(per_bare.values()):,.0f} µs in all.",
    ]
    lines += [
        "",
        f"**New events verified, de-duplicated and applied: {applied_rate:,.0f} per second** "
        f"({applied} events from the first request until the last was applied; the last "
        f"was applied {lag:.2f} s after the last answer).",
        "",
        f"Rows after the run, history included: {counts} (each new event applied once: "
        f"{once}).",
    ]
    print("\n".join(lines))
    if args.write_docs:
        with (ROOT / "docs" / "benchmarks.md").open("a", encoding="utf-8") as handle:
            handle.write("\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
