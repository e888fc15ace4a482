"""Many dispute reports recorded at once: the same outcome as one by one, or nothing at all.

``record_disputes`` is what the Stripe webhook source uses for a run of consecutive
``charge.dispute.*`` events: new disputes are inserted together, status changes and
repeats go through ``record_dispute`` in order.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from praho.core.errors import FieldError
from praho.core.models import AuditEvent, Dispute, Payment
from praho.core.models.disputes import DisputeStatus
from praho.core.payments.testing import assert_ledger_balanced, customer_with_card
from praho.core.services.audit import verify_audit_chain
from praho.core.services.disputes import DisputeReport, record_dispute, record_disputes
from praho.core.services.payments import charge_invoice
from praho.core.testing import DEFAULT_NOW
from sqlalchemy import func, select

NOW = DEFAULT_NOW


def _report(reference, status=DisputeStatus.OPEN, *, payment=None, amount=1000, currency="RON"):
    return DisputeReport("fake", reference, payment, amount, currency, status,
                         reason="fraudulent", gateway_status=str(status))


def _audit_trail(session):
    """Each dispute's audited actions, in chain order."""
    trail: dict[str, list[str]] = {}
    rows = session.execute(
        select(Dispute.gateway_reference, AuditEvent.action)
        .join(AuditEvent, AuditEvent.object_id == func.cast(Dispute.id, AuditEvent.object_id.type))
        .where(AuditEvent.object_type == "dispute")
        .order_by(AuditEvent.seq)
    )
    for reference, action in rows:
        trail.setdefault(reference, []).append(action)
    return trail


def _actions_recorded(session, work):
    """The audit actions ``work`` records, in order; everything it did is rolled back."""
    before = session.scalar(select(func.max(AuditEvent.id))) or 0
    savepoint = session.begin_nested()
    work()
    session.flush()
    actions = list(session.execute(
        select(AuditEvent.action).where(AuditEvent.id > before).order_by(AuditEvent.id)
    ).scalars())
    savepoint.rollback()
    return actions


def test_a_run_of_reports_ends_as_recording_each_in_turn_would(praho_session, praho_factory):
    session = praho_session
    customer = customer_with_card(praho_factory)
    invoice = praho_factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    charge_invoice(session, invoice, now=NOW)
    payment = session.execute(select(Payment)).scalar_one()
    record_dispute(session, _report("dp_known"), now=NOW)
    session.commit()

    later = NOW + timedelta(days=3)
    lost = _report("dp_lost", DisputeStatus.LOST, payment=payment.gateway_reference,
                   amount=payment.amount_minor, currency=payment.currency)
    reports = [
        _report("dp_new"),
        _report("dp_closed"),
        lost,  # first seen closed: opened, then lost (a chargeback)
        _report("dp_new"),  # a redelivery in the same run changes nothing
        _report("dp_known", DisputeStatus.WON),
        _report("dp_closed", DisputeStatus.CLOSED),
        _report("dp_closed"),  # a late "created" does not reopen it
        _report("dp_late"),  # a new dispute after status changes: audited after them
    ]
    one_by_one = _actions_recorded(session, lambda: [
        record_dispute(session, report, now=later) for report in reports])
    batched = _actions_recorded(session, lambda: record_disputes(session, reports, now=later))
    assert batched == one_by_one  # the same audit trail, in the same order
    assert one_by_one[:4] == ["dispute.opened", "dispute.opened", "dispute.opened",
                              "dispute.lost"] and one_by_one[-1] == "dispute.opened"
    record_disputes(session, reports, now=later)
    session.commit()

    disputes = {d.gateway_reference: d for d in session.execute(select(Dispute)).scalars()}
    assert {ref: str(d.status) for ref, d in disputes.items()} == {
        "dp_known": "won", "dp_new": "open", "dp_closed": "closed", "dp_lost": "lost",
        "dp_late": "open"}
    assert disputes["dp_new"].opened_at == later and disputes["dp_new"].closed_at is None
    assert disputes["dp_new"].reason == "fraudulent" and disputes["dp_new"].amount_minor == 1000
    assert disputes["dp_lost"].payment_reference == payment.gateway_reference
    assert _audit_trail(session) == {
        "dp_known": ["dispute.opened", "dispute.won"],
        "dp_new": ["dispute.opened"],
        "dp_closed": ["dispute.opened", "dispute.closed"],
        "dp_lost": ["dispute.opened", "dispute.lost"],
        "dp_late": ["dispute.opened"],
    }
    session.refresh(invoice)
    assert invoice.balance_due_minor == invoice.total_minor > 0  # charged back
    assert_ledger_balanced(session)
    assert verify_audit_chain(session).ok


def test_one_bad_report_refuses_the_whole_run_before_anything_is_written(praho_session):
    session = praho_session
    with pytest.raises(FieldError, match="currency"):
        record_disputes(session, [_report("dp_good"), _report("dp_bad", currency="XYZ")],
                        now=NOW)
    with pytest.raises(FieldError, match="negative"):
        record_disputes(session, [_report("dp_good"), _report("dp_neg", amount=-5)], now=NOW)
    session.flush()
    assert session.scalar(select(func.count(Dispute.id))) == 0
    assert session.scalar(select(func.count(AuditEvent.id))) == 0


def test_an_empty_run_does_nothing(praho_session):
    record_disputes(praho_session, [], now=NOW)
    assert praho_session.scalar(select(func.count(Dispute.id))) == 0
