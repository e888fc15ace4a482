"""Declarative base, column types and the engine/session helpers.

Services receive a ``Session`` and only flush; whoever called them (a request, a
Celery task, a CLI command, a test) owns the transaction and commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every PRAHO model, core and plugins alike (one metadata, one history)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so we store UTC naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def __repr__(self) -> str:
        return "UTCDateTime()"

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; use UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC on PostgreSQL; text on SQLite, whose REAL would lose exactness."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 18, scale: int = 6) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale

    def __repr__(self) -> str:
        # Alembic renders custom types with repr(): keep precision and scale in migrations.
        return f"ExactDecimal({self.precision}, {self.scale})"

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        quantized = Decimal(value).quantize(Decimal(1).scaleb(-self.scale))
        return str(quantized) if dialect.name == "sqlite" else quantized

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(Decimal(1).scaleb(-self.scale))


# JSONB on PostgreSQL (indexable), plain JSON elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")
# BIGINT primary keys on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
MinorUnits = BigInteger


def make_engine(url: str, *, echo: bool = False, pool_size: int | None = None,
                pre_ping: bool = True, autocommit: bool = False) -> Engine:
    """Create an engine; SQLite gets foreign keys on and a busy timeout.

    ``pre_ping`` (server databases) checks each pooled connection with a round trip before
    lending it; turn it off only where a dead connection is handled by retrying.
    ``autocommit`` (server databases) makes every connection run each statement as its own
    transaction; such a connection holds no transaction to roll back when it returns to
    the pool, so none is sent.
    """
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = pre_ping
        if pool_size:
            kwargs["pool_size"] = pool_size
        if autocommit:
            kwargs["isolation_level"] = "AUTOCOMMIT"
            kwargs["pool_reset_on_return"] = None
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit
            # BEGIN itself (the recipe from the SQLAlchemy SQLite dialect docs).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN")

    return engine


class Database:
    """One engine, a session factory, and a scoped session for request/app contexts."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.session = scoped_session(self.session_factory)
        # PostgreSQL runs a lone statement as its own transaction: no BEGIN and COMMIT
        # round trips for work that is one statement (the webhook endpoint's insert), and
        # no ping before it either: a dead connection is retried instead (see
        # execute_single_statement). Its own pool.
        self._single_statement_engine = (
            make_engine(url, echo=echo, pre_ping=False, autocommit=True)
            if self.engine.dialect.name == "postgresql"
            else None
        )
        self._compiled: dict[int, tuple[TextClause, str]] = {}

    @property
    def dialect(self) -> str:
        """``postgresql`` or ``sqlite``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A fresh session committed on success and rolled back on any error."""
        session = self.session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def execute_single_statement(self, statement: TextClause, params: dict[str, Any]) -> Any:
        """The first column of the first row ``statement`` returns (None when it returns
        none), committed as it runs.

        For a hot path whose whole unit of work is one idempotent statement (the webhook
        endpoint's insert-once, run for every delivery). On PostgreSQL it goes straight to
        a pooled psycopg connection in autocommit: the statement is compiled once, and no
        session, execution context, BEGIN, COMMIT, ping or reset is paid per call, which
        together cost more than the insert. Dicts and lists are sent as JSON text (the
        compiled statement casts them to the column's type). A connection found dead (the
        database restarted) is dropped and the statement runs once more on a fresh one,
        which is why it must be safe to repeat. On SQLite it runs through SQLAlchemy in a
        transaction committed at the end.
        """
        if self._single_statement_engine is None:
            with self.engine.begin() as connection:
                return connection.execute(statement, params).scalar_one_or_none()
        sql = self._driver_sql(statement)
        values = {
            name: json.dumps(value) if isinstance(value, dict | list) else value
            for name, value in params.items()
        }
        try:
            return self._execute_on_pooled(sql, values)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        return self._execute_on_pooled(sql, values)

    def _driver_sql(self, statement: TextClause) -> str:
        cached = self._compiled.get(id(statement))
        if cached is None or cached[0] is not statement:
            assert self._single_statement_engine is not None
            dialect = self._single_statement_engine.dialect
            cached = (statement, str(statement.compile(dialect=dialect)))
            self._compiled[id(statement)] = cached
        return cached[1]

    def _execute_on_pooled(self, sql: str, values: dict[str, Any]) -> Any:
        assert self._single_statement_engine is not None
        engine = self._single_statement_engine
        pooled = engine.raw_connection()
        cursor = None
        dead = False
        try:
            cursor = pooled.cursor()
            cursor.execute(sql, values)
            row = cursor.fetchone() if cursor.description else None
            cursor.close()
        except engine.dialect.loaded_dbapi.Error as error:
            dead = engine.dialect.is_disconnect(error, pooled.dbapi_connection, cursor)
            if dead:
                pooled.invalidate(error)
                # The database went away: every idle connection of the pool is as dead as
                # this one, so the retry must not take the next of them.
                engine.dispose()
            raise DBAPIError.instance(sql, values, error, engine.dialect.loaded_dbapi.Error,
                                      connection_invalidated=dead) from error
        finally:
            if not dead:
                pooled.close()  # back to the pool, whatever happened
        return None if row is None else row[0]

    def remove(self) -> None:
        """Drop the scoped session of the current context (request or task teardown)."""
        self.session.remove()

    def dispose(self) -> None:
        """Close every pooled connection (after fork, or at shutdown)."""
        self.session.remove()
        self.engine.dispose()
        if self._single_statement_engine is not None:
            self._single_statement_engine.dispose()


def is_postgres(session: Session) -> bool:
    """True when the session talks to PostgreSQL (row locks and triggers are real)."""
    bind = session.get_bind()
    return bind.dialect.name == "postgresql"
