"""Settling unknown uploads from ANAF's messages, and keeping within ANAF's call limits.

- an unknown document is matched only by its exact XML or its own header (number, type
  code, issue date, seller), never by its number appearing anywhere in another document
  (a credit note names the invoice it corrects);
- the message list is read through listaMesajePaginatieFactura, all pages: the simple
  list answers an error above 500 messages;
- a settled document whose zip download keeps failing is not downloaded on every beat:
  ANAF allows 10 descarcare calls per message per day, and its quota answer waits for
  the next day.

Everything runs against the ANAF stand-in (anaf_standin.py), which follows the contract
in ../shared/efactura/anaf-api (listamesaje.html, descarcare.html, limiteApeluriAPI.txt).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from praho.core.clock import BUCHAREST, utcnow
from praho.plugins.ro_efactura.errors import AnafRateLimited, AnafRejected
from praho.plugins.ro_efactura.models import EfacturaSubmission, SubmissionState
from praho.plugins.ro_efactura.runs import poll_due, submit_pending
from praho.plugins.ro_efactura.tests import scenarios
from sqlalchemy import select

S = SubmissionState


def _submissions(db) -> dict[str, EfacturaSubmission]:
    with db.transaction() as session:
        return {
            s.document_number: s
            for s in session.execute(select(EfacturaSubmission)).scalars()
        }


def _poll(db, client, settings, now):
    poll_due(db.transaction, client=client, settings=settings, now=now)


def _calls(anaf, endpoint: str) -> list[dict[str, str]]:
    return [params for _, path, params in anaf.state.requests if path.endswith("/" + endpoint)]


def test_a_credit_note_is_never_taken_for_the_invoice_it_corrects(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    anaf.state.processing_polls = 0
    # The invoice's connection dies before ANAF stores it; the credit note reaches ANAF
    # but its answer is lost. Both are unknown; only the credit note is in SPV.
    anaf.state.faults["upload"] = ["lost", "timeout"]
    committed(scenarios.credit_note)
    start = utcnow()
    submit_pending(
        praho_committing.transaction, client=anaf_client, settings=efactura_settings, now=start
    )
    assert [u.params["standard"] for u in anaf.state.uploads] == ["CN"]
    _poll(praho_committing, anaf_client, efactura_settings, start + timedelta(minutes=15))

    found = _submissions(praho_committing)
    invoice, credit_note = found["PRH2026-000001"], found["PRHC2026-000001"]
    assert invoice.state == S.UNKNOWN and invoice.upload_index is None
    assert invoice.response_zip is None
    assert credit_note.state == S.ACCEPTED
    assert credit_note.upload_index == anaf.state.uploads[0].index
    assert len(anaf.state.uploads) == 1, "nothing is uploaded blindly"


@pytest.mark.parametrize(
    "change,settles",
    [
        # ANAF keeps the file, our stored copy differs only in form (an XML comment):
        # the same document by its header.
        (lambda xml: xml.replace(b"<cbc:ID>", b"<!-- copy --><cbc:ID>", 1), True),
        # Same number, another type code (a corrected invoice, 384): not ours.
        (
            lambda xml: xml.replace(
                b"<cbc:InvoiceTypeCode>380</", b"<cbc:InvoiceTypeCode>384</"
            ),
            False,
        ),
        # Same number and type, another seller: not ours.
        (lambda xml: xml.replace(b"RO14399840", b"RO18547290"), False),
        # Our number only inside a reference, the document's own number another one.
        (
            lambda xml: xml.replace(
                b"<cbc:ID>PRH2026-000001</cbc:ID>",
                b"<cbc:ID>ALT-7</cbc:ID><cac:BillingReference><cac:InvoiceDocumentReference>"
                b"<cbc:ID>PRH2026-000001</cbc:ID></cac:InvoiceDocumentReference>"
                b"</cac:BillingReference>",
                1,
            ),
            False,
        ),
    ],
    ids=["same-header", "other-type-code", "other-seller", "number-only-referenced"],
)
def test_an_unknown_matches_only_its_own_document(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings, change, settles
):
    anaf.state.processing_polls = 0
    anaf.state.faults["upload"] = ["timeout"]
    committed(scenarios.domestic_21)
    start = utcnow()
    submit_pending(
        praho_committing.transaction, client=anaf_client, settings=efactura_settings, now=start
    )
    stored = anaf.state.uploads[0]
    changed = change(stored.body)
    assert changed != stored.body
    stored.body = changed
    _poll(praho_committing, anaf_client, efactura_settings, start + timedelta(minutes=15))
    (submission,) = _submissions(praho_committing).values()
    if settles:
        assert submission.state == S.ACCEPTED and submission.upload_index == stored.index
    else:
        assert submission.state == S.UNKNOWN and submission.upload_index is None


def test_an_unknown_is_settled_through_every_page_above_500_messages(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    anaf.state.processing_polls = 0
    start = utcnow()
    # 600 supplier invoices arrive just before ours: 601 messages, ours on page 2.
    anaf.state.receive_invoices(600, at=start - timedelta(minutes=1))
    anaf.state.faults["upload"] = ["timeout"]
    committed(scenarios.domestic_21)
    submit_pending(
        praho_committing.transaction, client=anaf_client, settings=efactura_settings, now=start
    )
    _poll(praho_committing, anaf_client, efactura_settings, start + timedelta(minutes=15))

    (submission,) = _submissions(praho_committing).values()
    assert submission.state == S.ACCEPTED
    assert submission.upload_index == anaf.state.uploads[0].index
    assert [p["pagina"] for p in _calls(anaf, "listaMesajePaginatieFactura")] == ["1", "2"]
    assert _calls(anaf, "listaMesajeFactura") == []
    # What the simple list would have answered (swagger: "limita mesaje in pagina atinsa").
    with pytest.raises(AnafRejected, match="Folositi endpoint-ul cu paginatie"):
        anaf_client.list_messages("14399840", token=authorized.access_token, days=1)


def test_a_failing_zip_download_stays_within_anafs_daily_limit(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    anaf.state.processing_polls = 0
    anaf.state.faults["descarcare"] = ["503"] * 1000
    committed(scenarios.domestic_21)
    start = utcnow()
    submit_pending(
        praho_committing.transaction, client=anaf_client, settings=efactura_settings, now=start
    )
    for n in range(1, 24 * 30 + 1):  # one day of the 2-minute beat
        _poll(praho_committing, anaf_client, efactura_settings, start + timedelta(minutes=2 * n))
    (submission,) = _submissions(praho_committing).values()
    assert submission.state == S.ACCEPTED and submission.response_zip is None
    assert "not downloaded yet" in submission.last_error
    downloads = len(_calls(anaf, "descarcare"))
    assert 3 <= downloads <= 10, f"{downloads} descarcare calls in one day"

    anaf.state.faults["descarcare"] = []
    _poll(praho_committing, anaf_client, efactura_settings, submission.next_poll_at)
    (done,) = _submissions(praho_committing).values()
    assert done.response_zip is not None and done.next_poll_at is None and done.last_error is None


def test_the_daily_download_quota_waits_for_the_next_day(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    anaf.state.processing_polls = 0
    committed(scenarios.domestic_21)
    start = utcnow()
    submit_pending(
        praho_committing.transaction, client=anaf_client, settings=efactura_settings, now=start
    )
    # Another program already downloaded this message ten times today.
    upload = anaf.state.uploads[0]
    upload.download_id = anaf.state.next_id()
    for _ in range(10):
        anaf_client.download(upload.download_id, token=authorized.access_token)
    with pytest.raises(AnafRateLimited, match="S-au facut deja 10 descarcari"):
        anaf_client.download(upload.download_id, token=authorized.access_token)

    _poll(praho_committing, anaf_client, efactura_settings, start + timedelta(minutes=2))
    (submission,) = _submissions(praho_committing).values()
    assert submission.state == S.ACCEPTED and submission.response_zip is None
    assert "S-au facut deja" in submission.last_error
    tomorrow = start.astimezone(BUCHAREST).date() + timedelta(days=1)
    waits_until = submission.next_poll_at.astimezone(BUCHAREST)
    assert (waits_until.date(), waits_until.hour) == (tomorrow, 0)
    calls = len(_calls(anaf, "descarcare"))
    for minutes in (4, 30, 120):
        later = min(
            start + timedelta(minutes=minutes), submission.next_poll_at - timedelta(seconds=1)
        )
        _poll(praho_committing, anaf_client, efactura_settings, later)
    assert len(_calls(anaf, "descarcare")) == calls, "no download before ANAF's next day"
