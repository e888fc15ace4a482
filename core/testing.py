"""pytest fixtures for PRAHO and for plugin authors (entry point ``pytest11``).

Tests run on a SQLite file by default and on PostgreSQL when
``PRAHO_TEST_DATABASE_URL`` is set (CI sets it). The schema is built once per test
session by the real Alembic history. ``praho_session`` runs each test inside a
transaction that is rolled back; ``praho_committing`` is for tests that need real
commits (concurrency, Celery workers, HTTP servers) and empties the tables afterwards.

Tests marked ``postgres`` are skipped unless the database is PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from praho.core.db import Base, make_engine
from praho.core.hookspecs import hookimpl
from praho.core.tax import ExchangeRateQuote, TaxDecision, TaxRequest
from sqlalchemy import text
from sqlalchemy.orm import Session

TEST_DB_ENV = "PRAHO_TEST_DATABASE_URL"


# ---------------------------------------------------------------------------
# Test doubles that plugin authors may register with create_app(plugins=...)
# ---------------------------------------------------------------------------


@dataclass
class StaticTaxRegime:
    """A predictable tax regime for tests: one country's rates, nothing else.

    Domestic lines get ``standard``/``reduced`` rates by tax class; exempt lines get
    category E; any foreign buyer gets category O. Real VAT rules live in plugins
    (``eu_vat``); this double only lets tests of other features issue documents.
    """

    id: str = "static"
    standard: Decimal = Decimal("21")
    reduced: Decimal = Decimal("11")

    def decide(self, session: Session, request: TaxRequest) -> TaxDecision:
        """Decide by tax class and buyer country only."""
        if request.buyer.country != request.seller.country:
            return TaxDecision("O", Decimal(0), "static test regime: foreign buyer",
                               exemption_code="VATEX-EU-O", exemption_reason="Not subject to VAT")
        if request.tax_class == "exempt":
            return TaxDecision("E", Decimal(0), "static test regime: exempt",
                               exemption_code="VATEX-EU-132", exemption_reason="Exempt")
        if request.tax_class == "zero":
            return TaxDecision("Z", Decimal(0), "static test regime: zero rated")
        rate = self.reduced if request.tax_class.startswith("reduced") else self.standard
        return TaxDecision("S", rate, f"static test regime: {rate}%")


@dataclass
class StaticTestPlugin:
    """A plugin registering :class:`StaticTaxRegime` and fixed exchange rates."""

    regime: StaticTaxRegime = field(default_factory=StaticTaxRegime)
    rates: dict[str, Decimal] = field(default_factory=lambda: {"EUR": Decimal("4.9750"),
                                                                "USD": Decimal("4.3000")})

    @hookimpl
    def register_tax_regimes(self) -> list[Any]:
        """The static regime."""
        return [self.regime]

    @hookimpl
    def resolve_exchange_rate(self, currency: str, on_date: date) -> ExchangeRateQuote | None:
        """A fixed rate per currency, dated the day asked."""
        if currency not in self.rates:
            return None
        return ExchangeRateQuote(currency, self.rates[currency], on_date, "static-test")


# ---------------------------------------------------------------------------
# Database and application fixtures
# ---------------------------------------------------------------------------


def database_url_for_tests(tmp_dir: str) -> str:
    """PRAHO_TEST_DATABASE_URL, or a SQLite file in ``tmp_dir``."""
    return os.environ.get(TEST_DB_ENV) or f"sqlite:///{os.path.join(tmp_dir, 'praho-test.db')}"


def reset_database(url: str) -> None:
    """Drop everything and build the schema from the migration history."""
    from praho.core import migrations

    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    migrations.upgrade(engine)
    engine.dispose()


def config_for_tests(url: str, **overrides: Any) -> dict[str, Any]:
    """Settings for an application under test."""
    config: dict[str, Any] = {
        "DATABASE_URL": url,
        "ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "BROKER_URL": None,
        "SESSION_COOKIE_SECURE": False,
        "WTF_CSRF_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    config.update(overrides)
    return config


def truncate_all(database: Any) -> None:
    """Empty every table (after a committing test) and restore reference data."""
    from praho.core.migrations import import_all_models
    from praho.core.services.setup import ensure_reference_data

    import_all_models()
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as connection:
        if database.engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
    with database.transaction() as session:
        ensure_reference_data(session)


@pytest.fixture(scope="session")
def praho_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test database, built from the migrations once per session."""
    url = database_url_for_tests(str(tmp_path_factory.mktemp("praho-db")))
    reset_database(url)
    from praho.core.services.setup import ensure_reference_data

    engine = make_engine(url)
    with Session(engine) as session:
        ensure_reference_data(session)
        session.commit()
    engine.dispose()
    return url


@pytest.fixture
def praho_plugins() -> list[tuple[str, Any]]:
    """Extra plugins registered on the test app; override in a conftest to change them."""
    return [("static_test", StaticTestPlugin())]


@pytest.fixture
def praho_config() -> dict[str, Any]:
    """Extra settings for the test app; override in a conftest to change them."""
    return {}


