"""Benchmark: the billing run over N due subscriptions on PostgreSQL.

    .venv/bin/python bench/billing_run.py --subscriptions 100000 --workers 1 2 --write-docs

Seeds N customers with one monthly subscription each, all due on 28 February 2026, into
a template database, then for each measured case clones a fresh database from the
template (``CREATE DATABASE ... TEMPLATE``) and measures:

* ``inline``: ``run_in_process`` in this process (one chunk transaction after another);
* ``celery xN``: N Celery worker processes (solo pool, Redis broker) billing the chunks;
* ``raw SQL``: the same rows (documents, lines, VAT breakdowns, period claims, journal
  entries and lines, audit events, outcomes, the subscriptions moved on) written by a
  handful of ``INSERT ... SELECT generate_series`` statements: the physical limit of
  this database on this machine, with the same triggers and indexes.

Each billed document: an invoice with its line and VAT breakdown, its gapless number,
its journal entry (3 postings), its audit event, its period claim and its outcome.
Results are printed and, with ``--write-docs``, appended to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "PRAHO_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres"
)
BROKER = os.environ.get("PRAHO_BENCH_BROKER_URL", "redis://127.0.0.1:6379/4")
TEMPLATE = "praho_bench_subs_seed"
WORK = "praho_bench_subs"
QUEUE = "praho-bench-billing"
RUN_DAY = date(2026, 2, 28)


def url_for(name: str) -> str:
    """The SQLAlchemy URL of a database on the benchmark server."""
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def admin(sql: str) -> None:
    """Run one statement on the maintenance database (CREATE/DROP DATABASE)."""
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(sql))
    engine.dispose()


def seed(count: int) -> None:
    """Build the template database: schema, reference data, N customers and subscriptions."""
    from praho.core import migrations
    from praho.core.db import make_engine
    from praho.core.services.setup import ensure_reference_data
    from sqlalchemy.orm import Session

    admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{TEMPLATE}"')
    engine = make_engine(url_for(TEMPLATE))
    migrations.upgrade(engine)
    with Session(engine) as session:
        ensure_reference_data(session)
        session.commit()
    with engine.begin() as connection:
        connection.execute(
            text("""
            INSERT INTO sellers (code, legal_name, cui, vat_id, vat_payer, trade_register, street,
              city,
                postal_code, county, country, iban, bank_name, email, tax_regime, is_default,
                  created_at)
            VALUES ('PRAHO', 'PRAHO Hosting SRL', '14399840', 'RO14399840', true, 'J40/1234/2015',
                'Str. Exemplu 1', 'SECTOR1', '010011', 'RO-B', 'RO', 'RO49AAAA1B31007593840000',
                'Banca Exemplu', 'billing@praho.test', 'static', true, now());
            INSERT INTO products (code, name, kind, tax_class, electronic_service, unit_code,
              active, created_at)
            VALUES ('WEB', 'Web Hosting', 'hosting', 'standard', true, 'C62', true, now());
            INSERT INTO prices (code, product_id, currency, interval_months, active, created_at)
            VALUES ('WEB-M', 1, 'RON', 1, true, now());
            INSERT INTO price_versions (price_id, effective_from, unit_amount_minor, created_at)
            VALUES (1, '2020-01-01', 5000, now());
        """)
        )
        connection.execute(
            text("""
            INSERT INTO customers (code, kind, legal_name, cui, vat_id, vat_payer, email,
              language, currency,
                street, city, county, country, invoice_mode, payment_terms_days, tags, status,
                  attributes,
                created_at)
            SELECT 'C' || lpad(g::text, 7, '0'), 'company', 'Client ' || g || ' SRL', '14399840',
                   'RO14399840', true, 'client' || g || '@example.ro', 'ro', 'RON', 'Str.
                     Clientului 5',
                   'Cluj-Napoca', 'RO-CJ', 'RO', 'invoice', 14, '[]', 'active', '{}', now()
            FROM generate_series(1, :n) g
        """),
            {"n": count},
        )
        connection.execute(
            text("""
            INSERT INTO subscriptions (customer_id, seller_id, currency, status,
              billing_cycle_months,
                anchor_day, start_date, current_period_start, current_period_end, next_billing_date,
                cancel_at_period_end, attributes, created_at, activated_at)
            SELECT g, 1, 'RON', 'active', 1, 28, '2026-01-28', '2026-01-28', '2026-02-28',
              '2026-02-28',
                   false, '{}', now(), now()
            FROM generate_series(1, :n) g
        """),
            {"n": count},
        )
        connection.execute(
            text("""
            INSERT INTO subscription_items (subscription_id, price_id, role, quantity,
              billed_unit_amount_minor,
                billed_quantity, attributes, created_at)
            SELECT g, 1, 'plan', 1, 5000, 1, '{}', now() FROM generate_series(1, :n) g
        """),
            {"n": count},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def fresh_copy() -> str:
    """A new working database cloned from the template; returns its URL."""
    admin(f'DROP DATABASE IF EXISTS "{WORK}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{WORK}" TEMPLATE "{TEMPLATE}"')
    return url_for(WORK)


def app_for(url: str, broker: str | None = None):
    """A PRAHO app on ``url`` with the static test tax regime (the seller uses it)."""
    from praho.core.app import create_app
    from praho.core.testing import StaticTestPlugin, config_for_tests

    return create_app(
        config_for_tests(url, BROKER_URL=broker, LOG_LEVEL="WARNING"),
        plugins=[("static_test", StaticTestPlugin())],
    )


def check(url: str, count: int) -> dict[str, int]:
    """Counts that prove the run billed every subscription once."""
    engine = create_engine(url)
    with engine.connect() as connection:
        row = connection.execute(
            text("""
            SELECT (SELECT count(*) FROM invoices WHERE status = 'issued'),
                   (SELECT count(DISTINCT number) FROM invoices),
                   (SELECT max(number) FROM invoices),
                   (SELECT count(*) FROM journal_entries),
                   (SELECT count(*) FROM subscription_periods),
                   (SELECT count(*) FROM subscriptions WHERE next_billing_date = '2026-03-28')
        """)
        ).one()
    engine.dispose()
    counts = dict(
        zip(
            ["invoices", "distinct_numbers", "max_number", "entries", "claims", "advanced"],
            row,
            strict=True,
        )
    )
    assert set(counts.values()) == {count}, counts
    return counts


def run_inline(count: int, chunk_size: int, profile: bool) -> float:
    """Bill everything in this process; returns seconds."""
    from praho.core.billing_runner import run_in_process
    from praho.core.clock import noon_of

    url = fresh_copy()
    app = app_for(url)
    with app.app_context():
        database = app.extensions["praho.db"]
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        run_in_process(database, now=noon_of(RUN_DAY), chunk_size=chunk_size)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
        database.dispose()
    check(url, count)
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(
            os.environ.get("PROFILE_SORT", "cumulative")
        )
        stats.print_stats(os.environ.get("PROFILE_FILTER", ""), 45)
        print(out.getvalue())
    return elapsed


WORKER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {bench!r})
    from billing_run import app_for
    app = app_for(sys.argv[1], sys.argv[2])
    app.extensions["celery"].worker_main(["worker", "--pool=solo", "--loglevel=WARNING",
      "--without-gossip",
                                          "--without-mingle", "--without-heartbeat", "-Q",
                                            {queue!r},
                                          "-n", sys.argv[3]])
""")


