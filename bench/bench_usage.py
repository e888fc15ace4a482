"""Benchmark: usage ingestion and aggregation on PostgreSQL (issue 8).

    python bench/bench_usage.py --events 1000000 --subscriptions 10000 \
        --http-events 200000 --aggregate-events 2000000 --write-docs

Seeds a fresh database (``praho_bench_usage``): N customers with one active monthly
subscription each, one ``sum`` meter charged on their plan. Then, each figure on the
same table with the same indexes:

* ``raw COPY``: the prepared rows COPied straight into ``usage_events`` (no
  validation, no de-duplication): the physical limit of this database here;
* ``python API``: :func:`record_usage_events` in batches (validation, subscription
  lookup, staging COPY, ``INSERT ... ON CONFLICT DO NOTHING``), one commit per batch;
* ``replay``: the same API on already stored events (all acknowledged as duplicates);
* ``HTTP``: ``POST /api/usage/events`` with 1,000 events per request, served by
  gunicorn (``--http-workers`` processes) and sent by ``--http-clients`` threads in
  this process: client JSON encoding and server work share the same 2 cores;
* ``aggregation``: every subscription's quantity for the period in one GROUP BY, and
  the whole period rated (``rate_window``) after topping the table up with SQL to
  ``--aggregate-events`` rows.

Results are printed and, with ``--write-docs``, appended to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "PRAHO_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres"
)
DATABASE = "praho_bench_usage"
URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DATABASE

# Reference rows and N customers with one active monthly subscription each.
SEED_SQL = """
INSERT INTO sellers (code, legal_name, cui, vat_id, vat_payer, trade_register, street,
    city, postal_code, county, country, iban, bank_name, email, tax_regime,
    is_default, created_at)
VALUES ('PRAHO', 'PRAHO Hosting SRL', '14399840', 'RO14399840', true, 'J40/1/2015',
    'Str. Exemplu 1', 'SECTOR1', '010011', 'RO-B', 'RO', 'RO49AAAA1B31007593840000',
    'Banca Exemplu', 'billing@praho.test', 'static', true, now());
INSERT INTO products (code, name, kind, tax_class, electronic_service, unit_code,
    active, created_at)
VALUES ('WEB', 'Web Hosting', 'hosting', 'standard', true, 'C62', true, now());
INSERT INTO prices (code, product_id, currency, interval_months, active, created_at)
VALUES ('WEB-M', 1, 'RON', 1, true, now());
INSERT INTO price_versions (price_id, effective_from, unit_amount_minor, created_at)
VALUES (1, '2020-01-01', 5000, now());
INSERT INTO customers (code, kind, legal_name, cui, vat_id, vat_payer, email,
    language, currency, street, city, county, country, invoice_mode,
    payment_terms_days, tags, status, attributes, created_at)
SELECT 'C' || lpad(g::text, 7, '0'), 'company', 'Client ' || g || ' SRL',
    '14399840', 'RO14399840', true, 'client' || g || '@example.ro', 'ro', 'RON',
    'Str. Clientului 5', 'Cluj-Napoca', 'RO-CJ', 'RO', 'invoice', 14, '[]',
    'active', '{}', now()
FROM generate_series(1, :n) g;
INSERT INTO subscriptions (customer_id, seller_id, currency, status,
    billing_cycle_months, anchor_day, start_date, current_period_start,
    current_period_end, next_billing_date, cancel_at_period_end, attributes,
    created_at, activated_at)
SELECT g, 1, 'RON', 'active', 1, 1, :start, :start, :end, :end, false, '{}',
    now(), now()
FROM generate_series(1, :n) g;
INSERT INTO subscription_items (subscription_id, price_id, role, quantity,
    billed_unit_amount_minor, billed_quantity, attributes, created_at)
