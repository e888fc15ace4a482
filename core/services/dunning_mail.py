"""Dunning e-mails: render the policy's template set in the customer's language and queue it.

Templates are ``email/<template_set>_<step>.<language>.txt`` (steps in
:data:`praho.core.services.dunning_policies.EMAIL_STEPS`), Romanian and English. The
message key is the case and the step, so a step e-mails the customer once however
often a run is repeated; the outbox delivers it over SMTP after the commit.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from praho.core.models.collections import DunningCase, DunningPolicy
from praho.core.models.customers import Customer
from praho.core.models.invoices import Invoice
from praho.core.models.mail import EmailMessage
from praho.core.money import format_amount
from praho.core.services.mail import queue_email
from sqlalchemy.orm import Session


def _day(value: date | None, language: str) -> str | None:
    if value is None:
        return None
    return value.strftime("%d.%m.%Y") if language == "ro" else value.isoformat()


def dunning_context(
    customer: Customer, invoice: Invoice, case: DunningCase, *, language: str, today: date,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What every dunning template can use."""
    overdue = (today - invoice.due_date).days if invoice.due_date else 0
    context: dict[str, Any] = {
        "customer_name": customer.legal_name,
        "invoice_number": invoice.full_number,
        "amount_due": format_amount(invoice.balance_due_minor, invoice.currency, language),
        "currency": invoice.currency,
        "due_date": _day(invoice.due_date, language),
        "days_overdue": max(overdue, 0),
        "retries_made": case.retries_made,
        "last_error": case.last_error,
    }
    for name, value in (extra or {}).items():
        context[name] = _day(value, language) if isinstance(value, date) else value
    return context


def send_dunning_email(
    session: Session,
    policy: DunningPolicy,
    case: DunningCase,
    invoice: Invoice,
    step: str,
    *,
    step_key: str,
    now: datetime,
    today: date,
    extra: dict[str, Any] | None = None,
) -> EmailMessage:
    """Queue the ``step`` e-mail of ``policy``'s template set for the case's customer."""
    customer = session.get(Customer, case.customer_id)
    assert customer is not None
    language = customer.language if customer.language in ("ro", "en") else "ro"
    return queue_email(
        session,
        to=customer.email,
        template=f"{policy.template_set}_{step}",
        language=language,
        context=dunning_context(customer, invoice, case, language=language, today=today,
                                extra=extra),
        key=f"dunning:{case.id}:{step_key}",
        related=("invoice", invoice.id),
        now=now,
    )