def run_workers(count: int, workers: int, chunk_size: int) -> float:
    """Bill everything on ``workers`` Celery worker processes; returns seconds from dispatch to
    done."""
    from praho.core.billing_runner import progress_of, start_run
    from praho.core.billing_tasks import CHUNK_TASK
    from praho.core.clock import noon_of

    url = fresh_copy()
    app = app_for(url, BROKER)
    celery = app.extensions["celery"]
    with celery.connection_for_write() as connection:
        connection.default_channel.queue_purge(QUEUE)
    script = WORKER.format(bench=str(Path(__file__).parent), queue=QUEUE)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, url, BROKER, f"bench{i}@%h"], start_new_session=True
        )
        for i in range(workers)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(celery.control.ping(timeout=0.5) or []) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not start")
        with app.app_context():
            database = app.extensions["praho.db"]
            started = time.perf_counter()
            run_id, chunk_ids = start_run(database, now=noon_of(RUN_DAY), chunk_size=chunk_size)
            for chunk_id in chunk_ids:
                celery.send_task(CHUNK_TASK, args=[chunk_id], queue=QUEUE)
            while not progress_of(database, run_id)[2]:
                time.sleep(0.25)
            elapsed = time.perf_counter() - started
            database.dispose()
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
    check(url, count)
    return elapsed


