"""Fixtures for the Stripe plugin: the local stand-in and an app configured to use it."""

from __future__ import annotations

import textwrap

import pytest
from praho.core.testing import StaticTestPlugin
from praho.plugins.stripe_gateway.testing import StripeStandIn

WEBHOOK_SECRET = "whsec_test_current_0123456789abcdef"
OLD_WEBHOOK_SECRET = "whsec_test_previous_0123456789abcdef"


@pytest.fixture(scope="session")
def stripe_server():
    server = StripeStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def stripe_standin(stripe_server):
    stripe_server.reset()
    return stripe_server


@pytest.fixture
def stripe_env(monkeypatch, stripe_standin):
    """The environment the manifest's settings read (secrets never live in the manifest)."""
    monkeypatch.setenv("PRAHO_STRIPE_SECRET_KEY", "sk_test_praho_standin_key")
    monkeypatch.setenv("PRAHO_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("PRAHO_STRIPE_API_BASE", stripe_standin.url)
    monkeypatch.setenv("PRAHO_STRIPE_TIMEOUT", "2")


@pytest.fixture
def praho_plugins():
    return [("static_test", StaticTestPlugin())]


@pytest.fixture
def praho_config(tmp_path, stripe_env):
    manifest = tmp_path / "plugin_manifest.toml"
    manifest.write_text(
        textwrap.dedent("""
        [[plugin]]
        name = "stripe_gateway"
        module = "praho.plugins.stripe_gateway"

        [plugin.settings]
        secret_key = { env = "PRAHO_STRIPE_SECRET_KEY" }
        webhook_secret = { env = "PRAHO_STRIPE_WEBHOOK_SECRET" }
        api_base = { env = "PRAHO_STRIPE_API_BASE" }
        timeout_seconds = { env = "PRAHO_STRIPE_TIMEOUT" }
    """)
    )
    return {"PLUGIN_MANIFEST": str(manifest), "LOAD_ENTRY_POINTS": False}


@pytest.fixture
def gateway(praho_app):
    from praho.core.plugins import get_registry

    return get_registry().objects("register_payment_gateways")["stripe"]
