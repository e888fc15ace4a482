"""``Database.execute_single_statement``: the webhook endpoint's one-statement hot path.

On PostgreSQL it bypasses SQLAlchemy's execution layer for a pooled psycopg connection in
autocommit; these tests hold it to what the SQLAlchemy path does on every backend.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from praho.core.db import Database, JSONDocument, UTCDateTime
from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError, IntegrityError

WHEN = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)

INSERT = text(
    "INSERT INTO webhook_events (source, event_id, event_type, payload, status, attempts, "
    "received_at) VALUES (:source, :event_id, 'probe', :payload, 'ignored', 0, :at) "
    "ON CONFLICT (source, event_id) DO NOTHING RETURNING id"
).bindparams(bindparam("payload", type_=JSONDocument), bindparam("at", type_=UTCDateTime()))
# No ON CONFLICT: a second insert of one event id breaks the unique constraint.
INSERT_STRICT = text(
    "INSERT INTO webhook_events (source, event_id, event_type, payload, status, attempts, "
    "received_at) VALUES (:source, :event_id, 'probe', :payload, 'ignored', 0, :at) "
    "RETURNING id"
).bindparams(bindparam("payload", type_=JSONDocument), bindparam("at", type_=UTCDateTime()))


@pytest.fixture
def database(praho_app):
    db = praho_app.extensions["praho.db"]
    yield db
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM webhook_events WHERE source = 'single'"))


def _params(event_id, payload):
    return {"source": "single", "event_id": event_id, "payload": payload, "at": WHEN}


def test_a_statement_commits_as_it_runs_and_returns_its_first_column(database: Database):
    payload = {"amount": 1000, "lines": [{"name": "Găzduire"}], "note": None}
    new_id = database.execute_single_statement(INSERT, _params("ev_a", payload))
    assert isinstance(new_id, int)
    # Nothing to return (the conflict): None, and nothing changed.
    assert database.execute_single_statement(INSERT, _params("ev_a", {"other": 1})) is None
    with database.engine.connect() as connection:  # another connection sees it committed
        stored, at = connection.execute(
            text("SELECT payload, received_at FROM webhook_events WHERE id = :id")
            .columns(payload=JSONDocument, received_at=UTCDateTime()),
            {"id": new_id},
        ).one()
    assert stored == payload and at == WHEN


def test_a_refused_statement_raises_and_leaves_the_pool_usable(database: Database):
    assert database.execute_single_statement(INSERT_STRICT, _params("ev_b", {})) is not None
    for _ in range(3):  # more times than the pool would hide a broken connection
        with pytest.raises(IntegrityError):
            database.execute_single_statement(INSERT_STRICT, _params("ev_b", {}))
    assert database.execute_single_statement(INSERT, _params("ev_c", {})) is not None
    with pytest.raises(DBAPIError):
        database.execute_single_statement(text("SELECT * FROM no_such_table"), {})
    assert database.execute_single_statement(text("SELECT 41 + 1"), {}) == 42


def test_after_a_database_restart_the_next_statement_runs_on_a_fresh_connection(
    database: Database,
):
    if database.dialect != "postgresql":
        pytest.skip("needs PostgreSQL: set PRAHO_TEST_DATABASE_URL")
    engine = database._single_statement_engine
    held = [engine.raw_connection() for _ in range(3)]  # three idle connections in the pool
    pids = []
    for connection in held:
        cursor = connection.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        pids.append(cursor.fetchone()[0])
        cursor.close()
    for connection in held:
        connection.close()
    with database.engine.connect() as admin:  # a restart, as far as these sessions know
        for pid in pids:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    for number in range(4):
        assert database.execute_single_statement(INSERT, _params(f"ev_r{number}", {})) > 0