@pytest.fixture
def praho_app(praho_database_url: str, praho_plugins: list[tuple[str, Any]],
              praho_config: dict[str, Any]) -> Iterator[Flask]:
    """A PRAHO app on the test database, inside an app context."""
    from praho.core.app import create_app

    app = create_app(config_for_tests(praho_database_url, **praho_config), plugins=praho_plugins)
    with app.app_context():
        yield app
    app.extensions["praho.db"].dispose()


@pytest.fixture
def praho_session(praho_app: Flask) -> Iterator[Session]:
    """A session whose work is rolled back after the test (commits become savepoints)."""
    database = praho_app.extensions["praho.db"]
    connection = database.engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint",
                      expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def praho_committing(praho_app: Flask) -> Iterator[Any]:
    """The app's Database for tests that commit; every table is emptied afterwards."""
    database = praho_app.extensions["praho.db"]
    truncate_all(database)
    try:
        yield database
    finally:
        database.session.remove()
        truncate_all(database)


@pytest.fixture
def praho_factory(praho_session: Session) -> PrahoFactory:
    """Builders for sellers, customers, products and documents on ``praho_session``."""
    return PrahoFactory(praho_session)


@dataclass
class SmtpServer:
    """A real local SMTP server (aiosmtpd) that keeps every message it receives."""

    host: str
    port: int
    messages: list[Any] = field(default_factory=list)

    def to(self, address: str) -> list[Any]:
        """Messages addressed to ``address``."""
        return [m for m in self.messages if address in m["To"]]


@pytest.fixture
def praho_smtp(praho_app: Flask) -> Iterator[SmtpServer]:
    """An SMTP server on a free port; the test app sends its e-mail there."""
    import email
    import email.policy
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = SmtpServer("127.0.0.1", port)

    class Collect:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
            server.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
            return "250 OK"

    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    previous = {k: praho_app.config.get(k) for k in ("SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_STARTTLS")}
    praho_app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_USER=None, SMTP_STARTTLS=False)
    try:
        yield server
    finally:
        controller.stop()
        praho_app.config.update(previous)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``postgres`` unless PRAHO_TEST_DATABASE_URL is PostgreSQL."""
    url = os.environ.get(TEST_DB_ENV, "")
    if url.startswith("postgresql"):
        return
    skip = pytest.mark.skip(reason=f"needs PostgreSQL: set {TEST_DB_ENV}")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


# ---------------------------------------------------------------------------
# Fuzzing (hypothesis): shared settings and the count of inputs tried
# ---------------------------------------------------------------------------

FUZZ_EXAMPLES_ENV = "PRAHO_FUZZ_EXAMPLES"
FUZZ_REPORT_ENV = "PRAHO_FUZZ_REPORT"
FUZZ_TRIED: dict[str, int] = {}


def fuzz_settings(factor: float = 1.0) -> Any:
    """Hypothesis settings for a fuzz target: ``PRAHO_FUZZ_EXAMPLES`` (default 40) x ``factor``.

    Runs are derandomized (the same inputs every run, so CI is stable) unless
    ``PRAHO_FUZZ_RANDOM`` is set; long runs set ``PRAHO_FUZZ_EXAMPLES=20000``.
    """
    from hypothesis import HealthCheck, settings

    examples = int(os.environ.get(FUZZ_EXAMPLES_ENV, "40"))
    return settings(
        max_examples=max(1, int(examples * factor)),
        deadline=None,
        derandomize=not os.environ.get("PRAHO_FUZZ_RANDOM"),
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def fuzz_tried(target: str) -> None:
    """Count one input run against a fuzz target (printed at the end of the run)."""
    FUZZ_TRIED[target] = FUZZ_TRIED.get(target, 0) + 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how many inputs each fuzz target ran; save them to ``PRAHO_FUZZ_REPORT``."""
    if not FUZZ_TRIED:
        return
    terminalreporter.write_sep("-", "fuzz inputs tried per target")
    for target, count in sorted(FUZZ_TRIED.items()):
        terminalreporter.write_line(f"{target:<48} {count:>9}")
    report = os.environ.get(FUZZ_REPORT_ENV)
    if report:
        import json

        with open(report, "w", encoding="utf-8") as handle:
            json.dump(dict(sorted(FUZZ_TRIED.items())), handle, indent=2)


# ---------------------------------------------------------------------------
# Object builders
# ---------------------------------------------------------------------------

DEFAULT_NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    """Poll ``predicate`` every 0.2 s until it is true; fail the test after ``timeout`` s."""
    import time as clock

    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        if predicate():
            return
        clock.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_worker_process(script: Any, args: list[str], log: Any) -> Any:
    """Run a worker script (a real Celery worker) in its own session, output to ``log``.

    Kill it with ``os.killpg(process.pid, signal.SIGKILL)``: its own process group holds
    the worker and anything it started.
    """
    import subprocess
    import sys

    output = open(log, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, str(script), *args], stdout=output,  # noqa: S603
                            stderr=subprocess.STDOUT, cwd=str(script.parent),
                            start_new_session=True)


