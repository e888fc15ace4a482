"""Celery tasks delivering the e-mail outbox (they only open a transaction and call a service)."""

from __future__ import annotations

from celery import shared_task
from praho.core.services import mail
from praho.core.tasks import task_transaction


@shared_task(name="praho.mail.deliver_messages", acks_late=True, ignore_result=True)
def deliver_messages(ids: list[int]) -> int:
    """Deliver the messages a committed transaction queued."""
    with task_transaction() as session:
        return mail.deliver_by_ids(session, ids)


@shared_task(name="praho.mail.deliver_due", acks_late=True, ignore_result=True)
def deliver_due() -> int:
    """Retry queued messages whose next attempt is due (the safety net)."""
    with task_transaction() as session:
        return mail.deliver_due(session)

