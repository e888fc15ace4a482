"""Proration by the second: upgrades, downgrades, quantities, add-ons, and how they settle.

The reference change is on 14 February 2026 at 12:00 in Bucharest, inside the period
31 January to 28 February (28 days = 2,419,200 s), with 13.5 days = 1,166,400 s left:
the fraction is 0.482142857..., so a 50.00 month is worth 24.107143 and 100.00 is
worth 48.214286 for the rest of the period.
"""

from datetime import date
from decimal import Decimal

import pytest
from praho.core.errors import FieldError, InvalidTransition, ValidationFailed
from praho.core.models import (
    AccountCode,
    DocumentKind,
    Invoice,
    InvoiceMode,
    PendingProration,
    SubscriptionEvent,
    SubscriptionItem,
)
from praho.core.services import ledger
from praho.core.services.billing_run import run_billing
from praho.core.services.subscription_changes import (
    add_addon,
    change_plan,
    change_quantity,
    remove_addon,
)
from praho.core.services.subscriptions import cancel_subscription
from praho.core.testing import at
from sqlalchemy import func, select

CHANGE = at("2026-02-14", 12)
LEFT, TOTAL = 1_166_400, 2_419_200


@pytest.fixture
def prices(praho_factory):
    basic = praho_factory.price(
        praho_factory.product(code="WEB-BASIC", name="Web Basic"), unit_amount_minor=5000
    )
    pro = praho_factory.price(
        praho_factory.product(code="WEB-PRO", name="Web Pro"), unit_amount_minor=10000
    )
    backup = praho_factory.price(
        praho_factory.product(code="BACKUP", name="Backup zilnic", kind="addon"),
        unit_amount_minor=1000,
    )
    return {"basic": basic, "pro": pro, "backup": backup}


def _invoices(session):
    return session.execute(select(Invoice).order_by(Invoice.id)).scalars().all()


def test_upgrade_invoices_now_credit_and_charge_by_the_second(praho_factory, praho_session, prices):
    subscription = praho_factory.subscription(prices["basic"], start="2026-01-31")
    result = change_plan(praho_session, subscription, prices["pro"], now=CHANGE)
    plan = result.plan
    assert (plan.credit_minor, plan.charge_minor, plan.net_minor) == (2411, 4821, 2410)
    [document] = result.documents
    assert document.kind == DocumentKind.INVOICE and document.subscription_id == subscription.id
    credit, charge = document.lines
    assert (credit.kind, credit.net_amount_minor, credit.unit_price) == (
        "proration",
        -2411,
        Decimal("24.107143"),
    )
    assert (charge.kind, charge.net_amount_minor, charge.unit_price) == (
        "proration",
        4821,
        Decimal("48.214286"),
    )
    for line, name, price_text in (
        (credit, "Timp neutilizat Web Basic", "50.00 RON"),
        (charge, "Timp rămas Web Pro", "100.00 RON"),
    ):
        assert line.item_name == name
        assert (line.period_start, line.period_end) == (date(2026, 2, 14), date(2026, 2, 27))
        assert price_text in line.description and f"{LEFT} secunde din {TOTAL}" in line.description
        assert (line.details["seconds"], line.details["period_seconds"]) == (LEFT, TOTAL)
    assert (document.taxable_minor, document.vat_minor, document.total_minor) == (2410, 506, 2916)
    plan_item = subscription.active_items[0]
    assert plan_item.price_id == prices["pro"].id and plan_item.billed_unit_amount_minor == 10000
    # The next period is billed at the new price.
    run_billing(praho_session, now=at("2026-02-28"))
    assert _invoices(praho_session)[-1].lines[0].net_amount_minor == 10000