def stop_worker_processes(processes: Any) -> None:
    """Kill what :func:`start_worker_process` started and is still running (None skipped)."""
    import os
    import signal

    for process in processes:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def worker_ready(log: Any) -> bool:
    """True once a Celery worker writing to ``log`` said it is ready to take tasks."""
    return bool(log.exists() and "ready." in log.read_text())


def at(day: date | str, hour: int = 12, minute: int = 0) -> datetime:
    """The instant of a Bucharest wall-clock time on ``day`` (aware UTC), for test clocks."""
    from praho.core.clock import BUCHAREST

    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime.combine(day, time(hour, minute), tzinfo=BUCHAREST).astimezone(UTC)


class PrahoFactory:
    """Creates valid objects through the public services, with overridable defaults."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._seq = 0

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def seller(self, **overrides: Any) -> Any:
        """The default seller (created once): a Bucharest hosting company."""
        from praho.core.models import Seller
        from sqlalchemy import select

        existing = self.session.execute(select(Seller).where(Seller.is_default.is_(True))).scalar_one_or_none()
        if existing is not None and not overrides:
            return existing
        values = {
            "code": f"SELLER{self._next()}", "legal_name": "PRAHO Hosting SRL", "cui": "14399840",
            "vat_id": "RO14399840", "vat_payer": True, "trade_register": "J40/1234/2015",
            "street": "Str. Exemplu 1", "city": "SECTOR1", "postal_code": "010011",
            "county": "RO-B", "country": "RO", "iban": "RO49AAAA1B31007593840000",
            "bank_name": "Banca Exemplu", "email": "billing@praho.test", "tax_regime": "static",
            "is_default": existing is None,
        }
        values.update(overrides)
        seller = Seller(**values)
        self.session.add(seller)
        self.session.flush()
        return seller

    def customer(self, **overrides: Any) -> Any:
        """A valid Romanian company customer unless overridden."""
        from praho.core.services.customers import CustomerInput, create_customer

        self.seller()
        n = self._next()
        values: dict[str, Any] = {
            "legal_name": f"Client {n} SRL", "email": f"client{n}@example.ro",
            "street": "Str. Clientului 5", "city": "Cluj-Napoca", "county": "RO-CJ",
            "country": "RO", "cui": "14399840", "vat_id": "RO14399840",
        }
        values.update(overrides)
        now = values.pop("now", DEFAULT_NOW)
        return create_customer(self.session, CustomerInput.from_mapping(values), now=now)

    def product(self, **overrides: Any) -> Any:
        """A standard-rated hosting product."""
        from praho.core.services.catalog import create_product

        n = self._next()
        values = {"code": f"HOST-{n}", "name": f"Web Hosting {n}"}
        values.update(overrides)
        return create_product(self.session, **values)

    def price(self, product: Any = None, **overrides: Any) -> Any:
        """A monthly RON price of 50.00 effective from 2020."""
        from praho.core.services.catalog import create_price

        product = product or self.product()
        values: dict[str, Any] = {
            "code": f"{product.code}-M-{self._next()}", "currency": "RON", "unit_amount_minor": 5000,
            "interval_months": 1, "effective_from": date(2020, 1, 1),
        }
        values.update(overrides)
        return create_price(self.session, product=product, **values)

    def draft(self, customer: Any = None, lines: list[tuple[str, str, str]] | None = None,
              **overrides: Any) -> Any:
        """A draft with (item, quantity, unit price) lines; one hosting line by default."""
        from praho.core.pricing import DraftLine
        from praho.core.services.invoicing import create_draft

        customer = customer or self.customer()
        specs = lines or [("Web Hosting Pro", "1", "100.00")]
        # Strings go through as given: the services validate and convert them.
        draft_lines = [DraftLine(item_name=name, quantity=q, unit_price=p)  # type: ignore[arg-type]
                       for name, q, p in specs]
        overrides.setdefault("now", DEFAULT_NOW)
        return create_draft(self.session, customer=customer, lines=draft_lines, **overrides)

    def subscription(self, price: Any = None, customer: Any = None, *,
                     start: str | date = "2026-01-31", quantity: int | str = 1,
                     addons: list[Any] | tuple[Any, ...] = (), **overrides: Any) -> Any:
        """A subscription to ``price`` (a 50.00 RON monthly price by default), first period billed.

        ``start`` is the first day; ``now`` defaults to 09:00 in Bucharest that day.
        """
        from praho.core.services.subscriptions import ItemSpec, create_subscription

        start_day = date.fromisoformat(start) if isinstance(start, str) else start
        price = price or self.price()
        customer = customer or self.customer()
        items = [ItemSpec(price, quantity)] + [ItemSpec(addon) for addon in addons]
        overrides.setdefault("now", at(start_day, 9))
        return create_subscription(self.session, customer=customer, items=items,
                                   start_date=start_day, **overrides)

    def invoice(self, customer: Any = None, lines: list[tuple[str, str, str]] | None = None,
                now: datetime = DEFAULT_NOW, **overrides: Any) -> Any:
        """An issued invoice."""
        from praho.core.services.issuing import issue_document

        document = self.draft(customer, lines, now=now, **overrides)
        return issue_document(self.session, document, now=now)
