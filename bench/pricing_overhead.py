"""Benchmark: what loading the pricing plugins costs the billing run (SQLite, in process).

    .venv/bin/python bench/pricing_overhead.py --subscriptions 500

Seeds N monthly subscriptions (first period billed) in a fresh SQLite file, then times
``run_billing`` for their renewal on 28 February 2026, once with the manifest's plugins
and once without ``promotions`` and ``grandfathering``. None of the subscriptions has a
lock, a price change or a coupon: this is the cost every installation pays for having
the plugins loaded (the core's savepoint per subscription when pricing plugins answer,
the per-transaction scope queries, the ``invoice_issued`` hook).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from praho.core.app import create_app
from praho.core.services.billing_run import run_billing
from praho.core.services.setup import ensure_reference_data
from praho.core.testing import PrahoFactory, StaticTestPlugin, at, config_for_tests, reset_database

ROOT = Path(__file__).resolve().parent.parent


def measure(subscriptions: int, *, with_pricing: bool) -> float:
    """Seconds for one renewal run over ``subscriptions`` subscriptions."""
    handle, path = tempfile.mkstemp(suffix=".db")
    os.close(handle)
    url = f"sqlite:///{path}"
    reset_database(url)
    manifest = (ROOT / "plugin_manifest.toml").read_text(encoding="utf-8")
    if not with_pricing:
        manifest = manifest.split('\n[[plugin]]\nname = "promotions"')[0]
    manifest_file = Path(tempfile.mkstemp(suffix=".toml")[1])
    manifest_file.write_text(manifest, encoding="utf-8")
    config = config_for_tests(url, PLUGIN_MANIFEST=str(manifest_file), LOAD_ENTRY_POINTS=False)
    app = create_app(config, plugins=[("static_test", StaticTestPlugin())])
    try:
        with app.app_context():
            database = app.extensions["praho.db"]
            with database.transaction() as session:
                ensure_reference_data(session)
                factory = PrahoFactory(session)
                price = factory.price()
                for _ in range(subscriptions):
                    factory.subscription(price, start="2026-01-31")
            with database.transaction() as session:
                started = time.perf_counter()
                run = run_billing(session, now=at("2026-02-28"))
                elapsed = time.perf_counter() - started
            assert run.summary["counts"] == {"issued": subscriptions}
            database.dispose()
    finally:
        os.remove(path)
        manifest_file.unlink()
    return elapsed


def main() -> None:
    """Print both timings and the documents per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=500)
    args = parser.parse_args()
    for with_pricing in (False, True):
        seconds = measure(args.subscriptions, with_pricing=with_pricing)
        label = "with pricing plugins" if with_pricing else "without"
        rate = args.subscriptions / seconds
        print(f"{label:<22} {args.subscriptions} renewals  {seconds:.2f} s  {rate:.0f}/s")


if __name__ == "__main__":
    main()
