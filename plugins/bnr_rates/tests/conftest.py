"""Fixtures for the bnr_rates tests: an app with the real plugins and a local feed stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from praho.plugins.bnr_rates.testing import BnrStandIn
from praho.plugins.eu_vat.testing import write_manifest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def bnr_server():
    server = BnrStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def bnr(bnr_server):
    """The feed stand-in, serving the current sample unless a test says otherwise."""
    bnr_server.serve((FIXTURES / "bnr_sample.xml").read_bytes())
    bnr_server.delay = 0.0
    bnr_server.hits = 0
    return bnr_server


@pytest.fixture
def bnr_settings(bnr) -> dict[str, Any]:
    return {"feed_url": bnr.url, "timeout_seconds": 2}


@pytest.fixture
def praho_plugins():
    return []


@pytest.fixture
def praho_config(tmp_path, bnr_settings):
    manifest = write_manifest(
        tmp_path, {"eu_vat": {"vies_enabled": False}, "bnr_rates": bnr_settings}
    )
    return {"PLUGIN_MANIFEST": str(manifest), "LOAD_ENTRY_POINTS": False}


@pytest.fixture
def fixture_bytes():
    return lambda name: (FIXTURES / name).read_bytes()
