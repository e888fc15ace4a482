"""Alembic environment: one history for the core and the built-in plugins.

The URL comes from the Alembic config (set by ``praho db`` commands and the tests) or
from ``PRAHO_DATABASE_URL``. Every built-in plugin's models are imported so that
autogenerate sees the whole schema.
"""

from __future__ import annotations

import os

from alembic import context

from praho.core.db import Base, make_engine
from praho.core.migrations import compare_type, import_all_models

import_all_models()
config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("PRAHO_DATABASE_URL")
    if not url:
        raise RuntimeError("set PRAHO_DATABASE_URL or use `praho db upgrade`")
    return url


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade --sql``)."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True, compare_type=compare_type)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a live database; SQLite uses batch mode for ALTERs."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=compare_type)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
