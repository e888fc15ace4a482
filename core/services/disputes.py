"""Recording disputes the gateways report (idempotent per gateway reference, audited).

A dispute is recorded when it opens and its outcome when it closes. A **lost** dispute
is a chargeback: the gateway kept the money, so :func:`charge_back` takes the payment
back off the invoices it paid (they are owed again and dunning chases them), posts it
out of the gateway clearing account and marks the payment as returned. An open or won
dispute moves no money in the books (the gateway returns withheld funds on a win).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.models.disputes import Dispute, DisputeStatus
from praho.core.models.invoices import Invoice
from praho.core.models.ledger import AccountCode
from praho.core.models.payments import PaymentAllocation, PaymentRecordStatus
from praho.core.services import ledger
from praho.core.services.audit import Actor, record_audit
from praho.core.services.bulk_sql import insert_rows, values_in
from praho.core.services.payment_allocation import (
    CHARGEBACK,
    lock_customer,
    lock_invoice,
    refresh_payment_status,
)
from praho.core.services.payment_gateways import (
    clearing_account,
    payment_by_gateway_reference,
)
from sqlalchemy import String, func, select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class DisputeReport:
    """What a gateway says about a dispute, in our terms."""

    gateway_id: str
    gateway_reference: str
    payment_reference: str | None
    amount_minor: int
    currency: str
    status: DisputeStatus
    reason: str = ""
    gateway_status: str = ""


def record_dispute(
    session: Session,
    report: DisputeReport,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Dispute:
    """Create or update the dispute ``report`` describes; audit each change of status.

    Reports arrive at least once and out of order: an unchanged report changes nothing,
    and a closed dispute is not reopened by a late "created" report.
    """
    moment = resolve_now(now)
    _check_report(report)
    dispute = session.execute(
        select(Dispute)
        .where(
            Dispute.gateway_id == report.gateway_id,
            Dispute.gateway_reference == report.gateway_reference,
        )
        .with_for_update()
    ).scalar_one_or_none()
    if dispute is None:
        dispute = Dispute(**_opened_values(report, moment))
        session.add(dispute)
        session.flush()
        _audit_opened(session, dispute.id, report, actor=actor, now=moment)
    return _apply_status(session, dispute, report, actor=actor, now=moment)


def record_disputes(
    session: Session,
    reports: Sequence[DisputeReport],
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> None:
    """Record many reports in order, with the effect of :func:`record_dispute` on each.

    For a flood of new disputes (a fraud wave reported in minutes): the disputes not yet
    recorded are found with one query and inserted together; then, in the reports'
    order, each new dispute is audited as opened where its first report is, and every
    report that is more than the opening of a new dispute (a change of status, a repeat)
    goes through :func:`record_dispute`. Every report is checked before anything is
    written, so one bad report writes nothing.
    """
    moment = resolve_now(now)
    for report in reports:
        _check_report(report)
    references: dict[str, list[str]] = {}
    for report in reports:
        references.setdefault(report.gateway_id, []).append(report.gateway_reference)
    known: set[tuple[str, str]] = set()
    for gateway_id, wanted in references.items():
        found = session.execute(
            select(Dispute.gateway_reference)
            .where(Dispute.gateway_id == gateway_id,
                   values_in(session, Dispute.gateway_reference, wanted, String()))
            .with_for_update()
        ).scalars()
        known.update((gateway_id, reference) for reference in found)
    opening: dict[tuple[str, str], int] = {}  # a new dispute -> its first report's position
    for position, report in enumerate(reports):
        key = (report.gateway_id, report.gateway_reference)
        if key not in known and key not in opening:
            opening[key] = position
    ids = insert_rows(
        session,
        Dispute.__table__,
        [_opened_values(reports[position], moment) for position in opening.values()],
        return_ids=True,
    )
    opened_ids = dict(zip(opening.values(), ids, strict=True))
    # The audit trail follows the reports' order, as one by one: a dispute's "opened"
    # comes where its first report is, before anything a later report records.
    for position, report in enumerate(reports):
        dispute_id = opened_ids.get(position)
        if dispute_id is not None:
            _audit_opened(session, dispute_id, report, actor=actor, now=moment)
            if report.status == DisputeStatus.OPEN:
                continue  # fully applied by the insert above
        record_dispute(session, report, actor=actor, now=moment)


def _check_report(report: DisputeReport) -> None:
    # A gateway's figures are input: checked before any lookup or write (a FieldError
    # makes the webhook pipeline retry, then flag the event; nothing is stored).
    v.amount_minor("amount_minor", report.amount_minor)
    v.currency(
        "currency", report.currency.upper() if isinstance(report.currency, str) else report.currency
    )


def _opened_values(report: DisputeReport, moment: datetime) -> dict[str, Any]:
    """The columns of a dispute first seen in ``report`` (open, whatever the report says)."""
    return {
        "gateway_id": report.gateway_id,
        "gateway_reference": report.gateway_reference,
        "payment_reference": report.payment_reference,
        "amount_minor": report.amount_minor,
        "currency": report.currency.upper(),
        "reason": report.reason[:100],
        "status": DisputeStatus.OPEN,
        "gateway_status": report.gateway_status[:50],
        "opened_at": moment,
        "closed_at": None,
        "created_at": moment,
        "updated_at": moment,
    }


def _audit_opened(
    session: Session, dispute_id: int, report: DisputeReport, *, actor: Actor | None,
    now: datetime,
) -> None:
    record_audit(
        session,
        actor=actor,
        action="dispute.opened",
        object_type="dispute",
        object_id=dispute_id,
        amount_minor=report.amount_minor,
        currency=report.currency.upper(),
        data={
            "gateway": report.gateway_id,
            "reference": report.gateway_reference,
            "reason": report.reason[:100],
        },
        now=now,
    )


def _apply_status(
    session: Session, dispute: Dispute, report: DisputeReport, *, actor: Actor | None,
    now: datetime,
) -> Dispute:
    """Close an open dispute as the report says (a chargeback when lost); else nothing."""
    if report.status == DisputeStatus.OPEN or dispute.status != DisputeStatus.OPEN:
        return dispute
    dispute.status = report.status
    dispute.gateway_status = report.gateway_status[:50]
    dispute.closed_at = now
    dispute.updated_at = now
    session.flush()
    record_audit(
        session,
        actor=actor,
        action=f"dispute.{report.status}",
        object_type="dispute",
        object_id=dispute.id,
        amount_minor=dispute.amount_minor,
        currency=dispute.currency,
        data={
            "gateway": report.gateway_id,
            "reference": report.gateway_reference,
            "gateway_status": dispute.gateway_status,
        },
        now=now,
    )
    if dispute.status == DisputeStatus.LOST:
        charge_back(session, dispute, actor=actor, now=now)
    return dispute


def charge_back(
    session: Session, dispute: Dispute, *, actor: Actor | None = None, now: datetime
) -> int:
    """Take a lost dispute's amount back from the payment it disputed; returns the amount.

    The invoices the payment paid become owed again (newest first, a negative allocation
    each, their payment status refreshed); what the payment had left as customer credit
    comes off the credit; the money leaves the gateway clearing account. Once per
    dispute (the journal entry's idempotency key), and never more than what is left of
    the payment after refunds. A dispute whose payment we never recorded moves nothing.

    No case is opened here: once an invoice taken back is past its due date, the next
    collection run chases it, in a fresh round when its earlier case had closed paid
    (:func:`praho.core.services.collections.overdue_not_chased`).
    """
    payment = payment_by_gateway_reference(
        session, dispute.gateway_id, dispute.payment_reference, lock=True
    )
    if payment is None or payment.currency != dispute.currency:
        return 0
    amount = min(dispute.amount_minor, payment.amount_minor - payment.refunded_minor)
    if amount <= 0:
        return 0
    lock_customer(session, payment.customer_id)
    common = {"customer_id": payment.customer_id}
    postings: list[ledger.Posting] = []
    remaining = amount
    paid = session.execute(
        select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount_minor))
        .where(PaymentAllocation.payment_id == payment.id)
        .group_by(PaymentAllocation.invoice_id)
        .having(func.sum(PaymentAllocation.amount_minor) > 0)
        .order_by(PaymentAllocation.invoice_id.desc())
    ).all()
    reopened = []
    for invoice_id, allocated in paid:
        part = min(remaining, int(allocated))
        if part <= 0:
            break
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        lock_invoice(session, invoice)
        session.add(
            PaymentAllocation(
                payment=payment,  # the relationship: a loaded payment sees the new row
                invoice_id=invoice.id,
                amount_minor=-part,
                source=CHARGEBACK,
                created_at=now,
            )
        )
        session.flush()
        refresh_payment_status(session, invoice, now=now)
        postings.append(
            ledger.debit(
                AccountCode.RECEIVABLE, part, payment.currency, invoice_id=invoice.id, **common
            )
        )
        reopened.append(str(invoice.full_number))
        remaining -= part
    if remaining > 0:  # the rest of the payment had become customer credit
        postings.append(
            ledger.debit(AccountCode.CUSTOMER_CREDIT, remaining, payment.currency, **common)
        )
    postings.append(
        ledger.credit(
            clearing_account(session, dispute.gateway_id), amount, payment.currency, **common
        )
    )
    ledger.post_entry(
        session,
        kind="chargeback",
        memo=f"dispute {dispute.gateway_reference} lost: payment {payment.id}",
        postings=postings,
        idempotency_key=f"chargeback:{dispute.id}",
        source_type="dispute",
        source_id=dispute.id,
        now=now,
    )
    payment.refunded_minor += amount
    payment.status = (
        PaymentRecordStatus.REFUNDED
        if payment.refunded_minor >= payment.amount_minor
        else PaymentRecordStatus.PARTIALLY_REFUNDED
    )
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="payment.charged_back",
        object_type="payment",
        object_id=payment.id,
        amount_minor=amount,
        currency=payment.currency,
        now=now,
        data={
            "dispute": dispute.gateway_reference,
            "invoices": reopened,
            "from_credit_minor": max(remaining, 0),
        },
    )
    return amount
