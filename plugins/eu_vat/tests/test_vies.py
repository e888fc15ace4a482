"""The VIES client against the local SOAP stand-in (real WSDL, real SOAP bodies and faults),
the answer cache and the consultation log."""

from __future__ import annotations

import hashlib
import socket
from datetime import UTC, datetime, timedelta

import pytest
import requests
import zeep
from praho.core.app import create_app
from praho.core.errors import FieldError, PluginError
from praho.core.testing import config_for_tests
from praho.plugins.eu_vat.models import ViesCheck, ViesOutcome
from praho.plugins.eu_vat.settings import EuVatSettings, parse_settings
from praho.plugins.eu_vat.testing import (
    FAULT_CODES,
    INVALID,
    TEST_NUMBER_MAP,
    VALID,
    StandInTrader,
    write_manifest,
)
from praho.plugins.eu_vat.verification import (
    VatNumberStatus,
    last_answer,
    split_vat_id,
    verify_vat_number,
)
from praho.plugins.eu_vat.vies import (
    BINDING,
    NETWORK_ERROR,
    NETWORK_TIMEOUT,
    WSDL_PATH,
    ViesClient,
    ViesUnavailable,
)
from sqlalchemy import func, select

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CONTRACT_SHA256 = "290da52b6a5317b3c35027909f69a1da4893e444521c2d54fe0cf9bef52d6d8b"


@pytest.fixture
def client(vies):
    return ViesClient(vies.url, timeout=2)


def test_packaged_wsdl_is_the_commissions_contract():
    assert hashlib.sha256(WSDL_PATH.read_bytes()).hexdigest() == CONTRACT_SHA256


def test_stand_in_serves_the_real_wsdl_and_zeep_can_use_it(vies):
    wsdl = requests.get(vies.wsdl_url, timeout=5)
    assert wsdl.status_code == 200 and b"checkVatApprox" in wsdl.content
    remote = zeep.Client(vies.wsdl_url)
    answer = remote.bind("checkVatService", "checkVatPort").checkVat(
        countryCode="DE", vatNumber="100"
    )
    assert answer.valid is True
    assert remote.wsdl.bindings[BINDING].name.localname == "checkVatBinding"


@pytest.mark.parametrize("number,outcome", sorted(TEST_NUMBER_MAP.items()))
@pytest.mark.parametrize("with_requester", [False, True], ids=["checkVat", "checkVatApprox"])
def test_official_test_numbers(client, vies, number, outcome, with_requester):
    requester = ("RO", "14399840") if with_requester else None
    if outcome in (VALID, INVALID):
        answer = client.check("DE", number, requester=requester)
        assert answer.valid is (outcome == VALID)
        assert answer.country_code == "DE" and answer.vat_number == number
        assert answer.request_date is not None
        if outcome == INVALID:
            assert answer.name is None and answer.address is None, "'---' means not disclosed"
        else:
            assert answer.name == "TEST TRADER SRL"
        assert (answer.request_identifier or "").startswith("WAPI") is with_requester
    else:
        with pytest.raises(ViesUnavailable) as caught:
            client.check("DE", number, requester=requester)
        assert caught.value.fault_code == outcome
        assert outcome in caught.value.message
    assert vies.requests[-1]["operation"] == ("checkVatApprox" if with_requester else "checkVat")


def test_every_documented_fault_code_is_covered():
    assert set(FAULT_CODES) == {
        "INVALID_INPUT",
        "SERVICE_UNAVAILABLE",
        "MS_UNAVAILABLE",
        "TIMEOUT",
        "VAT_BLOCKED",
        "IP_BLOCKED",
        "GLOBAL_MAX_CONCURRENT_REQ",
        "GLOBAL_MAX_CONCURRENT_REQ_TIME",
        "MS_MAX_CONCURRENT_REQ",
        "MS_MAX_CONCURRENT_REQ_TIME",
    }


def test_invalid_input_is_a_fault(client):
    with pytest.raises(ViesUnavailable, match="INVALID_INPUT"):
        client.check("XX", "123456789")
    with pytest.raises(ViesUnavailable, match="INVALID_INPUT"):
        client.check("DE", "")


def test_a_refused_requester_falls_back_to_checkvat(client, vies):
    answer = client.check("DE", "100", requester=("US", "123"))
    assert answer.valid is True and answer.request_identifier is None
    assert [r["operation"] for r in vies.requests] == ["checkVatApprox", "checkVat"]


def test_trader_name_and_address_are_returned(client, vies):
    vies.set_outcome(
        "FR40303265045", VALID, trader=StandInTrader("SOCIETE EXEMPLE", "1 RUE X\n75001 PARIS")
    )
    answer = client.check("FR", "40303265045", requester=("RO", "14399840"))
    assert (answer.name, answer.address) == ("SOCIETE EXEMPLE", "1 RUE X\n75001 PARIS")


def test_slow_service_times_out(vies):
    vies.delay = 1.5
    with pytest.raises(ViesUnavailable) as caught:
        ViesClient(vies.url, timeout=0.5).check("DE", "100")
    assert caught.value.fault_code == NETWORK_TIMEOUT


def test_refused_connection_is_a_network_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ViesUnavailable) as caught:
        ViesClient(f"http://127.0.0.1:{port}/vies", timeout=1).check("DE", "100")
    assert caught.value.fault_code == NETWORK_ERROR


