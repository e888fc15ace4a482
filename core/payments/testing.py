"""Helpers for testing payments, for the core's tests and gateway plugin authors.

``PaymentHooks`` records the payment events; ``row_counts`` proves bad input wrote
nothing; ``assert_ledger_balanced`` checks the trial balance; ``customer_with_card``
gives a customer a default method on the fake gateway (plugin ``fake_gateway``).
"""

from __future__ import annotations

from typing import Any

from praho.core.hookspecs import hookimpl
from praho.core.models import (
    AuditEvent,
    IdempotencyRecord,
    JournalEntry,
    Payment,
    PaymentAllocation,
    PaymentAttempt,
    PaymentMethod,
)
from praho.core.services import ledger
from praho.core.services.payments import add_payment_method
from sqlalchemy import func, select
from sqlalchemy.orm import Session

COUNTED = (Payment, PaymentAllocation, PaymentAttempt, PaymentMethod, IdempotencyRecord,
           JournalEntry, AuditEvent)


class PaymentHooks:
    """A plugin recording the payment events the core fires, as (hook, detail) pairs."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    def invoice_paid(self, invoice: Any) -> None:
        """Record the paid invoice's id."""
        self.calls.append(("invoice_paid", invoice.id))

    @hookimpl
    def payment_succeeded(self, payment: Any) -> None:
        """Record the payment's amount."""
        self.calls.append(("payment_succeeded", payment.amount_minor))

    @hookimpl
    def payment_failed(self, attempt: Any) -> None:
        """Record the failed attempt's error code."""
        self.calls.append(("payment_failed", attempt.error_code))

    def names(self) -> list[str]:
        """The hooks fired, in order."""
        return [name for name, _ in self.calls]


def row_counts(session: Session) -> dict[str, int]:
    """How many rows each money table holds (to prove bad input wrote nothing)."""
    session.flush()
    return {model.__name__: session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in COUNTED}


def assert_ledger_balanced(session: Session) -> None:
    """Every currency's trial balance sums to zero."""
    session.flush()
    assert ledger.unbalanced_currencies(ledger.trial_balance(session).items()) == {}


def customer_with_card(factory: Any, token: str = "tok_success",  # noqa: S107 - a magic test token
                       **overrides: Any) -> Any:
    """A customer whose default method is a fake-gateway card of the given behaviour."""
    customer = factory.customer(**overrides)
    add_payment_method(factory.session, customer=customer, gateway_id="fake",
                       setup_reference=token)
    return customer
