"""Collecting the invoices a billing chunk issued: one short transaction per invoice.

Called by :func:`praho.core.billing_runner.after_chunk_committed` once the chunk's
documents are committed, so a declined card can never roll back an issued invoice.
Invoices of customers with a default method are charged (customer credit first);
invoices of customers without one are paid from their credit when they have some.
Every charge is attempt 1 of its invoice, so running this twice charges nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from praho.core.db import Database
from praho.core.errors import PrahoError
from praho.core.models.invoices import DocumentKind, Invoice
from praho.core.models.ledger import AccountCode, JournalLine
from praho.core.models.payments import AttemptStatus, MethodStatus, PaymentMethod
from praho.core.services.audit import Actor
from praho.core.services.billing_issue import IssuedDocument
from praho.core.services.payments import apply_customer_credit, charge_invoice
from sqlalchemy import func, select

log = logging.getLogger("praho.payments")


@dataclass
class CollectionSummary:
    """What collecting a chunk's invoices did."""

    charged: int = 0
    declined: int = 0
    unknown: int = 0
    from_credit: int = 0
    failed: int = 0


def collect_issued_documents(database: Database, documents: Iterable[IssuedDocument], *,
                             now: datetime, actor: Actor | None = None) -> CollectionSummary:
    """Charge or pay from credit each issued invoice (not proformas, not zero totals)."""
    summary = CollectionSummary()
    ids = [d.invoice_id for d in documents if d.kind == DocumentKind.INVOICE and d.total_minor > 0]
    if not ids:
        return summary
    with database.transaction() as session:
        rows = session.execute(select(Invoice.id, Invoice.customer_id, Invoice.currency)
                               .where(Invoice.id.in_(ids))).all()
        customers = {customer_id for _id, customer_id, _currency in rows}
        with_method = set(session.execute(select(PaymentMethod.customer_id).where(
            PaymentMethod.customer_id.in_(customers), PaymentMethod.is_default.is_(True),
            PaymentMethod.status == MethodStatus.ACTIVE)).scalars())
        with_credit = {(c, cur) for c, cur, balance in session.execute(
            select(JournalLine.customer_id, JournalLine.currency, func.sum(JournalLine.amount_minor))
            .where(JournalLine.account_code == str(AccountCode.CUSTOMER_CREDIT),
                   JournalLine.customer_id.in_(customers))
            .group_by(JournalLine.customer_id, JournalLine.currency)) if balance < 0}
    for invoice_id, customer_id, currency in rows:
        if customer_id in with_method:
            _charge(database, invoice_id, now=now, actor=actor, summary=summary)
        elif (customer_id, currency) in with_credit:
            _pay_from_credit(database, invoice_id, now=now, actor=actor, summary=summary)
    return summary


def _charge(database: Database, invoice_id: int, *, now: datetime, actor: Actor | None,
            summary: CollectionSummary) -> None:
    try:
        with database.transaction() as session:
            invoice = session.get(Invoice, invoice_id)
            assert invoice is not None
            attempt = charge_invoice(session, invoice, now=now, reason="renewal", actor=actor)
            status = attempt.status
    except PrahoError as exc:
        log.warning("collecting invoice %s: %s", invoice_id, exc)
        summary.failed += 1
        return
    except Exception:  # a gateway plugin's bug must not stop the run; the attempt stays
        log.exception("collecting invoice %s failed", invoice_id)  # unknown and is settled
        summary.failed += 1
        return
    if status == AttemptStatus.PROCESSED:
        summary.charged += 1
    elif status in (AttemptStatus.ERROR, AttemptStatus.CANCELED):
        summary.declined += 1
    else:
        summary.unknown += 1


def _pay_from_credit(database: Database, invoice_id: int, *, now: datetime, actor: Actor | None,
                     summary: CollectionSummary) -> None:
    try:
        with database.transaction() as session:
            invoice = session.get(Invoice, invoice_id)
            assert invoice is not None
            if apply_customer_credit(session, invoice, now=now, actor=actor):
                summary.from_credit += 1
    except PrahoError as exc:
        log.warning("paying invoice %s from credit: %s", invoice_id, exc)
        summary.failed += 1