RAW_SQL = [
    # Documents as drafts, then their lines and VAT breakdowns (the triggers check each).
    """INSERT INTO invoices (id, kind, status, customer_id, seller_id, seller_snapshot,
      buyer_snapshot, currency,
         language, issue_date, tax_point_date, due_date, payment_terms_days, tax_regime,
           tax_evidence,
         lines_net_minor, allowance_total_minor, charge_total_minor, taxable_minor, vat_minor,
           total_minor,
         prepaid_minor, payable_minor, vat_ron_minor, amount_paid_minor, payment_status,
           credited_minor,
         refunded_minor, subscription_id, period_start, period_end, attributes, created_at)
       SELECT g, 'invoice', 'draft', g, 1, '{"code": "PRAHO"}', '{"code": "C"}', 'RON', 'ro',
         :day, :day,
         :day + 14, 14, 'static', '{}', 5000, 0, 0, 5000, 1050, 6050, 0, 6050, 1050, 0, 'unpaid',
           0, 0, g,
         :day, '2026-03-27', '{}', now()
       FROM generate_series(1, :n) g""",
    """INSERT INTO invoice_lines (invoice_id, position, kind, item_name, description, product_id,
      price_id,
         quantity, unit_code, unit_price, gross_amount_minor, line_allowance_minor,
           net_amount_minor,
         tax_category, tax_rate, tax_note, period_start, period_end, details)
       SELECT g, 1, 'charge', 'Web Hosting', 'Perioada 28.02.2026 - 27.03.2026, monthly', 1, 1, 1,
         'C62',
         50, 5000, 0, 5000, 'S', 21, 'static test regime: 21%', :day, '2026-03-27',
         jsonb_build_object('subscription_id', g, 'subscription_item_id', g)
       FROM generate_series(1, :n) g""",
    """INSERT INTO invoice_tax_subtotals (invoice_id, tax_category, tax_rate, taxable_minor,
      tax_minor,
         tax_ron_minor) SELECT g, 'S', 21, 5000, 1050, 1050 FROM generate_series(1, :n) g""",
    """INSERT INTO subscription_periods (subscription_id, period_start, period_end, invoice_id,
      total_minor,
         currency, claimed_at) SELECT g, :day, '2026-03-28', g, 6050, 'RON', now()
       FROM generate_series(1, :n) g""",
    # Numbers, then the lock that makes the documents issued.
    """INSERT INTO series_counters (series_id, year, last_number) VALUES (1, 2026, :n)""",
    """UPDATE invoices SET status = 'issued', series_id = 1, fiscal_year = 2026, number = id,
         full_number = 'PRH2026-' || lpad(id::text, 6, '0'), issued_at = now(), locked_at =
           now()""",
    """INSERT INTO journal_entries (id, entry_date, posted_at, kind, memo, source_type, source_id,
         idempotency_key) SELECT g, :day, now(), 'invoice_issued', 'invoice PRH2026-' ||
           lpad(g::text, 6, '0'),
         'invoice', g, 'document-issued:' || g FROM generate_series(1, :n) g""",
    """INSERT INTO journal_lines (entry_id, account_code, customer_id, invoice_id, currency,
      amount_minor)
       SELECT g, a.code, g, g, 'RON', a.amount FROM generate_series(1, :n) g,
         (VALUES ('4111', 6050), ('704', -5000), ('4427', -1050)) AS a(code, amount)""",
    """INSERT INTO audit_events (seq, occurred_at, actor_type, actor_id, action, object_type,
      object_id,
         amount_minor, currency, data, prev_hash, hash)
       SELECT g, now(), 'system', 'system', 'invoice.issued', 'invoice', 'PRH2026-' ||
         lpad(g::text, 6, '0'),
         6050, 'RON', jsonb_build_object('customer_id', g, 'vat_minor', 1050), md5(g::text),
           md5(g::text)
       FROM generate_series(1, :n) g""",
    """INSERT INTO billing_runs (id, run_date, now, started_at, status, triggered_by, chunk_size,
         subscriptions_due, chunks_total, summary) VALUES (1, :day, now(), now(), 'completed',
           'bench', 500,
         :n, 1, '{}')""",
    """INSERT INTO billing_outcomes (billing_run_id, subscription_id, period_start, outcome,
      invoice_id,
         document_number, total_minor, currency)
       SELECT 1, g, :day, 'issued', g, 'PRH2026-' || lpad(g::text, 6, '0'), 6050, 'RON'
       FROM generate_series(1, :n) g""",
    """UPDATE subscriptions SET current_period_start = :day, current_period_end = '2026-03-28',
         next_billing_date = '2026-03-28', updated_at = now()""",
]


