"""Fuzzing the ANAF answer parsers of ro_efactura with hostile answers.

The client is the real :class:`AnafClient` on a real ``requests.Session``; only the
transport is a canned adapter (the HTTP boundary), answering with hostile status codes,
headers and bodies: random bytes, XML headers and JSON documents with random shapes and
values, zips with random entries. Every call must end in a typed result whose values are
safe to store (indexes are digits, no NUL, bounded text) or in an ``AnafError``; a poll
that gets an unusable answer must leave the submission's state unchanged.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from praho.core.testing import fuzz_settings, fuzz_tried
from praho.plugins.ro_efactura.anaf_client import (
    MAX_ANSWER_BYTES,
    AnafClient,
    MessageStatus,
    parse_archive,
)
from praho.plugins.ro_efactura.errors import AnafError, AnafRejected
from praho.plugins.ro_efactura.settings import EfacturaSettings
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ERRORS_NS = "mfp:anaf:dgti:efactura:mesajEroriFactuta:v1"
TOKEN_KEY = "S2V5LWZvci10ZXN0cy1vbmx5LW5ldmVyLWluLXByb2R1Y3Rpb24hIQ"  # test-only key


class CannedAdapter(BaseAdapter):
    """A transport answering every request with the next canned (status, headers, body)."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[tuple[int, dict[str, str], bytes] | Exception] = []

    def send(self, request, **kwargs):  # noqa: ANN001 - requests' adapter API
        answer = self.answers.pop(0) if self.answers else (503, {}, b"")
        if isinstance(answer, Exception):
            raise answer
        status, headers, body = answer
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(headers)
        response.raw = io.BytesIO(body)
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""


def _client() -> tuple[AnafClient, CannedAdapter]:
    settings = EfacturaSettings(api_url="http://anaf.test/rest", oauth_url="http://anaf.test/oauth",
                                validate_url="http://anaf.test/validate", client_id="client",
                                client_secret="client-secret-value", redirect_uri="http://x/cb")
    http = requests.Session()
    adapter = CannedAdapter()
    http.mount("http://anaf.test", adapter)
    return AnafClient(settings, http=http), adapter


text_values = st.one_of(
    st.text(max_size=30), st.sampled_from(["0", "1", "ok", "nok", "in prelucrare", "123", "",
                                           "x" * 5000, "1" * 41, "12\x00", "<b>"]))
json_scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | text_values
json_shapes = st.recursive(json_scalars, lambda c: st.lists(c, max_size=4)
                           | st.dictionaries(st.sampled_from(["id", "tip", "x", "message"]), c,
                                             max_size=4), max_leaves=10)


@st.composite
def json_answers(draw: st.DrawFn) -> bytes:
    keys = ["access_token", "refresh_token", "expires_in", "refresh_token_expires_in", "error",
            "error_description", "eroare", "mesaje", "numar_total_pagini", "Messages", "stare",
            "trace_id", "message", "serial", "titlu"]
    document = draw(st.dictionaries(st.sampled_from(keys), json_shapes, max_size=6))
    return json.dumps(document).encode()


@st.composite
def xml_answers(draw: st.DrawFn) -> bytes:
    names = ["ExecutionStatus", "index_incarcare", "dateResponse", "stare", "id_descarcare"]
    attributes = draw(st.dictionaries(st.sampled_from(names), text_values, max_size=4))
    safe = {k: "".join(ch for ch in v if ch.isprintable() and ch not in "<&\"")[:200]
            for k, v in attributes.items()}
    attrs = "".join(f' {k}="{v}"' for k, v in safe.items())
    errors = draw(st.lists(st.text(alphabet="abc E:!- ăș", max_size=40), max_size=3))
    children = "".join(f'<Errors errorMessage="{e}"/>' for e in errors)
    return f'<?xml version="1.0"?><header xmlns="mfp:anaf:x"{attrs}>{children}</header>'.encode()


@st.composite
def zip_answers(draw: st.DrawFn) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["errors", "garbage", "signature"]))
            if kind == "errors":
                messages = draw(st.lists(st.text(alphabet="abc E:ăș", max_size=30), max_size=3))
                body = (f'<header xmlns="{ERRORS_NS}">'
                        + "".join(f'<Error errorMessage="{m}"/>' for m in messages)
                        + "</header>").encode()
                archive.writestr(f"{index}.xml", body)
            elif kind == "garbage":
                archive.writestr(f"{index}.xml", draw(st.binary(max_size=100)))
            else:
                archive.writestr(f"semnatura_{index}.xml", draw(st.binary(max_size=50)))
    return buffer.getvalue()


bodies = st.one_of(st.binary(max_size=300), json_answers(), xml_answers(), zip_answers(),
                   st.just(b"x" * (MAX_ANSWER_BYTES + 1)), st.just(b""))
statuses = st.sampled_from([200, 200, 200, 200, 400, 401, 403, 404, 429, 500, 502, 503, 504]) \
    | st.integers(100, 599)
headers = st.fixed_dictionaries({}, optional={
    "Retry-After": text_values, "Content-Type": st.sampled_from(["application/json", "text/xml"]),
    "Content-Length": st.sampled_from(["0", "5", str(10**12), "abc"])})
answers = st.tuples(statuses, headers, bodies) | st.sampled_from(
    [requests.ConnectionError("reset"), requests.ReadTimeout("slow"),
     requests.ConnectTimeout("no")])


def _storable(text: str | None) -> bool:
    return text is None or ("\x00" not in text and len(text) <= 1000)


@fuzz_settings(factor=10)
@given(answer=answers, call=st.sampled_from(
    ["upload", "status", "list", "page", "download", "validate", "refresh"]))
