"""Fixtures of the virtualmin tests: a test CA, the HTTPS stand-in, an app configured for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from praho.plugins.virtualmin.tests.standin import VirtualminStandIn, make_test_pki

PASSWORD_ENV = "PRAHO_VIRTUALMIN_TEST_PASSWORD"


@pytest.fixture(scope="session")
def vm_pki(tmp_path_factory: pytest.TempPathFactory):
    return make_test_pki(tmp_path_factory.mktemp("virtualmin-pki"))


@pytest.fixture(scope="session")
def vm_server(vm_pki):
    server = VirtualminStandIn(vm_pki).start()
    yield server
    server.stop()


@pytest.fixture
def standin(vm_server):
    """The stand-in, emptied, with its real credentials."""
    vm_server.reset()
    vm_server.password = "stand-in-password"
    return vm_server


@pytest.fixture
def vm_settings(standin, vm_pki) -> dict[str, Any]:
    """The virtualmin block of the test manifest (override to change a setting)."""
    return {
        "url": standin.url,
        "user": standin.user,
        "ca_bundle": str(vm_pki.ca_cert),
        "timeout_seconds": 0.5,
        "max_attempts": 3,
        "retry_base_seconds": 60,
        "termination_grace_days": 14,
    }


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def write_virtualmin_manifest(directory: Path, settings: dict[str, Any],
                              plans: dict[str, str]) -> Path:
    """A manifest loading only the virtualmin plugin, the password from the environment."""
    lines = ['[[plugin]]', 'name = "virtualmin"', 'module = "praho.plugins.virtualmin"', '',
             '[plugin.settings]', f'password = {{ env = "{PASSWORD_ENV}" }}']
    lines += [f"{key} = {_toml(value)}" for key, value in settings.items()]
    lines += ["", "[plugin.settings.plans]"]
    lines += [f'"{code}" = {{ plan = "{plan}" }}' for code, plan in plans.items()]
    path = directory / "plugin_manifest.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def praho_config(tmp_path, vm_settings, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "stand-in-password")
    manifest = write_virtualmin_manifest(tmp_path, vm_settings, {"HOST-PRO": "Pro"})
    return {"PLUGIN_MANIFEST": str(manifest), "LOAD_ENTRY_POINTS": False}


@pytest.fixture
def app_cli(praho_app):
    """The ``praho`` command line of the test app."""
    return praho_app.test_cli_runner()