def run_raw(count: int) -> float:
    """The same rows by plain SQL, in one transaction; returns seconds."""
    url = fresh_copy()
    engine = create_engine(url)
    started = time.perf_counter()
    with engine.begin() as connection:
        for statement in RAW_SQL:
            connection.execute(text(statement), {"n": count, "day": RUN_DAY})
    elapsed = time.perf_counter() - started
    engine.dispose()
    check(url, count)
    return elapsed


def machine() -> str:
    """CPU, cores, memory, PostgreSQL version and load: what the figures depend on."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        (
            int(line.split()[1]) // 1024 // 1024
            for line in open("/proc/meminfo")
            if line.startswith("MemTotal")
        ),
        0,
    )
    engine = create_engine(ADMIN_URL)
    with engine.connect() as connection:
        version = connection.execute(text("SHOW server_version")).scalar_one()
    engine.dispose()
    load = os.getloadavg()
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory} GB RAM, PostgreSQL {version}, Python "
        f"{platform.python_version()}, load average before the run {load[0]:.2f}"
    )


def write_docs(lines: list[str]) -> None:
    """Append this run's section to docs/benchmarks.md (created with a header if missing)."""
    path = ROOT / "docs" / "benchmarks.md"
    if not path.exists():
        path.write_text(
            "# Benchmarks\n\nFigures measured by the scripts in `bench/`, newest last. "
            "Each section names the machine and the date.\n",
            encoding="utf-8",
        )
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n" + "\n".join(lines) + "\n")


def main() -> None:
    """Parse arguments, seed, measure, report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--inline", action="store_true", help="also measure the in-process run")
    parser.add_argument("--profile", action="store_true", help="profile the in-process run")
    parser.add_argument(
        "--no-seed", action="store_true", help="reuse the template from a previous run"
    )
    parser.add_argument("--repeat", type=int, default=1, help="measure every case this many times")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    count = args.subscriptions
    about = machine()
    if not args.no_seed:
        started = time.perf_counter()
        seed(count)
        print(f"seeded {count} subscriptions in {time.perf_counter() - started:.1f}s")
    cases: list[tuple[str, Any]] = [("raw SQL, same rows (physical limit)", lambda: run_raw(count))]
    if args.inline or args.profile:
        cases.append(
            (
                f"in-process run, chunks of {args.chunk_size}",
                lambda: run_inline(count, args.chunk_size, args.profile),
            )
        )
    for workers in args.workers:
        label = "process" if workers == 1 else "processes"
        cases.append(
            (
                f"{workers} Celery worker {label}, chunks of {args.chunk_size}",
                lambda w=workers: run_workers(count, w, args.chunk_size),
            )
        )
    timings: dict[str, list[float]] = {label: [] for label, _ in cases}
    for _ in range(args.repeat):
        for label, measure in cases:
            timings[label].append(measure())
            print(f"{label}: {timings[label][-1]:.1f}s", flush=True)
    raw = min(timings[cases[0][0]])
    table = [
        "| case | best of "
        + str(args.repeat)
        + " (s) | all runs (s) | documents/s (best) | vs raw SQL |",
        "|---|---:|---|---:|---:|",
    ]
    for label, seconds in timings.items():
        best = min(seconds)
        runs = ", ".join(f"{s:.1f}" for s in seconds)
        table.append(f"| {label} | {best:.1f} | {runs} | {count / best:,.0f} | {best / raw:.1f}x |")
    print("\n".join(table))
    if args.write_docs:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d")
        write_docs(
            [
                f"## Billing run, {count:,} due subscriptions ({stamp})",
                "",
                f"`bench/billing_run.py --subscriptions {count} --chunk-size {args.chunk_size}`. "
                "Every document: invoice, line, VAT breakdown, gapless number, journal entry with "
                "three postings, audit event, period claim, run outcome; subscription moved to the "
                "next period. Tax regime: the static test regime (decisions are cached per "
                "identical tax request in the run, so a slower regime costs once per distinct "
                "request).",
                "",
                f"Machine: {about}; load average after the run {os.getloadavg()[0]:.2f} "
                "(the machine is shared: other processes compete for the same 2 cores).",
                "",
                *table,
            ]
        )


if __name__ == "__main__":
    main()