def test_downgrade_credit_note_corrects_the_period_invoice(praho_factory, praho_session, prices):
    subscription = praho_factory.subscription(prices["pro"], start="2026-01-31")
    original = _invoices(praho_session)[0]
    result = change_plan(praho_session, subscription, prices["basic"], now=CHANGE)
    [credit_note] = result.documents
    assert (
        credit_note.kind == DocumentKind.CREDIT_NOTE
        and credit_note.original_invoice_id == original.id
    )
    assert [(ln.item_name, ln.net_amount_minor) for ln in credit_note.lines] == [
        ("Timp neutilizat Web Pro", 4821),
        ("Timp rămas Web Basic", -2411),
    ]
    assert credit_note.lines[0].tax_rate == original.lines[0].tax_rate
    assert (credit_note.taxable_minor, credit_note.vat_minor, credit_note.total_minor) == (
        2410,
        506,
        2916,
    )
    assert original.credited_minor == 2916
    # The invoice was unpaid: the credit reduces what is owed, nothing goes to the balance.
    customer_id = original.customer_id
    assert ledger.customer_receivable(praho_session, customer_id, "RON") == 12100 - 2916
    assert ledger.customer_credit_balance(praho_session, customer_id, "RON") == 0


def _paid_by_transfer(session, invoice):
    """The invoice paid in full by a bank transfer, recorded by the payment layer."""
    from praho.core.models import Customer
    from praho.core.services.payments import record_bank_transfer

    record_bank_transfer(session, customer=session.get(Customer, invoice.customer_id),
                         amount_minor=invoice.total_minor, currency=invoice.currency,
                         bank_reference=f"OP-{invoice.id}", received_on="2026-02-01",
                         allocations=[(invoice, invoice.total_minor)], now=at("2026-02-01", 10))
    assert invoice.payment_status == "paid"


def test_downgrade_of_a_paid_period_goes_to_the_credit_balance(
    praho_factory, praho_session, prices
):
    subscription = praho_factory.subscription(prices["pro"], start="2026-01-31")
    original = _invoices(praho_session)[0]
    _paid_by_transfer(praho_session, original)
    change_plan(praho_session, subscription, prices["basic"], now=CHANGE)
    customer_id = original.customer_id
    assert ledger.customer_credit_balance(praho_session, customer_id, "RON") == 2916
    assert ledger.unbalanced_currencies(ledger.trial_balance(praho_session).items()) == {}
    assert (
        ledger.account_balance(
            praho_session, AccountCode.CUSTOMER_CREDIT, "RON", customer_id=customer_id
        )
        == -2916
    )


def test_next_invoice_carries_the_upgrade_to_the_renewal(praho_factory, praho_session, prices):
    subscription = praho_factory.subscription(prices["basic"], start="2026-01-31")
    result = change_plan(
        praho_session, subscription, prices["pro"], proration="next_invoice", now=CHANGE
    )
    assert result.documents == [] and len(result.pending) == 2
    assert len(_invoices(praho_session)) == 1
    run_billing(praho_session, now=at("2026-02-28"))
    renewal = _invoices(praho_session)[-1]
    assert [(ln.kind, ln.net_amount_minor) for ln in renewal.lines] == [
        ("charge", 10000),
        ("proration", -2411),
        ("proration", 4821),
    ]
    assert (renewal.taxable_minor, renewal.vat_minor, renewal.total_minor) == (12410, 2606, 15016)
    assert {p.invoice_id for p in praho_session.execute(select(PendingProration)).scalars()} == {
        renewal.id
    }
    run_billing(praho_session, now=at("2026-03-31"))
    assert [ln.kind for ln in _invoices(praho_session)[-1].lines] == ["charge"]


def test_no_proration_applies_the_new_price_from_the_next_period(
    praho_factory, praho_session, prices
):
    subscription = praho_factory.subscription(prices["basic"], start="2026-01-31")
    result = change_plan(praho_session, subscription, prices["pro"], proration="none", now=CHANGE)
    assert result.documents == [] and result.pending == [] and result.plan.lines == []
    # The period stays billed at the old price (a later credit would use it).
    assert subscription.active_items[0].billed_unit_amount_minor == 5000
    run_billing(praho_session, now=at("2026-02-28"))
    assert _invoices(praho_session)[-1].lines[0].net_amount_minor == 10000