def test_every_call_returns_a_safe_result_or_an_anaf_error(answer, call):
    fuzz_tried("ro_efactura: AnafClient calls, hostile answers")
    client, adapter = _client()
    adapter.answers.append(answer)
    try:
        if call == "upload":
            receipt = client.upload(b"<Invoice/>", token="t", cif="RO14399840", standard="UBL")
            assert receipt.index.isdigit() and len(receipt.index) <= 40
            assert _storable(receipt.date_response)
        elif call == "status":
            status = client.message_status("123", token="t")
            assert isinstance(status, MessageStatus)
            assert status.download_id is None or status.download_id.isdigit()
            assert _storable(status.state) and all(_storable(e) for e in status.errors)
        elif call in ("list", "page"):
            if call == "list":
                messages = client.list_messages("14399840", token="t", days=5)
            else:
                messages, pages = client.list_messages_page(
                    "14399840", token="t", start=NOW - timedelta(days=1), end=NOW)
                assert isinstance(pages, int) and pages >= 1
            for message in messages:
                assert all(_storable(value) for value in vars(message).values())
        elif call == "download":
            archive = client.download("42", token="t")
            assert all(_storable(e) for e in archive.errors)
        elif call == "validate":
            result = client.validate(b"<Invoice/>")
            assert all(_storable(m) for m in result.messages)
        else:
            tokens = client.refresh_tokens("refresh-token-value", now=NOW)
            assert tokens.access_token and tokens.refresh_expires_at > NOW
    except AnafError as error:
        assert error.message and "client-secret-value" not in error.message


@fuzz_settings(factor=5)
@given(raw=zip_answers() | st.binary(max_size=500))
def test_parse_archive_reads_or_rejects(raw):
    fuzz_tried("ro_efactura: parse_archive")
    try:
        archive = parse_archive(raw)
    except AnafRejected as error:
        assert error.message
    else:
        assert all(_storable(e) for e in archive.errors)


def test_oversized_answers_are_refused_before_use():
    client, adapter = _client()
    adapter.answers.append((200, {"Content-Length": str(10**9)}, b"<header/>"))
    with pytest.raises(AnafRejected, match="limit"):
        client.message_status("1", token="t")
    adapter.answers.append((200, {}, b"<a>" + b"x" * (MAX_ANSWER_BYTES + 10) + b"</a>"))
    with pytest.raises(AnafRejected, match="more than"):
        client.message_status("1", token="t")


def test_unreadable_upload_index_is_an_unknown_outcome_not_a_crash():
    from praho.plugins.ro_efactura.errors import AnafOutcomeUnknown

    client, adapter = _client()
    adapter.answers.append((200, {}, b'<header ExecutionStatus="0" index_incarcare="1 OR 1=1"/>'))
    with pytest.raises(AnafOutcomeUnknown, match="unreadable index"):
        client.upload(b"<Invoice/>", token="t", cif="14399840", standard="UBL")
    adapter.answers.append((200, {}, b"<!DOCTYPE x [<!ENTITY e 'x'>]><header/>"))
    with pytest.raises(AnafOutcomeUnknown, match="DOCTYPE"):
        client.upload(b"<Invoice/>", token="t", cif="14399840", standard="UBL")


@pytest.fixture
def uploaded(praho_factory, praho_session, praho_app):
    """An issued invoice whose e-Factura submission waits for ANAF's verdict, with tokens."""
    from praho.plugins.ro_efactura.anaf_client import TokenSet
    from praho.plugins.ro_efactura.models import EfacturaSubmission, SubmissionState
    from praho.plugins.ro_efactura.settings import with_overrides
    from praho.plugins.ro_efactura.submissions import queue_submission
    from praho.plugins.ro_efactura.tokens import store_tokens
    from sqlalchemy import select

    client, adapter = _client()
    settings = with_overrides(client.settings, token_key=TOKEN_KEY)
    client.settings = settings
    invoice = praho_factory.invoice()
    submission = praho_session.execute(
        select(EfacturaSubmission).where(EfacturaSubmission.invoice_id == invoice.id)
    ).scalar_one_or_none() or queue_submission(praho_session, invoice, settings=settings, now=NOW)
    submission.state = SubmissionState.UPLOADED
    submission.upload_index = "5001"
    store_tokens(praho_session, submission.seller_cui,
                 TokenSet("access", "refresh", NOW + timedelta(days=60), NOW + timedelta(days=300)),
                 settings=settings, now=NOW)
    praho_session.flush()
    return submission, client, adapter, settings


@pytest.mark.slow
@fuzz_settings(factor=2)
@given(status_answer=answers, download_answer=answers)
def test_polling_with_hostile_answers_never_crashes(uploaded, praho_session, status_answer,
                                                    download_answer):
    from praho.plugins.ro_efactura.models import EfacturaEvent, SubmissionState
    from praho.plugins.ro_efactura.transmission import poll_submission

    fuzz_tried("ro_efactura: poll_submission, hostile answers")
    submission, client, adapter, settings = uploaded
    savepoint = praho_session.begin_nested()
    try:
        before = (submission.state, submission.upload_index)
        events_before = praho_session.query(EfacturaEvent).count()
        adapter.answers[:] = [status_answer, download_answer]
        state = poll_submission(praho_session, submission, client=client, settings=settings,
                                now=NOW + timedelta(minutes=5))
        praho_session.flush()  # whatever was kept must be storable
        assert state in {SubmissionState.UPLOADED, SubmissionState.PROCESSING,
                         SubmissionState.ACCEPTED, SubmissionState.REJECTED}
        if state == SubmissionState.UPLOADED:
            # An unusable answer moved nothing: same state, same index, no transition event.
            assert (submission.state, submission.upload_index) == before
            assert praho_session.query(EfacturaEvent).count() == events_before
        assert submission.last_error is None or "\x00" not in submission.last_error
    finally:
        savepoint.rollback()
