"""The last document of an ending subscription: what is still owed when the service stops.

A subscription billed in advance owes nothing more for its time when it ends, but two
things can still be waiting: proration lines kept for the next document ("add to next
invoice") and charges billed in arrears, such as metered usage, whose last window has
not been invoiced. :func:`issue_final_invoice` puts both on one document when the
subscription is cancelled now, terminated, or when a cancellation at period end takes
effect in the billing run. Plugins add their lines through ``collect_final_charges``
and learn the issued document through ``subscription_final_invoiced`` (to record what
it billed). Nothing owed issues no document. A waiting credit keeps the VAT of the
line it reduces (``renewal.pending_line``); the charges take this document's. The
waiting proration lines are never a net credit: a change whose proration is a credit
is settled at once with a credit note (``subscription_changes.apply_changes``), only
net charges wait.
"""

from __future__ import annotations

from datetime import date, datetime

from praho.core.models.invoices import Invoice
from praho.core.models.subscriptions import PendingProration, Subscription
from praho.core.pricing import DraftLine
from praho.core.services.audit import Actor
from praho.core.services.invoicing import add_line
from praho.core.services.issuing import issue_document
from praho.core.services.renewal import pending_line, subscription_draft
from praho.core.services.subscription_state import has_implementations, hooks
from sqlalchemy import select
from sqlalchemy.orm import Session


def issue_final_invoice(
    session: Session,
    subscription: Subscription,
    *,
    end_date: date,
    now: datetime,
    actor: Actor | None = None,
) -> Invoice | None:
    """Invoice what the subscription still owes up to ``end_date`` (exclusive); or None.

    Runs inside the caller's transaction, before the subscription changes status.
    """
    waiting = list(
        session.execute(
            select(PendingProration)
            .where(
                PendingProration.subscription_id == subscription.id,
                PendingProration.invoice_id.is_(None),
            )
            .order_by(PendingProration.id)
        ).scalars()
    )
    savepoint = session.begin_nested()
    draft = _final_draft(session, subscription, end_date, now)
    charges: list[DraftLine] = []
    if has_implementations("collect_final_charges"):
        for found in hooks().collect_final_charges(
            session=session, subscription=subscription, end_date=end_date, invoice=draft, now=now
        ):
            charges.extend(found or [])
    if not _owed(session, draft, [pending_line(session, row) for row in waiting] + charges, now):
        savepoint.rollback()  # nothing owed: no document
        return None
    savepoint.commit()
    invoice = issue_document(session, draft, actor=actor, now=now)
    for row in waiting:
        row.invoice_id = invoice.id
    session.flush()
    hooks().subscription_final_invoiced(
        session=session, subscription=subscription, invoice=invoice, end_date=end_date
    )
    return invoice


def _final_draft(
    session: Session, subscription: Subscription, end_date: date, now: datetime
) -> Invoice:
    return subscription_draft(
        session,
        subscription,
        now=now,
        attributes={"final": {"subscription_id": subscription.id, "end_date": str(end_date)}},
    )


def _owed(session: Session, draft: Invoice, lines: list[DraftLine], now: datetime) -> bool:
    """Add the lines to the draft; True when they come to more than nothing."""
    for line in lines:
        add_line(session, draft, line, now=now)
    return bool(lines) and sum(line.net_amount_minor for line in draft.lines) > 0