def test_quantity_changes_prorate_the_same_way(praho_factory, praho_session, prices):
    subscription = praho_factory.subscription(prices["basic"], start="2026-01-31")
    item = subscription.active_items[0]
    up = change_quantity(praho_session, subscription, item, 3, now=CHANGE)
    assert [(ln.quantity, ln.net_amount_minor) for ln in up.documents[0].lines] == [
        (Decimal(1), -2411),
        (Decimal(3), 7232),
    ]
    down = change_quantity(praho_session, subscription, item, 2, now=at("2026-02-21", 12))
    # A week later 6.5 days are left: 3 x 11.607143 credited, 2 x 11.607143 charged.
    assert [(ln.quantity, ln.net_amount_minor) for ln in down.documents[0].lines] == [
        (Decimal(3), 3482),
        (Decimal(2), -2321),
    ]
    assert down.documents[0].kind == DocumentKind.CREDIT_NOTE
    assert down.documents[0].original_invoice_id == up.documents[0].id
    with pytest.raises(ValidationFailed, match="already 2"):
        change_quantity(praho_session, subscription, item, 2, now=CHANGE)


def test_addons_are_charged_and_credited_for_the_rest_of_the_period(
    praho_factory, praho_session, prices
):
    subscription = praho_factory.subscription(prices["basic"], start="2026-01-31")
    added = add_addon(praho_session, subscription, prices["backup"], now=CHANGE)
    assert [(ln.item_name, ln.net_amount_minor) for ln in added.documents[0].lines] == [
        ("Timp rămas Backup zilnic", 482)
    ]
    addon = added.items[0]
    removed = remove_addon(praho_session, subscription, addon, now=at("2026-02-21", 12))
    assert [(ln.item_name, ln.net_amount_minor) for ln in removed.documents[0].lines] == [
        ("Timp neutilizat Backup zilnic", 232)
    ]
    assert addon.removed_at is not None and subscription.active_items == [subscription.items[0]]
    with pytest.raises(InvalidTransition, match="plan item cannot be removed"):
        remove_addon(praho_session, subscription, subscription.items[0], now=CHANGE)
    run_billing(praho_session, now=at("2026-02-28"))
    assert [ln.item_name for ln in _invoices(praho_session)[-1].lines] == ["Web Basic"]


def test_nothing_is_prorated_during_a_trial(praho_factory, praho_session, prices):
    subscription = praho_factory.subscription(prices["basic"], start="2026-02-01", trial_days=30)
    result = change_plan(praho_session, subscription, prices["pro"], now=CHANGE)
    assert result.documents == [] and "not billed" in result.plan.note
    run_billing(praho_session, now=at("2026-03-03"))
    assert _invoices(praho_session)[-1].lines[0].net_amount_minor == 10000


def test_cancel_now_can_credit_the_unused_time(praho_factory, praho_session, prices):
    subscription = praho_factory.subscription(prices["basic"], start="2026-01-31")
    original = _invoices(praho_session)[0]
    _paid_by_transfer(praho_session, original)
    cancel_subscription(
        praho_session, subscription, at_period_end=False, credit_unused=True, now=CHANGE
    )
    credit_note = _invoices(praho_session)[-1]
    assert (
        credit_note.kind == DocumentKind.CREDIT_NOTE and credit_note.total_minor == 2917
    )  # 24.11 + 21%
    assert ledger.customer_credit_balance(praho_session, original.customer_id, "RON") == 2917


