"""The remote.cgi client against the stand-in (TLS, auth, errors) and the settings parser."""

from __future__ import annotations

import socket

import pytest
from praho.core.errors import PluginError
from praho.core.tasks import build_beat_schedule
from praho.plugins.virtualmin.client import (
    VirtualminAuthFailed,
    VirtualminClient,
    VirtualminCommandFailed,
    VirtualminProtocolError,
    VirtualminTLSError,
    VirtualminUnavailable,
)
from praho.plugins.virtualmin.settings import ServerConfig, parse_settings
from praho.plugins.virtualmin.tests.standin import make_test_pki


def client_for(standin, ca_bundle, **overrides) -> VirtualminClient:
    values = {"name": "test", "url": standin.url, "user": standin.user,
              "password": standin.password, "ca_bundle": str(ca_bundle), "timeout_seconds": 0.5}
    values.update(overrides)
    return VirtualminClient(ServerConfig(**values))


def test_list_domains_reads_the_multiline_json(standin, vm_pki):
    standin.add_domain("a.ro", description="PRAHO subscription 1")
    standin.add_domain("b.ro", disabled=True)
    domains = {d.name: d for d in client_for(standin, vm_pki.ca_cert).list_domains()}

    assert (domains["a.ro"].disabled, domains["a.ro"].description) == (False,
                                                                      "PRAHO subscription 1")
    assert domains["b.ro"].disabled and domains["b.ro"].values["disabled"] == ["Manually"]
    program, params = standin.calls[0]
    assert program == "list-domains" and params["multiline"] == [""] and params["json"] == ["1"]


def test_command_failure_carries_virtualmins_error_line(standin, vm_pki):
    client = client_for(standin, vm_pki.ca_cert)
    with pytest.raises(VirtualminCommandFailed) as failed:
        client.disable_domain("nowhere.ro", why="test")
    assert failed.value.error == "Virtual server nowhere.ro does not exist"
    assert not failed.value.retryable


def test_untrusted_certificate_fails_and_is_never_bypassed(standin, vm_pki, tmp_path):
    other_ca = make_test_pki(tmp_path / "other", label="Some other CA").ca_cert
    for bundle in (other_ca, ""):  # a different CA, then the system trust store
        with pytest.raises(VirtualminTLSError) as failed:
            client_for(standin, bundle).list_domains()
        assert "CERTIFICATE_VERIFY_FAILED" in failed.value.message
        assert not failed.value.retryable
    assert standin.calls == []  # nothing reached the server


def test_bad_password_is_auth_failure_and_never_echoed(standin, vm_pki):
    with pytest.raises(VirtualminAuthFailed) as failed:
        client_for(standin, vm_pki.ca_cert, password="wrong-secret").list_domains()
    assert failed.value.http_status_code == 401 and not failed.value.retryable
    assert "wrong-secret" not in failed.value.message


def test_server_error_timeout_and_refused_connection_are_retryable(standin, vm_pki):
    client = client_for(standin, vm_pki.ca_cert)
    standin.fail_5xx = 1
    with pytest.raises(VirtualminUnavailable) as failed:
        client.list_domains()
    assert failed.value.retryable and failed.value.http_status_code == 500

    standin.slow_seconds, standin.slow_calls = 1.0, 1
    with pytest.raises(VirtualminUnavailable, match="no answer within 0.5 s"):
        client.list_domains()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    refused = client_for(standin, vm_pki.ca_cert, url=f"https://127.0.0.1:{closed_port}")
    with pytest.raises(VirtualminUnavailable, match="ConnectionError"):
        refused.list_domains()


def test_a_request_remote_cgi_cannot_start_is_a_protocol_error(standin, vm_pki):
    with pytest.raises(VirtualminProtocolError, match="ERROR: Program no-such-thing does not"):
        client_for(standin, vm_pki.ca_cert).call("no-such-thing")


# --- settings ------------------------------------------------------------------------------


def test_settings_single_server_servers_table_and_plans():
    settings = parse_settings({
        "url": "https://vm1.example.ro:10000/", "user": "api", "password": "s3cret",
        "servers": {"vm2": {"url": "https://vm2.example.ro:10000", "user": "api",
                            "password": "other", "timeout_seconds": 5}},
        "default_server": "vm2",
        "plans": {"HOST-PRO": {"plan": "Pro", "template": "Default Settings"},
                  "HOST-BASIC": "Basic"},
    })
    assert sorted(settings.servers) == ["default", "vm2"]
    assert settings.server(None).name == "vm2"
    assert settings.servers["default"].url == "https://vm1.example.ro:10000"
    assert settings.plans["HOST-BASIC"].plan == "Basic"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(("raw", "message"), [
    ({"url": "http://vm.example.ro:10000", "user": "a", "password": "b"}, "https:// URL"),
    ({"url": "https://vm.example.ro:10000", "user": "a"}, "user and password are required"),
    ({"verify_tls": False}, "unknown settings ['verify_tls']"),
    ({"servers": {"x": {"url": "https://x.ro", "user": "a", "password": "b", "insecure": 1}}},
     "unknown keys ['insecure']"),
    ({"default_server": "nope"}, "no server named 'nope'"),
    ({"plans": {"HOST": {"template": "t"}}}, "plans.HOST"),
    ({"max_attempts": "zero"}, "max_attempts: expected a whole number"),
])
def test_bad_settings_stop_start_up_with_the_setting_named(raw, message):
    with pytest.raises(PluginError) as refused:
        parse_settings(raw)
    assert message in refused.value.message


def test_periodic_tasks_are_registered_when_a_server_is_configured(praho_app):
    schedule = build_beat_schedule(praho_app)
    assert schedule["virtualmin-run-due"]["task"] == "praho.plugins.virtualmin.run_due"
    assert schedule["virtualmin-reconcile"]["task"] == "praho.plugins.virtualmin.reconcile"
