"""The ANAF client's less travelled paths, the transition table and document type codes."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from praho.core.clock import utcnow
from praho.plugins.ro_efactura.errors import (
    AnafRejected,
    NotReportable,
    SubmissionTransitionError,
)
from praho.plugins.ro_efactura.formats import CIUS_RO
from praho.plugins.ro_efactura.models import EfacturaSubmission, SubmissionState
from praho.plugins.ro_efactura.runs import send_alert_mail
from praho.plugins.ro_efactura.states import TRANSITIONS, can_move, move
from praho.plugins.ro_efactura.submissions import DeadlineAlert
from praho.plugins.ro_efactura.tests import scenarios

S = SubmissionState


def test_every_state_has_a_row_and_final_states_are_final():
    assert set(TRANSITIONS) == set(SubmissionState)
    assert TRANSITIONS[S.ACCEPTED] == TRANSITIONS[S.CANCELLED] == frozenset()
    assert can_move(S.UNKNOWN, S.ACCEPTED) and not can_move(S.UNKNOWN, S.UPLOADING)
    submission = EfacturaSubmission(document_number="X1", state=S.ACCEPTED)
    with pytest.raises(SubmissionTransitionError, match="accepted -> pending"):
        move(submission, S.PENDING, now=utcnow())


def test_paginated_message_list_and_download_errors(
    authorized, anaf, anaf_client, committed, praho_committing, efactura_settings
):
    from praho.plugins.ro_efactura.runs import poll_due, submit_pending

    anaf.state.processing_polls = 0
    committed(scenarios.domestic_21)
    committed(scenarios.mixed_21_11)
    submit_pending(praho_committing.transaction, client=anaf_client, settings=efactura_settings)
    poll_due(
        praho_committing.transaction,
        client=anaf_client,
        settings=efactura_settings,
        now=utcnow() + timedelta(minutes=5),
    )
    token = authorized.access_token
    # ANAF refuses an endTime in the future and pages by 500 (listamesaje.html).
    start, end = utcnow() - timedelta(days=1), utcnow()
    first, pages = anaf_client.list_messages_page("RO14399840", token=token, start=start, end=end)
    assert pages == 1 and first[0].kind == "FACTURA TRIMISA"
    assert {m.upload_index for m in first} == {u.index for u in anaf.state.uploads}
    with pytest.raises(AnafRejected, match="Pagina solicitata 2 este mai mare"):
        anaf_client.list_messages_page("14399840", token=token, start=start, end=end, page=2)
    with pytest.raises(AnafRejected, match="nu exista inregistrata"):
        anaf_client.download("424242", token=token)
    listed = anaf_client.list_messages("14399840", token=token, days=90)
    assert len(listed) == 2
    assert (
        "GET",
        "/test/FCTEL/rest/listaMesajeFactura",
        {"zile": "60", "cif": "14399840"},
    ) in anaf.state.requests


def test_invoice_type_codes_389_384_and_751(praho_factory, praho_session):
    from praho.core.services.invoicing import set_invoice_type
    from praho.core.services.issuing import issue_document

    customer = praho_factory.customer()
    original = praho_factory.invoice(customer)
    self_billed = set_invoice_type(praho_session, praho_factory.draft(customer), "389")
    xml = CIUS_RO.render(issue_document(praho_session, self_billed, now=scenarios.NOW))
    assert b"<cbc:InvoiceTypeCode>389</cbc:InvoiceTypeCode>" in xml and CIUS_RO.validate(xml) == []
    corrected = set_invoice_type(
        praho_session, praho_factory.draft(customer), "384", corrects=original
    )
    xml = CIUS_RO.render(issue_document(praho_session, corrected, now=scenarios.NOW))
    assert b"<cbc:InvoiceTypeCode>384</cbc:InvoiceTypeCode>" in xml
    assert f"<cbc:ID>{original.full_number}</cbc:ID>".encode() in xml
    assert CIUS_RO.validate(xml) == []
    # 751: invoice information for accounting purposes (CIUS-RO accepts it).
    accounting = set_invoice_type(praho_session, praho_factory.draft(customer), "751")
    xml = CIUS_RO.render(issue_document(praho_session, accounting, now=scenarios.NOW))
    assert b"<cbc:InvoiceTypeCode>751</cbc:InvoiceTypeCode>" in xml and CIUS_RO.validate(xml) == []
    from praho.plugins.ro_efactura.submissions import submission_for

    assert submission_for(praho_session, self_billed.id).self_billed is True
    wrong = praho_factory.draft(customer)
    wrong.attributes = {"invoice_type_code": "326"}
    with pytest.raises(NotReportable, match="326"):
        issue_document(praho_session, wrong, now=scenarios.NOW)


def test_drafts_cannot_be_rendered(praho_factory):
    with pytest.raises(NotReportable, match="issue it first"):
        CIUS_RO.render(praho_factory.draft())


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        self.messages.append(envelope.content)
        return "250 OK"


def test_deadline_alert_mail_is_sent_through_smtp():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        alert = DeadlineAlert("PRH2026-000007", "rejected", scenarios.NOW.date(), 0, "CUI incorect")
        send_alert_mail(
            [alert],
            to="contabilitate@example.ro",
            smtp={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "MAIL_FROM": "b@x.ro"},
        )
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    assert b"PRH2026-000007 (rejected)" in inbox.messages[0]
    assert b"To: contabilitate@example.ro" in inbox.messages[0]