@pytest.mark.parametrize(
    "status,content_type,body,code",
    [
        (
            503,
            "text/html",
            b"<html><head><title>503</title></head><body>down</body></html>",
            "UNKNOWN_FAULT",
        ),
        (
            504,
            "text/html",
            b"<html>\n<head><title>504 Gateway Time-out</title></head>\n<body>\n<hr><center>"
            b"nginx</center>\n</body>\n</html>\n",
            "HTTP_504",
        ),
        (500, "text/xml", b"", "HTTP_500"),
        (200, "text/xml", b"<not-soap/>", "BAD_RESPONSE"),
    ],
)
def test_error_pages_are_unavailable_never_invalid(client, vies, status, content_type, body, code):
    vies.http_error = (status, content_type, body)
    with pytest.raises(ViesUnavailable) as caught:
        client.check("DE", "100")
    assert caught.value.fault_code == code


def test_split_vat_id():
    assert split_vat_id("DE 136 695 976") == ("DE", "136695976")
    assert split_vat_id("GR094259216") == ("EL", "094259216")
    assert split_vat_id("EL094259216") == ("EL", "094259216")
    with pytest.raises(FieldError, match="country prefix"):
        split_vat_id("12345")


# --- the cache and the consultation log ------------------------------------------------


def _verify(session, client, vat_id, *, settings=None, now=NOW, use_cache=True):
    return verify_vat_number(
        session,
        vat_id,
        client=client,
        settings=settings or EuVatSettings(),
        requester_vat_id="RO14399840",
        use_cache=use_cache,
        now=now,
    )


def test_valid_answer_is_cached_for_the_configured_days(praho_session, client, vies):
    vies.set_outcome("DE136695976", VALID)
    settings = EuVatSettings(vies_valid_cache_days=7)
    first = _verify(praho_session, client, "DE136695976", settings=settings)
    assert (first.status, first.source) == (VatNumberStatus.VALID, "live")
    assert first.check.request_identifier.startswith("WAPI")
    assert first.check.requester_vat_id == "RO14399840"
    again = _verify(
        praho_session, client, "DE136695976", settings=settings, now=NOW + timedelta(days=6)
    )
    assert (again.source, again.check.id) == ("cache", first.check.id)
    assert vies.calls_for("DE136695976") == 1
    later = _verify(
        praho_session, client, "DE136695976", settings=settings, now=NOW + timedelta(days=8)
    )
    assert later.source == "live" and vies.calls_for("DE136695976") == 2


def test_invalid_answer_is_cached_for_the_configured_hours(praho_session, client, vies):
    vies.set_outcome("NL004495445B01", INVALID)
    settings = EuVatSettings(vies_invalid_cache_hours=12)
    assert (
        _verify(praho_session, client, "NL004495445B01", settings=settings).status
        == VatNumberStatus.INVALID
    )
    cached = _verify(
        praho_session, client, "NL004495445B01", settings=settings, now=NOW + timedelta(hours=11)
    )
    assert cached.source == "cache"
    vies.set_outcome("NL004495445B01", VALID)  # registered meanwhile
    fresh = _verify(
        praho_session, client, "NL004495445B01", settings=settings, now=NOW + timedelta(hours=13)
    )
    assert (fresh.status, fresh.source) == (VatNumberStatus.VALID, "live")


@pytest.mark.parametrize("fault", FAULT_CODES)
def test_a_fault_is_logged_never_cached_and_never_invalid(praho_session, client, vies, fault):
    vies.set_outcome("DE136695976", VALID)
    _verify(praho_session, client, "DE136695976", now=NOW - timedelta(days=30))
    vies.set_outcome("DE136695976", fault)
    result = _verify(praho_session, client, "DE136695976")
    assert result.status == VatNumberStatus.UNVERIFIED and result.fault_code == fault
    assert last_answer(praho_session, "DE136695976").valid is True, (
        "the fault did not replace the answer"
    )
    logged = praho_session.scalars(
        select(ViesCheck).where(ViesCheck.outcome == ViesOutcome.FAULT)
    ).all()
    assert [(c.fault_code, c.valid, c.expires_at) for c in logged] == [(fault, None, None)]
    # A second attempt asks VIES again: faults are not cached.
    _verify(praho_session, client, "DE136695976")
    assert vies.calls_for("DE136695976") == 3


def test_use_cache_false_always_asks(praho_session, client, vies):
    vies.set_outcome("DE136695976", VALID)
    _verify(praho_session, client, "DE136695976")
    _verify(praho_session, client, "DE136695976", use_cache=False)
    assert vies.calls_for("DE136695976") == 2
    count = praho_session.scalar(select(func.count(ViesCheck.id)))
    assert count == 2, "every consultation is logged"


# --- settings -----------------------------------------------------------------------------


def test_settings_from_environment_strings():
    parsed = parse_settings(
        {
            "oss_registered": "true",
            "vies_timeout_seconds": "2.5",
            "vies_valid_cache_days": "3",
            "vies_outage_policy": "WAIT",
            "vies_requester_vat_id": "ro 14399840",
        }
    )
    assert parsed.oss_registered is True and parsed.vies_timeout_seconds == 2.5
    assert parsed.vies_valid_cache_days == 3 and parsed.vies_outage_policy == "wait"
    assert parsed.vies_requester_vat_id == "RO14399840"
    assert parse_settings({}) == EuVatSettings()


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"vies_outage_policy": "retry"}, "vies_outage_policy"),
        ({"vies_url": "ftp://x"}, "vies_url"),
        ({"vies_timeout_seconds": "fast"}, "vies_timeout_seconds"),
        ({"vies_valid_cache_days": -1}, "vies_valid_cache_days"),
        ({"oss_registered": "maybe"}, "oss_registered"),
        ({"oss_registred": True}, "unknown settings"),
    ],
)
def test_bad_settings_stop_start_up(tmp_path, praho_database_url, settings, message):
    manifest = write_manifest(tmp_path, {"eu_vat": settings})
    with pytest.raises(PluginError, match=message):
        create_app(
            config_for_tests(
                praho_database_url, PLUGIN_MANIFEST=str(manifest), LOAD_ENTRY_POINTS=False
            )
        )
