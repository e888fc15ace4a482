"""Test helpers for pricing plugins: a day-by-day clock and exact-total checks of renewals."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from praho.core.models import Invoice
from praho.core.services.billing_run import run_billing
from praho.core.testing import at
from praho.plugins.grandfathering.changes import run_batch
from praho.plugins.grandfathering.settings import GrandfatheringSettings
from sqlalchemy import select


class Clock:
    """Time travel: each day the migration batch (06:15 Bucharest), then the billing run (noon)."""

    def __init__(self, session: Any, settings: GrandfatheringSettings | None = None) -> None:
        self.session = session
        self.settings = settings or GrandfatheringSettings()
        self.actions: list[Any] = []

    def run(self, first: str, last: str, *, batch: bool = True) -> None:
        """Every day from ``first`` to ``last``; ``batch=False`` skips the migration batch."""
        day, end = date.fromisoformat(first), date.fromisoformat(last)
        while day <= end:
            if batch:
                self.actions += run_batch(self.session, now=at(day, 6, 15), settings=self.settings)
            run_billing(self.session, now=at(day))
            day += timedelta(days=1)


def renewals(session: Any, subscription: Any) -> list[tuple[date, int, int, int]]:
    """(period start, taxable, VAT, total) of a subscription's documents; totals checked."""
    rows = session.execute(
        select(Invoice).where(Invoice.period_start.is_not(None)).order_by(Invoice.id)
    ).scalars()
    result: list[tuple[date, int, int, int]] = []
    for invoice in rows:
        if invoice.attributes.get("subscription", {}).get("id") != subscription.id:
            continue
        lines = sum(line.net_amount_minor for line in invoice.lines)
        allowances = sum(a.amount_minor for a in invoice.allowances if not a.is_charge)
        assert invoice.taxable_minor == lines - allowances >= 0
        assert invoice.total_minor == invoice.taxable_minor + invoice.vat_minor
        # 21% on the taxable amount, rounded half-up (static test regime, one VAT group).
        assert invoice.vat_minor == (invoice.taxable_minor * 21 + 50) // 100
        result.append(
            (invoice.period_start, invoice.taxable_minor, invoice.vat_minor, invoice.total_minor)
        )
    return result
