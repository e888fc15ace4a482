"""Secrets: only from the environment or a secrets file outside the repository."""

from __future__ import annotations

import pytest
from praho.core.config import ConfigError, load_settings
from praho.core.credentials import (
    PROJECT_ROOT,
    SecretSourceError,
    env_or_file,
    inside_project,
    read_secret_file,
)
from praho.core.errors import PluginError
from praho.core.plugins import read_manifest, resolve_setting
from praho.core.testing import config_for_tests

SECRET = "s3cr3t-" + "x" * 40


def test_setting_from_a_secrets_file(tmp_path):
    secret_file = tmp_path / "praho_secret_key"
    secret_file.write_text(SECRET + "\n")
    settings = load_settings({"PRAHO_SECRET_KEY_FILE": str(secret_file),
                              "PRAHO_SMTP_PASSWORD_FILE": str(secret_file)})
    assert settings["SECRET_KEY"] == SECRET and settings["SMTP_PASSWORD"] == SECRET


def test_parsed_settings_can_come_from_files_too(tmp_path):
    bound = tmp_path / "bound"
    bound.write_text("5000\r\n")
    assert load_settings({"PRAHO_MAX_AMOUNT_MINOR_FILE": str(bound)})["MAX_AMOUNT_MINOR"] == 5000


def test_secrets_file_inside_the_project_is_refused():
    inside = PROJECT_ROOT / "pyproject.toml"
    with pytest.raises(ConfigError, match="inside the project folder") as caught:
        load_settings({"PRAHO_SECRET_KEY_FILE": str(inside)})
    assert "[project]" not in str(caught.value)  # the content is never echoed
    assert inside_project(PROJECT_ROOT / "instance" / "secret")


def test_symlink_into_the_project_is_refused(tmp_path):
    link = tmp_path / "looks-outside"
    link.symlink_to(PROJECT_ROOT / "pyproject.toml")
    with pytest.raises(SecretSourceError, match="inside the project folder"):
        read_secret_file("PRAHO_SECRET_KEY_FILE", str(link))


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: p.write_bytes(b"\xff\xfe\x00"), "not UTF-8"),
    (lambda p: p.write_text("x" * 70_000), "at most"),
])
def test_unusable_secrets_files_name_the_variable(tmp_path, setup, message):
    path = tmp_path / "secret"
    setup(path)
    with pytest.raises(ConfigError, match=f"PRAHO_SECRET_KEY_FILE.*{message}"):
        load_settings({"PRAHO_SECRET_KEY_FILE": str(path)})


def test_relative_paths_and_both_sources_are_refused(tmp_path):
    with pytest.raises(SecretSourceError, match="absolute path"):
        env_or_file("X", {"X_FILE": "secrets/x"})
    secret_file = tmp_path / "x"
    secret_file.write_text("value")
    with pytest.raises(SecretSourceError, match="both X and X_FILE"):
        env_or_file("X", {"X": "a", "X_FILE": str(secret_file)})
    assert env_or_file("X", {"X_FILE": str(secret_file)}) == "value"
    assert env_or_file("X", {"X": ""}) is None


def test_manifest_env_references_read_secrets_files(tmp_path):
    secret_file = tmp_path / "client_secret"
    secret_file.write_text(SECRET)
    table = {"env": "PRAHO_EFACTURA_CLIENT_SECRET"}
    environ = {"PRAHO_EFACTURA_CLIENT_SECRET_FILE": str(secret_file)}
    assert resolve_setting(table, "plugin", environ) == SECRET
    with pytest.raises(PluginError, match="inside the project folder"):
        resolve_setting(table, "plugin", {"PRAHO_EFACTURA_CLIENT_SECRET_FILE":
                                          str(PROJECT_ROOT / "README.md")})


def test_manifest_refuses_literal_secrets(tmp_path):
    manifest = tmp_path / "manifest.toml"
    manifest.write_text('[[plugin]]\nname = "x"\nmodule = "json"\n[plugin.settings]\n'
                        'client_secret = "do-not-commit-me"\nurl = "https://x"\n')
    with pytest.raises(PluginError, match="client_secret: a secret must not be written"):
        read_manifest(manifest)
    manifest.write_text('[[plugin]]\nname = "x"\nmodule = "json"\n[plugin.settings]\n'
                        'client_secret = { env = "PRAHO_X_SECRET" }\ntoken_key = ""\n')
    assert read_manifest(manifest)[0].settings["client_secret"] == {"env": "PRAHO_X_SECRET"}


def test_shipped_manifest_has_no_literal_secrets():
    from praho.core.plugins import DEFAULT_MANIFEST

    assert read_manifest(DEFAULT_MANIFEST)  # would raise on a literal secret


def test_production_refuses_the_development_secret(praho_database_url):
    from praho.core.app import create_app

    with pytest.raises(ConfigError, match="PRAHO_SECRET_KEY") as caught:
        create_app(config_for_tests(praho_database_url, ENV="production",
                                    SECRET_KEY="short-secret"))
    assert "short-secret" not in str(caught.value)
