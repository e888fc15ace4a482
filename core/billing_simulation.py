"""Time simulation (a "test clock"): replay days of billing on a copy of the data.

Because every service takes ``now``, billing a day is the same code whatever the day.
``praho billing simulate --from D1 --to D2`` copies the database, runs the billing run
for every day from D1 to D2 (at noon, Bucharest time) against the copy, reports what
each day issued, ended and failed, and drops the copy. The live data is never touched.

How the copy is made:

* **SQLite**: SQLite's online backup API (``sqlite3.Connection.backup``) copies the
  database file page by page into a temporary file; it is consistent even while the
  application is writing.
* **PostgreSQL**: a new database ``<name>_sim_<timestamp>`` is created and filled with
  ``pg_dump --format=custom <live> | pg_restore --dbname <copy>``. ``pg_dump`` reads one
  consistent snapshot and works while workers and the web app use the live database
  (``CREATE DATABASE ... TEMPLATE`` would need every other connection closed first).
  The PostgreSQL client tools must be installed (``postgresql-client``).

Plugins receive the usual hooks during a simulation; ``session.info["praho.simulation"]``
is True so a provisioning plugin can tell a replay from real life.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from praho.core.clock import noon_of
from praho.core.db import Database, make_engine
from praho.core.errors import FieldError, PrahoError
from praho.core.models.billing_runs import BillingRun
from praho.core.services.billing_run import run_billing
from sqlalchemy import text
from sqlalchemy.engine import make_url

SIMULATION_FLAG = "praho.simulation"
MAX_SIMULATED_DAYS = 3660


class SimulationError(PrahoError):
    """The copy could not be made or dropped (missing tools, permissions)."""

    code = "simulation_error"


@dataclass(frozen=True)
class SimulatedDay:
    """What the billing run did on one simulated day."""

    day: date
    run_id: int
    issued: int
    ended: int
    failed: int
    amounts: dict[str, int]
    failures: list[dict[str, object]]
    charged: int = 0
    declined: int = 0
    collection_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class SimulationReport:
    """Every simulated day, and the totals over the whole range."""

    start: date
    end: date
    days: list[SimulatedDay] = field(default_factory=list)

    @property
    def documents_issued(self) -> int:
        """Documents issued over the whole range."""
        return sum(day.issued for day in self.days)

    def amounts_by_currency(self) -> dict[str, int]:
        """Totals of the documents issued, per currency."""
        totals: dict[str, int] = {}
        for day in self.days:
            for currency, amount in day.amounts.items():
                totals[currency] = totals.get(currency, 0) + amount
        return totals


def check_range(start: date, end: date) -> None:
    """A simulation runs forwards over at most ten years."""
    if end < start:
        raise FieldError("to", f"{end} is before {start}")
    if (end - start).days > MAX_SIMULATED_DAYS:
        raise FieldError("to", f"at most {MAX_SIMULATED_DAYS} days can be simulated at once")


def simulate(
    database: Database,
    start: date,
    end: date,
    *,
    on_day: Callable[[SimulatedDay], None] | None = None,
    collect: bool = True,
) -> SimulationReport:
    """Run the billing run for each day from ``start`` to ``end`` against ``database``.

    Each day commits on its own, as the nightly run does. With ``collect`` (the default)
    each day then does what follows the nightly run: the day's invoices are charged
    (cards on file, customer credit) and the collection run chases what is unpaid
    (retries, reminders, suspension). Use a copy (see :func:`copy_database`) unless
    ``database`` is disposable.
    """
    check_range(start, end)
    report = SimulationReport(start, end)
    day = start
    while day <= end:
        with database.transaction() as session:
            session.info[SIMULATION_FLAG] = True
            run: BillingRun = run_billing(session, now=noon_of(day))
            counts = run.summary["counts"]
            result = SimulatedDay(
                day=day,
                run_id=run.id,
                issued=counts.get("issued", 0),
                ended=counts.get("ended", 0),
                failed=counts.get("failed", 0),
                amounts=dict(run.summary["amounts"]),
                failures=list(run.summary["failures"]),
            )
        if collect:
            result = _collect_day(database, result, noon_of(day))
        report.days.append(result)
        if on_day:
            on_day(result)
        day += timedelta(days=1)
    return report


def copy_database(url: str) -> str:
    """Copy the database at ``url``; returns the URL of the copy (see the module docstring).

    The returned URL includes the password, for connecting; print :func:`shown_url` of it.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _copy_sqlite(url)
    if parsed.get_backend_name() == "postgresql":
        return _copy_postgres(url)
    raise SimulationError(f"cannot copy a {parsed.get_backend_name()} database")


