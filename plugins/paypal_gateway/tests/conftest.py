"""Fixtures for the PayPal plugin: a test CA, the local stand-in and an app using both."""

from __future__ import annotations

import pytest
from praho.core.testing import StaticTestPlugin
from praho.plugins.paypal_gateway.pki import TestPKI
from praho.plugins.paypal_gateway.testing import CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID, PayPalStandIn
from praho.plugins.paypal_gateway.verification import clear_certificate_cache


@pytest.fixture(scope="session")
def paypal_server():
    server = PayPalStandIn(pki=TestPKI()).start()
    yield server
    server.stop()


@pytest.fixture
def paypal_standin(paypal_server):
    paypal_server.reset()
    clear_certificate_cache()
    return paypal_server


@pytest.fixture
def paypal_verification():
    return "offline"


@pytest.fixture
def praho_plugins():
    return [("static_test", StaticTestPlugin())]


@pytest.fixture
def praho_config(tmp_path, monkeypatch, paypal_standin, paypal_verification):
    monkeypatch.setenv("PRAHO_PAYPAL_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("PRAHO_PAYPAL_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("PRAHO_PAYPAL_WEBHOOK_ID", WEBHOOK_ID)
    settings = {
        **paypal_standin.settings(),
        "timeout_seconds": "2",
        "verification": paypal_verification,
    }
    lines = [
        "[[plugin]]",
        'name = "paypal_gateway"',
        'module = "praho.plugins.paypal_gateway"',
        "",
        "[plugin.settings]",
        'client_id = { env = "PRAHO_PAYPAL_CLIENT_ID" }',
        'client_secret = { env = "PRAHO_PAYPAL_CLIENT_SECRET" }',
        'webhook_id = { env = "PRAHO_PAYPAL_WEBHOOK_ID" }',
    ]
    lines += [f'{key} = "{value}"' for key, value in settings.items()]
    manifest = tmp_path / "plugin_manifest.toml"
    manifest.write_text("\n".join(lines) + "\n")
    return {"PLUGIN_MANIFEST": str(manifest), "LOAD_ENTRY_POINTS": False}


@pytest.fixture
def gateway(praho_app):
    from praho.core.plugins import get_registry

    return get_registry().objects("register_payment_gateways")["paypal"]