def test_an_unpaid_proforma_cannot_be_credited(praho_factory, praho_session, prices):
    customer = praho_factory.customer(invoice_mode=InvoiceMode.PROFORMA)
    subscription = praho_factory.subscription(prices["pro"], customer=customer, start="2026-01-31")
    assert _invoices(praho_session)[0].kind == DocumentKind.PROFORMA
    events = praho_session.execute(select(func.count(SubscriptionEvent.id))).scalar_one()
    with pytest.raises(InvalidTransition, match="proforma .* not paid yet"):
        change_plan(praho_session, subscription, prices["basic"], now=CHANGE)
    praho_session.expire_all()
    item = praho_session.get(SubscriptionItem, subscription.items[0].id)
    assert item.price_id == prices["pro"].id
    assert praho_session.execute(select(func.count(SubscriptionEvent.id))).scalar_one() == events
    assert len(_invoices(praho_session)) == 1
    # An upgrade for a proforma customer is a proforma too.
    upgrade = change_plan(
        praho_session,
        praho_factory.subscription(prices["basic"], customer=customer, start="2026-01-31"),
        prices["pro"],
        now=CHANGE,
    )
    assert upgrade.documents[0].kind == DocumentKind.PROFORMA


def test_plan_change_refuses_other_currencies_cycles_and_no_ops(
    praho_factory, praho_session, prices
):
    subscription = praho_factory.subscription(prices["basic"], start="2026-01-31")
    yearly = praho_factory.price(interval_months=12)
    euro = praho_factory.price(currency="EUR")
    with pytest.raises(ValidationFailed, match="every 12 month"):
        change_plan(praho_session, subscription, yearly, now=CHANGE)
    with pytest.raises(ValidationFailed, match="in EUR"):
        change_plan(praho_session, subscription, euro, now=CHANGE)
    with pytest.raises(ValidationFailed, match="nothing to change"):
        change_plan(praho_session, subscription, prices["basic"], now=CHANGE)
    with pytest.raises(FieldError, match="proration"):
        change_plan(praho_session, subscription, prices["pro"], proration="later", now=CHANGE)
    assert len(_invoices(praho_session)) == 1


def test_ending_a_subscription_invoices_the_waiting_proration_lines(
    praho_factory, praho_session, prices
):
    subscription = praho_factory.subscription(prices["basic"], start="2026-01-31")
    change_plan(praho_session, subscription, prices["pro"], proration="next_invoice", now=CHANGE)
    cancel_subscription(praho_session, subscription, at_period_end=False, now=at("2026-02-20"))
    final = _invoices(praho_session)[-1]
    assert [(ln.kind, ln.net_amount_minor) for ln in final.lines] == [
        ("proration", -2411),
        ("proration", 4821),
    ]
    assert final.subscription_id == subscription.id and final.total_minor == 2916
    pending = praho_session.execute(select(PendingProration)).scalars().all()
    assert {p.invoice_id for p in pending} == {final.id}


def test_pause_with_credit_then_resume_starts_a_fresh_period(praho_factory, praho_session, prices):
    from praho.core.services.subscriptions import pause_subscription, resume_subscription

    subscription = praho_factory.subscription(prices["basic"], start="2026-01-31")
    pause_subscription(praho_session, subscription, credit_unused=True, now=CHANGE)
    credit_note = _invoices(praho_session)[-1]
    assert credit_note.kind == DocumentKind.CREDIT_NOTE and credit_note.taxable_minor == 2411
    resume_subscription(praho_session, subscription, now=at("2026-02-16"))
    renewal = _invoices(praho_session)[-1]
    # The credited time is not given back: a new period starts on the resume day.
    assert (renewal.period_start, renewal.period_end) == (date(2026, 2, 16), date(2026, 2, 27))
    assert subscription.next_billing_date == date(2026, 2, 28)


def test_a_paid_and_converted_proforma_period_is_credited_on_its_invoice(
    praho_factory, praho_session, prices
):
    from praho.core.services.credit_notes import convert_proforma

    customer = praho_factory.customer(invoice_mode=InvoiceMode.PROFORMA)
    subscription = praho_factory.subscription(prices["pro"], customer=customer, start="2026-01-31")
    proforma = _invoices(praho_session)[0]
    invoice = convert_proforma(praho_session, proforma, now=at("2026-02-02"))
    assert invoice.subscription_id == subscription.id
    [credit_note] = change_plan(praho_session, subscription, prices["basic"], now=CHANGE).documents
    assert credit_note.original_invoice_id == invoice.id and credit_note.total_minor == 2916
