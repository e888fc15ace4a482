"""The receivables plugin: e-mails over real SMTP, ``praho collections run``, the beat entry."""

from __future__ import annotations

import json

from praho.core.cli import main
from praho.core.models import CollectionAction, CollectionRun, EmailMessage, Invoice
from praho.core.services.collections import run_collections
from praho.core.tasks import build_beat_schedule
from praho.core.testing import PrahoFactory, at
from praho.plugins.receivables.tasks import RUN_TASK
from sqlalchemy import func, select


def _overdue_customer(database, *, language="ro", email="plata@client.ro"):
    with database.transaction() as session:
        factory = PrahoFactory(session)
        customer = factory.customer(email=email, language=language)
        factory.subscription(customer=customer, start="2026-01-31")
        return customer.id


def test_dunning_emails_reach_a_real_smtp_server_in_the_customer_language(
    praho_app, praho_committing, praho_smtp
):
    _overdue_customer(praho_committing, language="ro", email="plata@client.ro")
    _overdue_customer(praho_committing, language="en", email="billing@client.example")
    for day in ("2026-02-15", "2026-02-16"):
        with praho_committing.transaction() as session:
            run_collections(session, now=at(day, 12))
    romanian = praho_smtp.to("plata@client.ro")
    english = praho_smtp.to("billing@client.example")
    assert [m["Subject"] for m in romanian] == [
        "Reamintire: factura PRH2026-000001 este neachitată"] * 2
    assert english[0]["Subject"].startswith("Reminder: invoice PRH2026-00000")
    body = romanian[0].get_content()
    assert "60,50" in body and "14.02.2026" in body and "28.02.2026" in body  # suspend on
    with praho_committing.transaction() as session:
        emails = session.execute(
            select(CollectionAction).where(CollectionAction.kind == "email")
            .order_by(CollectionAction.id)).scalars().all()
        assert len(emails) == 4 and all(a.email_message_id for a in emails)
        sent = session.execute(select(EmailMessage.status)).scalars().all()
        assert sent == ["sent"] * 4


def _invoke(praho_app, *args):
    return praho_app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)


def test_praho_collections_run_with_a_date(praho_app, praho_committing):
    _overdue_customer(praho_committing)
    result = _invoke(praho_app, "collections", "run", "--date", "2026-02-15", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["counts"] == {"email:succeeded": 1, "opened:succeeded": 1,
                                 "past_due:succeeded": 1}
    assert summary["failed"] == [] and summary["tried"] == 0
    text = _invoke(praho_app, "collections", "run", "--date", "2026-02-16")
    assert "collection run" in text.output and "email:succeeded" in text.output


def test_praho_collections_run_refuses_a_bad_date_and_writes_nothing(praho_app, praho_committing):
    _overdue_customer(praho_committing)
    result = _invoke(praho_app, "collections", "run", "--date", "2026-02-30")
    assert result.exit_code != 0 and "--date" in result.output
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count(CollectionRun.id))).scalar_one() == 0
        assert session.execute(select(func.count(Invoice.id))).scalar_one() == 1


def test_the_nightly_collection_run_is_on_the_beat_schedule(praho_app):
    schedule = build_beat_schedule(praho_app)
    assert schedule["collections-run-daily"]["task"] == RUN_TASK
    assert RUN_TASK in praho_app.extensions["celery"].tasks


def test_the_celery_task_runs_the_collection_run(praho_app, praho_committing):
    _overdue_customer(praho_committing)
    result = praho_app.extensions["celery"].tasks[RUN_TASK].delay("2026-02-15").get()
    assert result["counts"]["opened:succeeded"] == 1 and result["chunks"] == 1


def test_a_run_splits_its_cases_into_chunks_and_a_chunk_is_chased_once(praho_committing):
    from praho.core.models import CollectionRunChunk
    from praho.core.services.collections import chase_run_chunk, finish_collection_run
    from praho.plugins.receivables.runner import start_run

    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        price = factory.price()
        for _ in range(3):
            factory.subscription(price, start="2026-01-31")
    run_id, chunk_ids = start_run(praho_committing, now=at("2026-02-15", 12), chunk_size=2)
    assert len(chunk_ids) == 2
    with praho_committing.transaction() as session:
        sizes = [len(c.case_ids) for c in session.execute(
            select(CollectionRunChunk).order_by(CollectionRunChunk.position)).scalars()]
        assert sizes == [2, 1]
        assert finish_collection_run(session, run_id) is None  # chunks still pending
        assert chase_run_chunk(session, chunk_ids[0]) == 2
        assert chase_run_chunk(session, chunk_ids[0]) is None  # a redelivery does nothing
        assert chase_run_chunk(session, chunk_ids[1]) == 1
        run = finish_collection_run(session, run_id)
        assert run is not None and run.summary["chunks"] == 2
        assert run.summary["counts"] == {"email:succeeded": 3, "opened:succeeded": 3,
                                         "past_due:succeeded": 3}
        assert finish_collection_run(session, run_id) is run  # idempotent


def test_a_bad_chunk_size_is_refused_and_writes_nothing(praho_committing):
    import pytest
    from praho.core.errors import FieldError
    from praho.plugins.receivables.runner import start_run

    _overdue_customer(praho_committing)
    for size in (0, -1, 100_001, "10"):
        with pytest.raises(FieldError, match="chunk_size"):
            start_run(praho_committing, now=at("2026-02-15", 12), chunk_size=size)
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count(CollectionRun.id))).scalar_one() == 0


def test_a_chunk_chased_again_after_a_case_failed_records_the_failure_once(praho_committing):
    """A redelivered chunk (its worker died after a commit) meets the same broken case."""
    from praho.core.models import CollectionRunChunk, DunningPolicy
    from praho.core.services.collections import chase_run_chunk, finish_collection_run
    from praho.plugins.receivables.runner import start_run

    _overdue_customer(praho_committing)
    with praho_committing.transaction() as session:
        run_collections(session, now=at("2026-02-15", 12))  # case opened, policy e-mails
        # The policy's template set is removed from the installation afterwards.
        session.execute(select(DunningPolicy)).scalar_one().template_set = "gone"
    run_id, (chunk_id,) = start_run(praho_committing, now=at("2026-02-16", 12))
    for _ in range(2):
        with praho_committing.transaction() as session:
            assert chase_run_chunk(session, chunk_id) == 1
            session.get(CollectionRunChunk, chunk_id).status = "pending"  # delivered again
    with praho_committing.transaction() as session:
        assert chase_run_chunk(session, chunk_id) == 1
        run = finish_collection_run(session, run_id)
        errors = session.execute(
            select(CollectionAction).where(CollectionAction.step_key == f"error:{run_id}")
        ).scalars().all()
        assert len(errors) == 1 and "gone_reminder" in errors[0].reason
        assert [f["step"] for f in run.summary["failed"]] == [f"error:{run_id}"]
        chunk = session.get(CollectionRunChunk, chunk_id)
        assert chunk.attempts == 3 and len(chunk.failures) == 1
