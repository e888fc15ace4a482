"""Gapless numbering under real concurrency: 8 processes issuing 500 invoices each."""

import multiprocessing
from datetime import UTC, datetime

import pytest
from praho.core.models import Invoice
from sqlalchemy import select

PROCESSES = 8
PER_PROCESS = 500
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _issue_many(url: str, customer_id: int, count: int, start_barrier) -> None:
    from praho.core.app import create_app
    from praho.core.models import Customer
    from praho.core.pricing import DraftLine
    from praho.core.services.invoicing import create_draft
    from praho.core.services.issuing import issue_document
    from praho.core.testing import StaticTestPlugin, config_for_tests

    app = create_app(config_for_tests(url), plugins=[("static_test", StaticTestPlugin())])
    database = app.extensions["praho.db"]
    start_barrier.wait()
    with app.app_context():
        for _ in range(count):
            # One transaction per invoice, as the billing run's per-document commits do.
            with database.transaction() as session:
                customer = session.get(Customer, customer_id)
                draft = create_draft(session, customer=customer, now=NOW, lines=[
                    DraftLine(item_name="Hosting", quantity=1, unit_price="10.00")])
                issue_document(session, draft, now=NOW)
    database.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_eight_processes_issue_4000_gapless_numbers(praho_committing, praho_app):
    from praho.core.testing import PrahoFactory

    with praho_committing.transaction() as session:
        customer_id = PrahoFactory(session).customer().id
    url = praho_app.config["DATABASE_URL"]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    workers = [context.Process(target=_issue_many, args=(url, customer_id, PER_PROCESS, barrier))
               for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=900)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    with praho_committing.transaction() as session:
        numbers = session.execute(select(Invoice.number).where(Invoice.kind == "invoice")).scalars().all()
    total = PROCESSES * PER_PROCESS
    assert len(numbers) == total
    assert sorted(numbers) == list(range(1, total + 1))  # no gap, no duplicate


def test_numbers_survive_rollback_without_gap(praho_committing):
    """A failed issuing transaction returns its number: the next invoice takes it."""
    from praho.core.services.issuing import issue_document
    from praho.core.testing import PrahoFactory

    with praho_committing.transaction() as session:
        PrahoFactory(session).invoice(now=NOW)
    with pytest.raises(RuntimeError), praho_committing.transaction() as session:
        draft = PrahoFactory(session).draft(now=NOW)
        issue_document(session, draft, now=NOW)
        raise RuntimeError("crash after numbering")
    with praho_committing.transaction() as session:
        third = PrahoFactory(session).invoice(now=NOW)
        assert third.number == 2
