"""Running the Alembic history from Python (CLI, tests) with the app's database URL."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import praho.migrations
import praho.plugins
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(praho.migrations.__path__[0])


def import_all_models() -> None:
    """Import the core models, the back office's and every built-in plugin's ``models`` module."""
    importlib.import_module("praho.core.models")
    importlib.import_module("praho.admin.models")
    for module in pkgutil.iter_modules(praho.plugins.__path__):
        try:
            importlib.import_module(f"praho.plugins.{module.name}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"praho.plugins.{module.name}.models":
                raise


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at migrations/ and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision``."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the database behind ``engine`` to ``revision`` (``base`` empties it)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def compare_type(context, inspected_column, metadata_column, inspected_type, metadata_type):  # type: ignore[no-untyped-def]
    """Compare our TypeDecorators by the type they become on this dialect.

    Without this, Alembic compares ExactDecimal (TEXT on SQLite, NUMERIC on PostgreSQL)
    with what the database reports and sees a difference that is not there.
    """
    from sqlalchemy import Column
    from sqlalchemy.types import TypeDecorator

    if not isinstance(metadata_type, TypeDecorator):
        return None
    impl = metadata_type.load_dialect_impl(context.dialect)
    return context.impl.compare_type(inspected_column, Column(metadata_column.name, impl))
