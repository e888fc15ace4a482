"""Benchmark: what collecting the billing run's invoices costs, on PostgreSQL.

    .venv/bin/python bench/payments_collect.py --subscriptions 2000 --write-docs

Seeds N due subscriptions (the billing benchmark's seed, in databases of its own), then
bills them in-process twice from fresh copies: once with no payment method on file
(billing only), once with every customer holding a default card on the fake gateway
(billing, then one charge per invoice: attempt committed before the call, payment,
allocation, ledger entry, audit events). The fake gateway answers at once, so the
difference is the core's own cost per charge; a real gateway adds its network time,
which the collection tasks spread over the workers.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, event, text

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("billing_bench", ROOT / "bench" / "billing_run.py")
assert _spec and _spec.loader
billing = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(billing)
billing.TEMPLATE = "praho_bench_pay_seed"
billing.WORK = "praho_bench_pay"


def give_cards(url: str) -> None:
    """A default fake-gateway card for every customer (tok_success: every charge succeeds)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("""
            INSERT INTO payment_methods (customer_id, gateway_id, token, kind, brand, last4,
                exp_month, exp_year, is_default, status, created_at)
            SELECT id, 'fake', 'tok_success_' || id, 'card', 'visa', '4242', 12, 2030, true,
                   'active', now()
            FROM customers
        """))
    engine.dispose()


STATEMENTS: dict[bool, int] = {}


def run(count: int, chunk_size: int, cards: bool) -> float:
    """Bill (and collect) everything in this process from a fresh copy; returns seconds.

    Also counts the SQL statements sent (``STATEMENTS``): a figure the machine's load
    does not change."""
    from praho.core.billing_runner import run_in_process
    from praho.core.clock import noon_of

    url = billing.fresh_copy()
    if cards:
        give_cards(url)
    app = billing.app_for(url)
    with app.app_context():
        database = app.extensions["praho.db"]
        sent = [0]
        event.listen(database.engine, "before_cursor_execute",
                     lambda *_args, **_kw: sent.__setitem__(0, sent[0] + 1))
        started = time.perf_counter()
        run_in_process(database, now=noon_of(billing.RUN_DAY), chunk_size=chunk_size)
        elapsed = time.perf_counter() - started
        STATEMENTS[cards] = sent[0]
        database.dispose()
    engine = create_engine(url)
    with engine.connect() as connection:
        paid, attempts, payments = connection.execute(text("""
            SELECT (SELECT count(*) FROM invoices WHERE payment_status = 'paid'),
                   (SELECT count(*) FROM payment_attempts),
                   (SELECT count(*) FROM payments)""")).one()
    engine.dispose()
    expected = count if cards else 0
    assert (paid, attempts, payments) == (expected, expected, expected), (paid, attempts, payments)
    return elapsed


def main() -> None:
    """Seed, measure both cases (best of ``--repeat``), print, optionally write the docs."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscriptions", type=int, default=2000)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    billing.seed(args.subscriptions)
    load_before = os.getloadavg()[0]
    results = {}
    for cards in (False, True):
        runs = [run(args.subscriptions, args.chunk_size, cards) for _ in range(args.repeat)]
        results[cards] = runs
        print(f"cards={cards}: {', '.join(f'{r:.1f}' for r in runs)} s")
    billing.admin(f'DROP DATABASE IF EXISTS "{billing.WORK}" WITH (FORCE)')
    billing.admin(f'DROP DATABASE IF EXISTS "{billing.TEMPLATE}" WITH (FORCE)')
    best_bill, best_both = min(results[False]), min(results[True])
    per_charge_ms = (best_both - best_bill) / args.subscriptions * 1000
    args.statements = (STATEMENTS[True] - STATEMENTS[False]) / args.subscriptions
    print(f"{args.statements:.1f} SQL statements per charge")
    args.load = (load_before, os.getloadavg()[0])
    print(f"collection: {per_charge_ms:.1f} ms per charge, "
          f"{args.subscriptions / (best_both - best_bill):.0f} charges/s")
    if args.write_docs:
        with open(ROOT / "docs" / "benchmarks.md", "a", encoding="utf-8") as docs:
            docs.write(report(args, results, per_charge_ms))


def report(args: argparse.Namespace, results: dict[bool, list[float]], per_charge_ms: float) -> str:
    """The docs/benchmarks.md section."""
    n = args.subscriptions
    rows = "\n".join(
        f"| {label} | {min(results[cards]):.1f} | "
        f"{', '.join(f'{r:.1f}' for r in results[cards])} | {n / min(results[cards]):,.0f} |"
        for cards, label in ((False, "billing only (no method on file)"),
                             (True, "billing + charging every invoice (fake gateway)")))
    return f"""
## Collecting the billing run's invoices ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)

`bench/payments_collect.py --subscriptions {n} --chunk-size {args.chunk_size}`, in-process,
PostgreSQL, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python
{platform.python_version()}; load average {args.load[0]:.2f} before, {args.load[1]:.2f} after (the
machine is shared with other sessions: figures are upper bounds).
Each charge: the attempt written and committed before the gateway call, the call (the
fake gateway answers at once), then the payment, its allocation, the invoice's payment
status, the ledger entry (clearing less fee, fee, receivable) and the audit events, in
short transactions of their own.

| case | best of {args.repeat} (s) | all runs (s) | invoices/s (best) |
|---|---:|---|---:|
{rows}

The core's own cost of collecting is about {per_charge_ms:.1f} ms per invoice
({1000 / per_charge_ms:,.0f} charges/s in one process) on this loaded machine, and
{args.statements:.1f} SQL statements per charge (two commits: the attempt before the gateway
call, the outcome after; one seal of the audit chain). Compare the billing-only line
with the billing benchmark above to see how much the load inflates the times.
A real gateway adds its network time (Stripe answers in roughly 0.3-1 s), which is
why, with a broker, collection runs as `praho.payments.collect_invoices` tasks
spread over the workers rather than inside the chunk.
"""


if __name__ == "__main__":
    main()
