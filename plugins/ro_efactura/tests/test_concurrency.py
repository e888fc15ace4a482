"""One upload per document, even when several workers try at the same moment (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from flask import current_app
from praho.plugins.ro_efactura.models import EfacturaSubmission, SubmissionState
from praho.plugins.ro_efactura.tests import scenarios
from praho.plugins.ro_efactura.transmission import upload_submission
from sqlalchemy import select


@pytest.mark.postgres
def test_concurrent_workers_upload_a_document_exactly_once(
    praho_committing, committed, authorized, anaf, anaf_client, efactura_settings
):
    invoice_id = committed(scenarios.domestic_21)
    with praho_committing.transaction() as session:
        submission_id = session.execute(
            select(EfacturaSubmission.id).where(EfacturaSubmission.invoice_id == invoice_id)
        ).scalar_one()
    app = current_app._get_current_object()
    barrier = threading.Barrier(6)
    results: list[object] = []

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            results.append(
                upload_submission(
                    praho_committing.transaction,
                    submission_id,
                    client=anaf_client,
                    settings=efactura_settings,
                )
            )

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 6
    assert len(anaf.state.uploads) == 1
    with praho_committing.transaction() as session:
        submission = session.get(EfacturaSubmission, submission_id)
        assert submission.state == SubmissionState.UPLOADED and submission.attempts == 1


@pytest.mark.postgres
def test_second_submission_row_for_a_document_is_refused(praho_factory, praho_session):
    from sqlalchemy.exc import IntegrityError

    invoice = praho_factory.invoice()
    existing = praho_session.execute(select(EfacturaSubmission)).scalar_one()
    duplicate = EfacturaSubmission(
        **{
            c.key: getattr(existing, c.key)
            for c in EfacturaSubmission.__table__.columns
            if c.key not in ("id", "upload_index")
        }
    )
    assert duplicate.invoice_id == invoice.id
    savepoint = praho_session.begin_nested()
    praho_session.add(duplicate)
    with pytest.raises(IntegrityError):
        praho_session.flush()
    savepoint.rollback()