def shown_url(url: str) -> str:
    """``url`` as it may be printed or logged: the password replaced by ``***``.

    The URL :func:`copy_database` returns carries the live database's password (the copy
    is reached with the same credentials); only this form leaves the process.
    """
    return make_url(url).render_as_string(hide_password=True)


def drop_copy(url: str) -> None:
    """Remove a copy made by :func:`copy_database`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            path = f"{parsed.database}{suffix}"
            if os.path.exists(path):
                os.remove(path)
        return
    name = parsed.database
    if not name or "_sim_" not in name:
        raise SimulationError(f"refusing to drop {name!r}: not a simulation copy")
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _copy_sqlite(url: str) -> str:
    source_path = make_url(url).database
    if not source_path or source_path == ":memory:":
        raise SimulationError("an in-memory SQLite database cannot be copied")
    handle, target_path = tempfile.mkstemp(prefix="praho-sim-", suffix=".db")
    os.close(handle)
    source = sqlite3.connect(source_path)
    target = sqlite3.connect(target_path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return f"sqlite:///{target_path}"


def _copy_postgres(url: str) -> str:
    parsed = make_url(url)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    copy_name = f"{parsed.database}_sim_{stamp}"[:63]
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{copy_name}"'))
    admin.dispose()
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    common = [
        "--host",
        parsed.host or "localhost",
        "--port",
        str(parsed.port or 5432),
        "--username",
        parsed.username or "postgres",
        "--no-password",
    ]
    try:
        dump = subprocess.Popen(  # noqa: S603 - fixed program, arguments from the database URL
            ["pg_dump", "--format=custom", *common, parsed.database or ""],  # noqa: S607
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        restore = subprocess.run(  # noqa: S603 - fixed program, arguments from the database URL
            ["pg_restore", "--no-owner", "--exit-on-error", *common, "--dbname", copy_name],  # noqa: S607
            stdin=dump.stdout,
            capture_output=True,
            env=env,
            timeout=3600,
            check=False,
        )
        assert dump.stdout is not None
        dump.stdout.close()
        dump_errors = dump.stderr.read().decode() if dump.stderr else ""
        dump.wait(timeout=60)
    except FileNotFoundError as exc:
        drop_copy(parsed.set(database=copy_name).render_as_string(hide_password=False))
        raise SimulationError(
            f"{exc.filename} not found: install the PostgreSQL client tools (postgresql-client)"
        ) from None
    if dump.returncode != 0 or restore.returncode != 0:
        drop_copy(parsed.set(database=copy_name).render_as_string(hide_password=False))
        raise SimulationError(
            f"copying the database failed: {dump_errors.strip()} {restore.stderr.decode().strip()}"[
                :500
            ]
        )
    return parsed.set(database=copy_name).render_as_string(hide_password=False)


def _collect_day(database: Database, result: SimulatedDay, now: datetime) -> SimulatedDay:
    """Charge the day's invoices, then run the day's collection run (as after a nightly run)."""
    from praho.core.payment_runner import collect_issued_documents, uncollected_documents
    from praho.core.services.collections import run_collections

    documents = uncollected_documents(database, run_id=result.run_id)
    summary = collect_issued_documents(database, documents, now=now)
    with database.transaction() as session:
        session.info[SIMULATION_FLAG] = True
        run = run_collections(session, now=now)
        counts = dict((run.summary or {}).get("counts", {}))
    return replace(result, charged=summary.charged, declined=summary.declined,
                   collection_counts=counts)