SELECT g, 1, 'plan', 1, 5000, 1, '{}', now() FROM generate_series(1, :n) g;
"""


def admin(sql: str) -> None:
    """One statement on the maintenance database (CREATE/DROP DATABASE)."""
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(sql))
    engine.dispose()


def app_for(url: str) -> Any:
    """A PRAHO app on ``url`` (default manifest: usage_metering loaded)."""
    from praho.core.app import create_app
    from praho.core.testing import StaticTestPlugin, config_for_tests

    return create_app(config_for_tests(url, LOG_LEVEL="WARNING"),
                      plugins=[("static_test", StaticTestPlugin())])


def wsgi_app() -> Any:
    """The app gunicorn serves (``bench_usage:wsgi_app()``)."""
    return app_for(URL)


def seed(subscriptions: int, now: datetime) -> str:
    """Fresh database, schema, N customers/subscriptions, a meter and an integration key."""
    from praho.core import migrations
    from praho.core.db import make_engine
    from praho.core.services.setup import ensure_reference_data
    from sqlalchemy.orm import Session

    admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{DATABASE}"')
    engine = make_engine(URL)
    migrations.upgrade(engine)
    with Session(engine) as session:
        ensure_reference_data(session)
        session.commit()
    start = (now - timedelta(days=30)).date()
    with engine.begin() as connection:
        for statement in SEED_SQL.split(";"):
            if statement.strip():
                connection.execute(text(statement), {
                    "n": subscriptions, "start": start, "end": start + timedelta(days=31)})
    app = app_for(URL)
    with app.app_context():
        from praho.core.models.catalog import Price
        from praho.plugins.usage_metering.api_keys import create_api_key
        from praho.plugins.usage_metering.meters import MeterInput, define_charge, define_meter

        with app.extensions["praho.db"].transaction() as session:
            meter = define_meter(session, MeterInput(
                code="storage_gb", name="Storage", unit="GB", aggregation="sum",
                property="gb", category="storage", rounding="up"), now=now)
            define_charge(session, meter=meter, price=session.get(Price, 1), now=now, data={
                "model": "graduated", "included_units": "10",
                "tiers": [{"up_to": "100", "unit_price": "0.50"},
                          {"up_to": None, "unit_price": "0.25"}]})
            _, key = create_api_key(session, name="bench", now=now)
        app.extensions["praho.db"].dispose()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return key


def make_events(prefix: str, count: int, subscriptions: int, now: datetime) -> list[dict]:
    """Events spread over the subscriptions and the last 29 days (not timed)."""
    rng = random.Random(count)
    return [
        {"id": f"{prefix}-{i}", "meter": "storage_gb", "subscription": i % subscriptions + 1,
         "timestamp": (now - timedelta(seconds=rng.randrange(29 * 86400))).isoformat(),
         "properties": {"gb": f"{rng.randrange(1, 5000) / 100:.2f}", "host": "web1"}}
        for i in range(count)
    ]


def as_rows(events: list[dict], now: datetime) -> list[tuple]:
    """The same events as ready-made table rows, for the raw COPY (not timed)."""
    return [
        (1, e["id"], e["subscription"], e["subscription"], datetime.fromisoformat(e["timestamp"]),
         int(round(float(e["properties"]["gb"]) * 100)) * 10_000, None,
         json.dumps(e["properties"], separators=(",", ":")), now)
        for e in events
    ]


def timed_batches(app: Any, work: Any, items: list, batch: int) -> float:
    """Run ``work(session, chunk)`` per batch, one commit each; returns seconds."""
    database = app.extensions["praho.db"]
    started = time.perf_counter()
    for start in range(0, len(items), batch):
        with database.transaction() as session:
            work(session, items[start:start + batch])
    return time.perf_counter() - started


def count_events() -> int:
    """Rows in usage_events."""
    engine = create_engine(URL)
    with engine.connect() as connection:
        total = connection.execute(text("SELECT count(*) FROM usage_events")).scalar()
    engine.dispose()
    return int(total or 0)


def truncate_events() -> None:
    """Empty usage_events between the raw COPY and the API run."""
    engine = create_engine(URL)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE usage_events"))
    engine.dispose()


def run_http(key: str, events: list[dict], workers: int, clients: int) -> float:
    """POST the events 1,000 per request to a gunicorn server; returns seconds."""
    import requests

    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--chdir", str(ROOT / "bench"), "-w", str(workers),
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "bench_usage:wsgi_app()"],
        cwd=ROOT)
    try:
        url = f"http://127.0.0.1:{port}/api/usage/events"
        for _ in range(100):
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        bodies = [json.dumps({"events": events[i:i + 1000]}).encode()
                  for i in range(0, len(events), 1000)]
        queue = list(reversed(bodies))
        lock = threading.Lock()
        failures: list[str] = []

        def client() -> None:
            with requests.Session() as session:
                headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
                while True:
                    with lock:
                        if not queue:
                            return
                        body = queue.pop()
                    answer = session.post(url, data=body, headers=headers, timeout=120)
                    if answer.status_code != 200 or answer.json()["accepted"] != 1000:
                        failures.append(answer.text[:300])

        threads = [threading.Thread(target=client) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if failures:
            raise SystemExit(f"HTTP failures: {failures[:3]}")
        return elapsed
    finally:
        server.terminate()
        server.wait(30)


def top_up(total: int, subscriptions: int, now: datetime) -> None:
    """Fill usage_events to ``total`` rows with SQL (not timed): the aggregation's input."""
    missing = total - count_events()
    if missing <= 0:
        return
    engine = create_engine(URL)
    with engine.begin() as connection:
        connection.execute(text("""
            INSERT INTO usage_events (meter_id, event_id, subscription_id, customer_id,
                occurred_at, quantity_micro, unique_key, properties, ingested_at)
            SELECT 1, 'fill-' || g, g % :subs + 1, g % :subs + 1,
                   :now - make_interval(secs => (g * 7919) % (29 * 86400)),
                   ((g * 31) % 5000 + 1) * 10000, NULL, '{"gb":"1"}', :now
            FROM generate_series(1::bigint, :n) g
        """), {"subs": subscriptions, "now": now, "n": missing})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE usage_events"))
    engine.dispose()


