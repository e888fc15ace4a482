"""Previews show exactly what billing will do, and write nothing at all."""

from datetime import date

import pytest
from praho.core.db import Base
from praho.core.errors import ValidationFailed
from praho.core.hookspecs import hookimpl
from praho.core.models import Invoice, SubscriptionEvent
from praho.core.pricing import DraftLine
from praho.core.services.billing_preview import preview_change, preview_next_invoice
from praho.core.services.billing_run import run_billing
from praho.core.services.subscription_changes import change_plan
from praho.core.services.subscriptions import cancel_subscription, pause_subscription
from praho.core.testing import StaticTestPlugin, at
from sqlalchemy import func, select

CHANGE = at("2026-02-14", 12)


class ScribblingUsage:
    """A usage plugin that writes while it is asked for lines (previews must undo that)."""

    @hookimpl
    def collect_renewal_charges(self, session, subscription, invoice):
        session.add(
            SubscriptionEvent(
                subscription_id=subscription.id, occurred_at=CHANGE, event="usage_read", data={}
            )
        )
        session.flush()
        from decimal import Decimal

        return [
            DraftLine(
                item_name="Trafic", quantity=Decimal(2), unit_price=Decimal("1.50"), kind="usage"
            )
        ]


@pytest.fixture
def praho_plugins():
    return [("static_test", StaticTestPlugin()), ("usage", ScribblingUsage())]


def _row_counts(session):
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in Base.metadata.sorted_tables
    }


@pytest.fixture
def prices(praho_factory):
    return {
        "basic": praho_factory.price(unit_amount_minor=5000),
        "pro": praho_factory.price(unit_amount_minor=10000),
    }


def test_next_invoice_preview_is_what_the_run_issues_and_writes_nothing(
    praho_factory, praho_session, prices
):
    subscription = praho_factory.subscription(prices["basic"], start="2026-01-31")
    before = _row_counts(praho_session)
    preview = preview_next_invoice(praho_session, subscription, now=CHANGE)
    assert _row_counts(praho_session) == before
    document = preview.document
    assert (document.kind, document.issue_date, document.period_start) == (
        "invoice",
        date(2026, 2, 28),
        date(2026, 2, 28),
    )
    assert [(ln.kind, ln.net_amount_minor) for ln in document.lines] == [
        ("charge", 5000),
        ("usage", 300),
    ]
    run_billing(praho_session, now=at("2026-02-28"))
    issued = praho_session.execute(select(Invoice).order_by(Invoice.id.desc())).scalars().first()
    assert [(ln.item_name, ln.net_amount_minor, ln.tax_rate) for ln in issued.lines] == [
        (ln.item_name, ln.net_amount_minor, ln.tax_rate) for ln in document.lines
    ]
    assert (issued.taxable_minor, issued.vat_minor, issued.total_minor) == (
        document.taxable_minor,
        document.vat_minor,
        document.total_minor,
    )


def test_preview_explains_when_there_is_no_next_document(praho_factory, praho_session, prices):
    trial = praho_factory.subscription(prices["basic"], start="2026-02-01", trial_days=14)
    first = preview_next_invoice(praho_session, trial, now=CHANGE).document
    assert first.period_start == date(2026, 2, 15) and first.issue_date == date(2026, 2, 15)
    ending = praho_factory.subscription(prices["basic"], start="2026-01-31")
    cancel_subscription(praho_session, ending, now=CHANGE)
    assert (
        preview_next_invoice(praho_session, ending, now=CHANGE).reason
        == "cancelled: the service ends on 2026-02-28"
    )
    paused = praho_factory.subscription(prices["basic"], start="2026-01-31")
    pause_subscription(praho_session, paused, now=CHANGE)
    assert "paused" in preview_next_invoice(praho_session, paused, now=CHANGE).reason


def test_change_preview_matches_the_change_and_writes_nothing(praho_factory, praho_session, prices):
    subscription = praho_factory.subscription(prices["basic"], start="2026-01-31")
    before = _row_counts(praho_session)
    upgrade = preview_change(praho_session, subscription, new_price=prices["pro"], now=CHANGE)
    downgrade_sub = praho_factory.subscription(prices["pro"], start="2026-01-31")
    middle = _row_counts(praho_session)
    downgrade = preview_change(praho_session, downgrade_sub, new_price=prices["basic"], now=CHANGE)
    later = preview_change(
        praho_session, subscription, new_price=prices["pro"], proration="next_invoice", now=CHANGE
    )
    assert _row_counts(praho_session) == middle and middle != before
    assert (upgrade.settlement, upgrade.plan.net_minor, upgrade.document.total_minor) == (
        "invoice",
        2410,
        2916,
    )
    assert upgrade.next_period_net_minor == 10000
    assert (downgrade.settlement, downgrade.document.kind, downgrade.document.total_minor) == (
        "credit_note",
        "credit_note",
        2916,
    )
    assert (later.settlement, later.document) == ("pending", None)
    done = change_plan(praho_session, subscription, prices["pro"], now=CHANGE).documents[0]
    assert [(ln.item_name, ln.net_amount_minor) for ln in done.lines] == [
        (ln.item_name, ln.net_amount_minor) for ln in upgrade.document.lines
    ]
    assert done.total_minor == upgrade.document.total_minor


def test_change_preview_refuses_unclear_requests(praho_factory, praho_session, prices):
    subscription = praho_factory.subscription(prices["basic"], start="2026-01-31")
    with pytest.raises(ValidationFailed, match="exactly one"):
        preview_change(praho_session, subscription, now=CHANGE)
    with pytest.raises(ValidationFailed, match="quantity"):
        preview_change(praho_session, subscription, item=subscription.items[0], now=CHANGE)
