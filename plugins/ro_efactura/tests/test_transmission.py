"""Submitting to the ANAF stand-in: happy path, rejections, tokens, 5xx, timeouts, quotas."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta

import pytest
from praho.core.clock import utcnow
from praho.core.errors import InvalidTransition
from praho.core.models import Invoice
from praho.core.services.issuing import void_document
from praho.plugins.ro_efactura.models import EfacturaSubmission, EfacturaToken, SubmissionState
from praho.plugins.ro_efactura.runs import poll_due, submit_pending
from praho.plugins.ro_efactura.tests import scenarios
from sqlalchemy import select

S = SubmissionState


def _submission(db, invoice_id) -> EfacturaSubmission:
    with db.transaction() as session:
        found = session.execute(
            select(EfacturaSubmission).where(EfacturaSubmission.invoice_id == invoice_id)
        ).scalar_one()
        assert found.events is not None  # load the history before the session closes
        return found


def _run(db, client, settings, *, polls=0, now=None):
    submit_pending(db.transaction, client=client, settings=settings, now=now)
    for n in range(polls):
        poll_due(
            db.transaction,
            client=client,
            settings=settings,
            now=(now or utcnow()) + timedelta(hours=n + 1),
        )


def test_happy_path_upload_poll_accept_and_store_signed_zip(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    invoice_id = committed(scenarios.domestic_21)
    assert _submission(praho_committing, invoice_id).state == S.PENDING  # queued by invoice_issued
    submit_pending(praho_committing.transaction, client=anaf_client, settings=efactura_settings)
    uploaded = _submission(praho_committing, invoice_id)
    assert uploaded.state == S.UPLOADED and uploaded.upload_index == anaf.state.uploads[0].index
    method, path, params = next(r for r in anaf.state.requests if r[1].endswith("/upload"))
    assert params == {"standard": "UBL", "cif": "14399840"}
    assert anaf.state.uploads[0].body == uploaded.xml

    later = utcnow() + timedelta(minutes=5)
    poll_due(
        praho_committing.transaction, client=anaf_client, settings=efactura_settings, now=later
    )
    assert _submission(praho_committing, invoice_id).state == S.PROCESSING  # "in prelucrare"
    poll_due(
        praho_committing.transaction,
        client=anaf_client,
        settings=efactura_settings,
        now=later + timedelta(hours=1),
    )
    accepted = _submission(praho_committing, invoice_id)
    assert accepted.state == S.ACCEPTED and accepted.download_id
    assert accepted.response_sha256 == hashlib.sha256(accepted.response_zip).hexdigest()
    names = zipfile.ZipFile(io.BytesIO(accepted.response_zip)).namelist()
    assert any("semnatura" in n for n in names) and f"{accepted.upload_index}.xml" in names
    assert [e.to_state for e in accepted.events] == [
        "pending",
        "uploading",
        "uploaded",
        "processing",
        "accepted",
    ]
    # Accepted by ANAF: the document can no longer be voided, only credited.
    with praho_committing.transaction() as session:
        with pytest.raises(InvalidTransition, match="credit note"):
            void_document(session, session.get(Invoice, invoice_id), reason="mistake")


def test_credit_note_b2c_and_foreign_buyer_use_the_right_endpoint_and_parameters(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    committed(scenarios.credit_note)  # an invoice and its credit note
    committed(scenarios.individual_with_cnp)  # B2C
    foreign_settings = efactura_settings.__class__(
        **{**efactura_settings.__dict__, "report_foreign_buyers": True}
    )
    with praho_committing.transaction() as session:
        from praho.core.testing import PrahoFactory
        from praho.plugins.ro_efactura.submissions import queue_submission

        document = scenarios.reverse_charge(PrahoFactory(session))
        assert queue_submission(session, document, settings=foreign_settings, now=utcnow())
    submit_pending(praho_committing.transaction, client=anaf_client, settings=foreign_settings)
    seen = sorted(
        (path.rsplit("/", 1)[-1], tuple(sorted(params.items())))
        for method, path, params in anaf.state.requests
        if "upload" in path
    )
    assert seen == [
        ("upload", (("cif", "14399840"), ("extern", "DA"), ("standard", "UBL"))),
        ("upload", (("cif", "14399840"), ("standard", "CN"))),
        ("upload", (("cif", "14399840"), ("standard", "UBL"))),
        ("uploadb2c", (("cif", "14399840"), ("standard", "UBL"))),
    ]


def test_rejected_document_keeps_anafs_error_list(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    anaf.state.outcome, anaf.state.processing_polls = "nok", 0
    invoice_id = committed(scenarios.domestic_21)
    _run(praho_committing, anaf_client, efactura_settings, polls=1)
    rejected = _submission(praho_committing, invoice_id)
    assert rejected.state == S.REJECTED and rejected.response_zip
    assert any("BR-RO-120" in e for e in rejected.anaf_errors)
    assert any("R_BT_32_cui" in e for e in rejected.anaf_errors)


def test_refused_upload_is_rejected_and_can_be_retried(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    invoice_id = committed(scenarios.domestic_21)
    with praho_committing.transaction() as session:
        submission = session.execute(select(EfacturaSubmission)).scalar_one()
        submission.seller_cui = "99999999"  # a CUI without SPV rights
        session.add(
            EfacturaToken(
                **{
                    c: getattr(session.execute(select(EfacturaToken)).scalar_one(), c)
                    for c in ("environment", "access_expires_at", "refresh_expires_at")
                },
                cui="99999999",
                created_at=utcnow(),
                access_token_enc=_sealed("99999999", authorized.access_token, efactura_settings),
                refresh_token_enc=_sealed("99999999", authorized.refresh_token, efactura_settings),
            )
        )
    _run(praho_committing, anaf_client, efactura_settings)
    rejected = _submission(praho_committing, invoice_id)
    assert rejected.state == S.REJECTED
    assert rejected.anaf_errors == ["Nu aveti drept in SPV pentru CIF=99999999"]
    from praho.plugins.ro_efactura.submissions import retry_submission

    with praho_committing.transaction() as session:
        retried = retry_submission(
            session, session.get(EfacturaSubmission, rejected.id), actor=None, now=utcnow()
        )
        assert retried.state == S.PENDING


def _sealed(cui, token, settings):
    from praho.plugins.ro_efactura.tokens import seal

    return seal(settings, cui, token)


def test_access_token_near_expiry_is_refreshed_before_the_upload(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    with praho_committing.transaction() as session:
        session.execute(select(EfacturaToken)).scalar_one().access_expires_at = (
            utcnow() + timedelta(days=2)
        )
    invoice_id = committed(scenarios.domestic_21)
    _run(praho_committing, anaf_client, efactura_settings)
    assert _submission(praho_committing, invoice_id).state == S.UPLOADED
    assert anaf.state.token_grants == ["authorization_code", "refresh_token"]
    with praho_committing.transaction() as session:
        row = session.execute(select(EfacturaToken)).scalar_one()
        assert row.access_expires_at > utcnow() + timedelta(days=80)
        assert b"access-" not in row.access_token_enc  # encrypted at rest


def test_token_revoked_at_anaf_is_refreshed_once_and_the_upload_retried(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    invoice_id = committed(scenarios.domestic_21)
    anaf.state.revoke_access_tokens()  # ANAF answers 401 to the stored access token
    _run(praho_committing, anaf_client, efactura_settings)
    assert _submission(praho_committing, invoice_id).state == S.UPLOADED
    assert len(anaf.state.uploads) == 1
    assert anaf.state.token_grants[-1] == "refresh_token"


def test_expired_refresh_token_leaves_the_document_pending_with_a_clear_error(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    with praho_committing.transaction() as session:
        row = session.execute(select(EfacturaToken)).scalar_one()
        row.access_expires_at = row.refresh_expires_at = utcnow() - timedelta(days=1)
    invoice_id = committed(scenarios.domestic_21)
    _run(praho_committing, anaf_client, efactura_settings)
    pending = _submission(praho_committing, invoice_id)
    assert pending.state == S.PENDING and pending.attempts == 0
    assert "authorize again" in pending.last_error
    assert anaf.state.uploads == []


@pytest.mark.parametrize("fault", ["503", "429"])
def test_refused_requests_release_the_claim_and_are_sent_later(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings, fault
):
    anaf.state.faults["upload"] = [fault]
    invoice_id = committed(scenarios.domestic_21)
    _run(praho_committing, anaf_client, efactura_settings)
    first = _submission(praho_committing, invoice_id)
    assert first.state == S.PENDING and first.attempts == 1 and anaf.state.uploads == []
    _run(praho_committing, anaf_client, efactura_settings)
    assert _submission(praho_committing, invoice_id).state == S.UPLOADED
    assert len(anaf.state.uploads) == 1


def test_timeout_after_the_request_left_is_resolved_from_the_message_list(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    anaf.state.faults["upload"] = ["timeout"]
    anaf.state.processing_polls = 0
    invoice_id = committed(scenarios.domestic_21)
    _run(praho_committing, anaf_client, efactura_settings)
    unknown = _submission(praho_committing, invoice_id)
    assert unknown.state == S.UNKNOWN and "outcome is unknown" in unknown.last_error
    # The beat runs again: no blind re-upload, the message list settles it.
    _run(praho_committing, anaf_client, efactura_settings, polls=1)
    resolved = _submission(praho_committing, invoice_id)
    assert resolved.state == S.ACCEPTED
    assert len(anaf.state.uploads) == 1
    assert resolved.upload_index == anaf.state.uploads[0].index
    assert resolved.events[-1].detail["resolved_by"] == "message list"


def test_a_lost_upload_is_never_sent_again_blindly_a_person_queues_it_after_the_grace(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    from praho.plugins.ro_efactura.submissions import retry_submission

    anaf.state.faults["upload"] = ["lost"]  # the connection dies, ANAF never stored the file
    invoice_id = committed(scenarios.domestic_21)
    start = utcnow()
    _run(praho_committing, anaf_client, efactura_settings, now=start)
    assert _submission(praho_committing, invoice_id).state == S.UNKNOWN

    def poll(hours):
        poll_due(
            praho_committing.transaction,
            client=anaf_client,
            settings=efactura_settings,
            now=start + timedelta(hours=hours),
        )

    poll(1)
    assert _submission(praho_committing, invoice_id).state == S.UNKNOWN  # still looking
    with praho_committing.transaction() as session:
        early = session.get(EfacturaSubmission, _submission(praho_committing, invoice_id).id)
        with pytest.raises(InvalidTransition, match="still being looked for"):
            retry_submission(session, early, actor=None, now=start + timedelta(hours=1))
    poll(25)
    waiting = _submission(praho_committing, invoice_id)
    # Past the grace period it still is not uploaded again by itself: it asks a person.
    assert waiting.state == S.UNKNOWN and "check SPV" in waiting.last_error
    _run(praho_committing, anaf_client, efactura_settings, now=start + timedelta(hours=25))
    assert _submission(praho_committing, invoice_id).state == S.UNKNOWN
    assert anaf.state.uploads == []
    with praho_committing.transaction() as session:
        submission = session.get(EfacturaSubmission, waiting.id)
        retry_submission(session, submission, actor=None, now=start + timedelta(hours=26))
    _run(praho_committing, anaf_client, efactura_settings, now=start + timedelta(hours=26))
    assert _submission(praho_committing, invoice_id).state == S.UPLOADED
    assert len(anaf.state.uploads) == 1


def test_5xx_on_upload_is_an_unknown_outcome(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    anaf.state.faults["upload"] = ["502"]
    invoice_id = committed(scenarios.domestic_21)
    _run(praho_committing, anaf_client, efactura_settings)
    assert _submission(praho_committing, invoice_id).state == S.UNKNOWN


def test_status_quota_and_5xx_back_off_without_changing_state(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    invoice_id = committed(scenarios.domestic_21)
    _run(praho_committing, anaf_client, efactura_settings)
    anaf.state.faults["stareMesaj"] = ["429", "500"]
    start = utcnow() + timedelta(minutes=2)
    poll_due(
        praho_committing.transaction, client=anaf_client, settings=efactura_settings, now=start
    )
    first = _submission(praho_committing, invoice_id)
    assert first.state == S.UPLOADED and "429" in first.last_error
    poll_due(
        praho_committing.transaction,
        client=anaf_client,
        settings=efactura_settings,
        now=first.next_poll_at,
    )
    second = _submission(praho_committing, invoice_id)
    assert second.state == S.UPLOADED and "500" in second.last_error
    assert second.next_poll_at - first.next_poll_at > first.next_poll_at - start  # backoff grows


def test_document_failing_validation_is_never_uploaded(
    praho_committing, authorized, anaf, anaf_client, efactura_settings
):
    from praho.core.testing import PrahoFactory

    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        factory.seller()
        bad_seller = factory.seller(code="BADCITY", city="Bucuresti")  # RO-B needs SECTOR1..6
        customer = factory.customer()
        from praho.core.services.invoicing import create_draft
        from praho.core.services.issuing import issue_document

        draft = create_draft(
            session,
            customer=customer,
            seller=bad_seller,
            now=scenarios.NOW,
            lines=[scenarios._line("Hosting", "1", "10.00")],
        )
        invoice_id = issue_document(session, draft, now=scenarios.NOW).id
    _run(praho_committing, anaf_client, efactura_settings)
    invalid = _submission(praho_committing, invoice_id)
    assert invalid.state == S.INVALID
    assert any("BR-RO-100" in e for e in invalid.anaf_errors)
    assert anaf.state.uploads == []


def test_void_before_upload_cancels_the_submission(praho_factory, praho_session):
    invoice = praho_factory.invoice()
    void_document(praho_session, invoice, reason="issued by mistake", now=scenarios.NOW)
    submission = praho_session.execute(select(EfacturaSubmission)).scalar_one()
    assert submission.state == S.CANCELLED