def aggregate(app: Any, now: datetime) -> tuple[float, float, int]:
    """Seconds for one GROUP BY over the period, seconds to rate it all, subscriptions seen."""
    from praho.core.clock import business_date
    from praho.plugins.usage_metering.aggregation import aggregate_all, window_of
    from praho.plugins.usage_metering.meters import meter_by_code
    from praho.plugins.usage_metering.period_report import rate_window

    first, after = business_date(now - timedelta(days=30)), business_date(now) + timedelta(days=1)
    with app.extensions["praho.db"].transaction() as session:
        meter = meter_by_code(session, "storage_gb")
        started = time.perf_counter()
        quantities = aggregate_all(session, meter, *window_of(first, after))
        grouped = time.perf_counter() - started
        started = time.perf_counter()
        rated = rate_window(session, first, after)
        rating = time.perf_counter() - started
    assert len(rated) == len(quantities)
    return grouped, rating, len(quantities)


def main() -> None:
    """Parse arguments, run every case, print and optionally record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=10_000, help="events per API call")
    parser.add_argument("--http-events", type=int, default=200_000)
    parser.add_argument("--http-workers", type=int, default=2)
    parser.add_argument("--http-clients", type=int, default=2)
    parser.add_argument("--aggregate-events", type=int, default=0,
                        help="top the table up to this many rows before aggregating")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    from praho.core.db import make_engine
    from praho.plugins.usage_metering import record_usage_events
    from praho.plugins.usage_metering.event_store import copy_rows_raw

    now = datetime.now(UTC)
    print(f"seeding {args.subscriptions} subscriptions ...", flush=True)
    key = seed(args.subscriptions, now)
    events = make_events("ev", args.events, args.subscriptions, now)
    rows = as_rows(events, now)
    app = app_for(URL)
    figures: dict[str, float] = {}
    with app.app_context():
        print("raw COPY ...", flush=True)
        seconds = timed_batches(app, copy_rows_raw, rows, args.batch)
        figures["raw COPY"] = args.events / seconds
        assert count_events() == args.events
        truncate_events()
        del rows

        def ingest(session: Any, chunk: list) -> None:
            result = record_usage_events(session, chunk, now=now)
            assert result.accepted + len(result.duplicates) == len(chunk), result.rejected[:3]

        print("python API ...", flush=True)
        figures["python API"] = args.events / timed_batches(app, ingest, events, args.batch)
        assert count_events() == args.events
        replay = events[: max(1, args.events // 10)]
        figures["replay (all duplicates)"] = len(replay) / timed_batches(app, ingest, replay,
                                                                         args.batch)
        assert count_events() == args.events
        del events
        if args.http_events:
            print("HTTP ...", flush=True)
            http_events = make_events("http", args.http_events, args.subscriptions, now)
            figures["HTTP"] = args.http_events / run_http(key, http_events, args.http_workers,
                                                          args.http_clients)
            assert count_events() == args.events + args.http_events
        total = max(args.aggregate_events, count_events())
        print(f"aggregating {total} events ...", flush=True)
        top_up(total, args.subscriptions, now)
        grouped, rating, seen = aggregate(app, now)
        app.extensions["praho.db"].dispose()
    make_engine(URL).dispose()
    admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    report(args, figures, total, grouped, rating, seen)


def report(args: argparse.Namespace, figures: dict[str, float], total: int, grouped: float,
           rating: float, seen: int) -> None:
    """Print the figures; append them to docs/benchmarks.md when asked."""
    raw = figures["raw COPY"]
    lines = [f"| {name} | {rate:,.0f} | {rate / raw:.2f} |" for name, rate in figures.items()]
    extrapolated = grouped * 10_000_000 / total
    scale = ("" if total >= 10_000_000 else
             f" Linear extrapolation to 10M events (not measured): about {extrapolated:.0f} s "
             "for the GROUP BY.")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text_block = "\n".join([
        "",
        f"## Usage metering ingestion and aggregation, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.node()} ({os.cpu_count()} cores, shared)",
        "",
        f"`bench/bench_usage.py --events {args.events} --subscriptions {args.subscriptions} "
        f"--batch {args.batch} --http-events {args.http_events} --http-workers "
        f"{args.http_workers} --http-clients {args.http_clients} --aggregate-events "
        f"{args.aggregate_events}` (PostgreSQL, de-duplication on)",
        "",
        "| ingestion | events/s | / raw COPY |",
        "|---|---:|---:|",
        *lines,
        "",
        f"Aggregation: {total:,} events, {seen:,} subscriptions, one period: GROUP BY "
        f"{grouped:.2f} s, whole period rated {rating:.2f} s.{scale}",
        f"Load average at the end (1, 5, 15 min): {load}: the machine is shared, so compare "
        "rows of one run (the ratio column), not runs.",
        "",
    ])
    print(text_block)
    if args.write_docs:
        with open(ROOT / "docs" / "benchmarks.md", "a", encoding="utf-8") as handle:
            handle.write(text_block)


if __name__ == "__main__":
    main()
