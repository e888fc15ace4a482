"""Double-entry ledger invariants and the audit hash chain."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from praho.core.errors import AppendOnlyViolation, InvalidTransition, LedgerError
from praho.core.models import AccountCode, AuditEvent, JournalLine
from praho.core.models.audit import ActorType
from praho.core.services import ledger
from praho.core.services.audit import Actor, record_audit, verify_audit_chain
from praho.core.services.credit_notes import issue_credit_note
from praho.core.services.issuing import void_document
from sqlalchemy import text

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_unbalanced_entry_is_refused_and_nothing_written(praho_session):
    before = praho_session.query(JournalLine).count()
    with pytest.raises(LedgerError, match="does not balance"):
        ledger.post_entry(praho_session, kind="test", memo="bad", now=NOW, postings=[
            ledger.debit(AccountCode.BANK, 100, "RON"), ledger.credit(AccountCode.REVENUE, 99, "RON")])
    with pytest.raises(LedgerError, match="does not balance"):
        ledger.post_entry(praho_session, kind="test", memo="mixed", now=NOW, postings=[
            ledger.debit(AccountCode.BANK, 100, "RON"), ledger.credit(AccountCode.REVENUE, 100, "EUR")])
    with pytest.raises(LedgerError, match="unknown accounts"):
        ledger.post_entry(praho_session, kind="test", memo="acct", now=NOW, postings=[
            ledger.debit("9999", 1, "RON"), ledger.credit(AccountCode.REVENUE, 1, "RON")])
    assert praho_session.query(JournalLine).count() == before


def test_same_idempotency_key_posts_once(praho_session):
    postings = [ledger.debit(AccountCode.BANK, 500, "RON"), ledger.credit(AccountCode.CUSTOMER_CREDIT, 500, "RON")]
    first = ledger.post_entry(praho_session, kind="t", memo="m", postings=postings, idempotency_key="k1", now=NOW)
    again = ledger.post_entry(praho_session, kind="t", memo="m", postings=postings, idempotency_key="k1", now=NOW)
    assert first.id == again.id
    assert ledger.account_balance(praho_session, AccountCode.BANK, "RON") == 500


def test_journal_is_append_only_and_reversal_undoes(praho_session):
    entry = ledger.post_entry(praho_session, kind="t", memo="m", now=NOW, postings=[
        ledger.debit(AccountCode.BANK, 700, "RON"), ledger.credit(AccountCode.REVENUE, 700, "RON")])
    entry.lines[0].amount_minor = 1
    with pytest.raises(AppendOnlyViolation):
        praho_session.flush()
    praho_session.rollback()
    entry = ledger.post_entry(praho_session, kind="t", memo="m", now=NOW, postings=[
        ledger.debit(AccountCode.BANK, 700, "RON"), ledger.credit(AccountCode.REVENUE, 700, "RON")])
    praho_session.delete(entry)
    with pytest.raises(AppendOnlyViolation):
        praho_session.flush()
    praho_session.rollback()
    entry = ledger.post_entry(praho_session, kind="t", memo="m", now=NOW, postings=[
        ledger.debit(AccountCode.BANK, 700, "RON"), ledger.credit(AccountCode.REVENUE, 700, "RON")])
    ledger.reverse_entry(praho_session, entry, memo="undo", now=NOW)
    assert ledger.account_balance(praho_session, AccountCode.BANK, "RON") == 0


def test_customer_balance_nets_receivable_and_credit(praho_factory, praho_session):
    invoice = praho_factory.invoice(lines=[("Hosting", "1", "100.00")])
    customer_id = invoice.customer_id
    ledger.post_entry(praho_session, kind="goodwill", memo="credit", now=NOW, postings=[
        ledger.debit(AccountCode.DISCOUNTS, 1000, "RON"),
        ledger.credit(AccountCode.CUSTOMER_CREDIT, 1000, "RON", customer_id=customer_id)])
    assert ledger.customer_receivable(praho_session, customer_id, "RON") == 12100
    assert ledger.customer_credit_balance(praho_session, customer_id, "RON") == 1000
    assert ledger.customer_balance(praho_session, customer_id, "RON") == 11100


# Random sequences of business operations keep the trial balance at zero per currency.
operation = st.one_of(
    st.tuples(st.just("invoice"), st.sampled_from(["RON", "EUR"]),
              st.lists(st.tuples(st.integers(1, 5), st.integers(1, 99999)), min_size=1, max_size=4)),
    st.tuples(st.just("credit_full"), st.integers(0, 20)),
    st.tuples(st.just("credit_part"), st.integers(0, 20), st.integers(1, 50000)),
    st.tuples(st.just("void"), st.integers(0, 20)),
    st.tuples(st.just("goodwill"), st.integers(1, 100000)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(operation, min_size=1, max_size=12))
def test_trial_balance_stays_zero_over_random_operations(praho_factory, praho_session, operations):
    customer = praho_factory.customer()
    issued = []
    moment = NOW
    for op in operations:
        moment += timedelta(minutes=1)
        try:
            if op[0] == "invoice":
                _, currency, lines = op
                specs = [("Item", str(q), f"{price / 100:.2f}") for q, price in lines]
                issued.append(praho_factory.invoice(customer, specs, currency=currency, now=moment))
            elif op[0] == "credit_full" and issued:
                issue_credit_note(praho_session, issued[op[1] % len(issued)], reason="full", now=moment)
            elif op[0] == "credit_part" and issued:
                issue_credit_note(praho_session, issued[op[1] % len(issued)], reason="part",
                                  gross_amount_minor=op[2], now=moment)
            elif op[0] == "void" and issued:
                void_document(praho_session, issued[op[1] % len(issued)], reason="void", now=moment)
            elif op[0] == "goodwill":
                ledger.post_entry(praho_session, kind="goodwill", memo="g", now=moment, postings=[
                    ledger.debit(AccountCode.DISCOUNTS, op[1], "RON"),
                    ledger.credit(AccountCode.CUSTOMER_CREDIT, op[1], "RON", customer_id=customer.id)])
        except InvalidTransition:
            pass  # refused operations (over-credit, void after credit) must change nothing
        assert ledger.unbalanced_currencies(ledger.trial_balance(praho_session).items()) == {}
    for invoice in issued:
        assert 0 <= invoice.credited_minor <= invoice.total_minor


# --- audit chain --------------------------------------------------------------


def _audited(database, count):
    with database.transaction() as session:
        for n in range(count):
            record_audit(session, actor=Actor(ActorType.USER, "ana"), action="test.done",
                         object_type="thing", object_id=n, amount_minor=n * 100, currency="RON",
                         data={"n": n}, now=NOW)


def test_audit_chain_verifies_and_detects_tampering(praho_committing):
    _audited(praho_committing, 5)
    _audited(praho_committing, 3)
    with praho_committing.transaction() as session:
        report = verify_audit_chain(session)
        assert report.ok and report.checked == 8
        events = session.query(AuditEvent).order_by(AuditEvent.seq).all()
        assert [e.seq for e in events] == list(range(1, 9))
        assert events[1].prev_hash == events[0].hash
    postgres = praho_committing.dialect == "postgresql"
    with praho_committing.engine.begin() as connection:
        if postgres:  # the trigger refuses tampering; only a superuser disabling it could
            connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_guard"))
        connection.execute(text("UPDATE audit_events SET amount_minor = 999999 WHERE seq = 4"))
        connection.execute(text("DELETE FROM audit_events WHERE seq = 6"))
        if postgres:
            connection.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_guard"))
    with praho_committing.transaction() as session:
        report = verify_audit_chain(session)
    assert not report.ok
    assert any("seq 4: content does not match" in p for p in report.problems)
    assert any("gap" in p for p in report.problems)


def test_audit_events_cannot_be_edited_through_the_orm(praho_committing):
    _audited(praho_committing, 1)
    with pytest.raises(AppendOnlyViolation), praho_committing.transaction() as session:
        session.query(AuditEvent).one().action = "changed"
        session.flush()


@pytest.mark.postgres
def test_audit_trigger_refuses_raw_update(praho_committing):
    from sqlalchemy.exc import DBAPIError

    _audited(praho_committing, 1)
    with pytest.raises(DBAPIError, match="append-only"), praho_committing.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET action = 'x'"))


def test_rolled_back_work_leaves_no_audit(praho_committing):
    with pytest.raises(RuntimeError), praho_committing.transaction() as session:
        record_audit(session, actor=None, action="x", object_type="t", object_id=1, now=NOW)
        session.flush()
        raise RuntimeError("boom")
    _audited(praho_committing, 1)
    with praho_committing.transaction() as session:
        assert verify_audit_chain(session).ok
        assert session.query(AuditEvent).count() == 1


def test_cli_audit_verify(praho_committing, praho_app):
    _audited(praho_committing, 2)
    result = praho_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "2 events verified" in result.output
