"""Fuzzing the VIES client (plugins/eu_vat) with hostile answers from its SOAP stand-in.

Whatever the endpoint answers (error pages, random bytes, SOAP with a DOCTYPE or
entities, oversized bodies), the client gives a ViesAnswer or ViesUnavailable: a failure
is never taken for a verdict on the number, and nothing else escapes.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from praho.core.testing import fuzz_settings, fuzz_tried
from praho.plugins.eu_vat.testing import ViesStandIn
from praho.plugins.eu_vat.vies import MAX_ANSWER_BYTES, ViesClient, ViesUnavailable

ENVELOPE = ('<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>'
            '<ns2:checkVatResponse xmlns:ns2="urn:ec.europa.eu:taxud:vies:services:checkVat:types">'
            "{fields}</ns2:checkVatResponse></env:Body></env:Envelope>")


@pytest.fixture(scope="module")
def standin():
    server = ViesStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def client(standin):
    standin.http_error = None
    yield ViesClient(standin.url, timeout=2)
    standin.http_error = None


def test_entities_and_doctypes_in_answers_are_refused(client, standin):
    attack = ('<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
              + ENVELOPE.format(fields="<ns2:name>&x;</ns2:name><ns2:valid>true</ns2:valid>"))
    standin.http_error = (200, "text/xml", attack.encode())
    with pytest.raises(ViesUnavailable) as caught:
        client.check("DE", "136695976")
    assert "root:" not in caught.value.message


def test_oversized_answers_are_cut_off(client, standin):
    standin.http_error = (200, "text/xml", b"<a>" + b"x" * (MAX_ANSWER_BYTES + 10) + b"</a>")
    with pytest.raises(ViesUnavailable, match="larger than"):
        client.check("DE", "136695976")


field_values = st.one_of(st.sampled_from(["true", "false", "maybe", "", "2026-11-25", "x" * 300,
                                          "DE", "136695976", "---"]),
                         st.text(alphabet="abc01-", max_size=12))


@st.composite
def answers(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=200))
    names = draw(st.lists(st.sampled_from(["countryCode", "vatNumber", "requestDate", "valid",
                                           "name", "address", "other"]), max_size=7))
    fields = "".join(f"<ns2:{n}>{draw(field_values)}</ns2:{n}>" for n in names)
    return ENVELOPE.format(fields=fields).encode()


@pytest.mark.slow
@fuzz_settings(factor=2)
@given(status=st.sampled_from([200, 200, 200, 500, 503, 404]), body=answers())
def test_any_answer_is_a_verdict_or_unavailable(client, standin, status, body):
    fuzz_tried("eu_vat: VIES client, hostile answers")
    standin.http_error = (status, "text/xml", body)
    try:
        answer = client.check("DE", "136695976")
    except ViesUnavailable as error:
        assert error.fault_code and error.message
    else:
        assert isinstance(answer.valid, bool)
