"""Benchmark: the back office dashboard with many open invoices (SQLite by default).

    .venv/bin/python bench/bench_dashboard.py --invoices 200000 --write-docs

Issues one monthly subscription's first invoice through the services, then copies that
invoice row ``--invoices`` times in SQL (new numbers, due dates spread over the last
120 days, one in three partly paid), so the database holds that many open documents.
Then times each dashboard figure (``mrr_series``, ``revenue_by_month``,
``receivables_ageing``) and the whole ``dashboard_figures``, the page every staff login
lands on. ``--database-url`` runs it on PostgreSQL instead (the database is dropped and
recreated: give a scratch one). With ``--write-docs`` a section is appended to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from praho.admin.metrics import dashboard_figures, mrr_series, receivables_ageing, revenue_by_month
from praho.core.app import create_app
from praho.core.clock import business_date, utcnow
from praho.core.services.setup import ensure_reference_data
from praho.core.testing import PrahoFactory, StaticTestPlugin, config_for_tests, reset_database
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent

# Copies of the template invoice: unique numbers, due dates 0-119 days back, every third
# one partly paid. Written once in the dialect both databases accept.
COPY_ROWS = """
INSERT INTO invoices ({columns})
SELECT {values} FROM invoices AS t CROSS JOIN copies AS x WHERE t.id = :template
"""


def seed(url: str, count: int) -> None:
    """A fresh database with ``count`` open invoices (plus the template's subscription)."""
    reset_database(url)
    app = create_app(config_for_tests(url, TESTING=False),
                     plugins=[("static_test", StaticTestPlugin())])
    database = app.extensions["praho.db"]
    with app.app_context(), database.transaction() as session:
        ensure_reference_data(session)
        factory = PrahoFactory(session)
        factory.subscription(start=business_date(utcnow()).replace(day=1).isoformat())
    postgres = database.dialect == "postgresql"
    with database.engine.begin() as connection:
        template = connection.execute(text("SELECT min(id) FROM invoices")).scalar_one()
        columns = [
            name for name in connection.execute(text("SELECT * FROM invoices LIMIT 1")).keys()
            if name != "id"
        ]
        day = "x.n % 120"
        changed = {
            "full_number": "t.full_number || '-' || x.n",
            "number": "t.number + x.n",
            "due_date": (f"t.due_date - ({day}) * interval '1 day'" if postgres
                         else f"date(t.due_date, '-' || ({day}) || ' days')"),
            "paid_minor": "CASE WHEN x.n % 3 = 0 THEN t.total_minor / 2 ELSE 0 END",
        }
        values = ", ".join(changed.get(name, f"t.{name}") for name in columns)
        series = (f"CREATE TEMP TABLE copies AS SELECT generate_series(1, {count}) AS n"
                  if postgres else
                  f"CREATE TEMP TABLE copies AS WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL "
                  f"SELECT n + 1 FROM s WHERE n < {count}) SELECT n FROM s")
        connection.execute(text(series))
        connection.execute(text(COPY_ROWS.format(columns=", ".join(columns), values=values)),
                           {"template": template})
    database.dispose()


def measure(url: str) -> dict[str, float]:
    """Seconds for each dashboard figure and for the whole page's figures."""
    app = create_app(config_for_tests(url, TESTING=False),
                     plugins=[("static_test", StaticTestPlugin())])
    database = app.extensions["praho.db"]
    today = business_date(utcnow())
    timings: dict[str, float] = {}
    with app.app_context():
        session = database.session_factory()
        try:
            for name, figure in (("mrr_series", mrr_series), ("revenue_by_month", revenue_by_month),
                                 ("receivables_ageing", receivables_ageing),
                                 ("dashboard_figures", dashboard_figures)):
                started = time.perf_counter()
                figure(session, today)
                timings[name] = time.perf_counter() - started
            open_count = session.execute(text("SELECT count(*) FROM invoices")).scalar_one()
            ageing = receivables_ageing(session, today)
        finally:
            session.close()
    database.dispose()
    timings["invoices"] = float(open_count)
    print("receivables ageing (minor units):", ageing)
    return timings


def main() -> None:
    """Seed, time, print and optionally record the figures."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--database-url", default=None,
                        help="a scratch PostgreSQL database (dropped and recreated)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    if args.database_url:
        url = args.database_url
    else:
        handle, path = tempfile.mkstemp(suffix=".db")
        os.close(handle)
        url = f"sqlite:///{path}"
    seed(url, args.invoices)
    timings = measure(url)
    engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    lines = [
        f"## Dashboard with {int(timings['invoices']):,} open invoices "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"`bench/bench_dashboard.py --invoices {args.invoices}`, {engine}, one process. "
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU(s), {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}.",
        "",
        "| figure | seconds |",
        "|---|---|",
        *(f"| `{name}` | {seconds:.2f} |" for name, seconds in timings.items()
          if name != "invoices"),
        "",
    ]
    print("\n".join(lines))
    if args.write_docs:
        with (ROOT / "docs" / "benchmarks.md").open("a", encoding="utf-8") as handle:
            handle.write("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
