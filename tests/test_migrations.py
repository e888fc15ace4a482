"""The Alembic history: empty -> head -> base, and no drift between models and head."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from praho.core import migrations
from praho.core.db import Base, make_engine
from praho.core.testing import TEST_DB_ENV
from sqlalchemy import create_engine, inspect, text


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """A brand-new empty database of each kind (PostgreSQL only when configured)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    yield from _empty_postgres_database()


@pytest.fixture
def empty_postgres_database():
    """A brand-new empty PostgreSQL database (skipped when none is configured)."""
    yield from _empty_postgres_database()


def _empty_postgres_database():
    base_url = os.environ.get(TEST_DB_ENV, "")
    if not base_url.startswith("postgresql"):
        pytest.skip(f"needs PostgreSQL: set {TEST_DB_ENV}")
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    name = f"{admin.url.database}_migrations"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_head_matches_models_and_downgrade_to_base(empty_database):
    engine = make_engine(empty_database)
    migrations.upgrade(engine)
    migrations.import_all_models()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": migrations.compare_type})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations disagree; add a migration: {diff}"
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())

    migrations.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(engine)  # and back up again
    engine.dispose()


def test_history_is_linear():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, "the migration history has several heads; chain them"


def _payload_compression(engine):
    with engine.connect() as connection:
        return connection.execute(text(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = 'webhook_events'::regclass AND attname = 'payload'"
        )).scalar_one()


def test_webhook_payloads_are_compressed_with_lz4_on_postgresql(empty_postgres_database):
    engine = make_engine(empty_postgres_database)
    migrations.upgrade(engine)
    assert _payload_compression(engine) == "l"
    with engine.begin() as connection:  # a stored payload large enough to compress
        connection.execute(text(
            "INSERT INTO webhook_events (source, event_id, event_type, payload, status, "
            "attempts, received_at) VALUES ('probe', 'ev_1', 'probe', "
            "jsonb_build_object('pad', repeat('x', 4000)), 'ignored', 0, now())"
        ))
        assert connection.execute(text(
            "SELECT pg_column_compression(payload) FROM webhook_events"
        )).scalar_one() == "lz4"
    migrations.downgrade(engine, "1300_usage_event_keys")
    assert _payload_compression(engine) == ""  # the server's default again
    engine.dispose()
