"""A credit for unused time that waits for the next invoice keeps the VAT it reduces.

Romania's standard rate went from 19% to 21% on 1 August 2025. A 100.00 RON monthly
plan started on 15 July 2025 is invoiced at 19% for 15 July - 14 August (31 days,
2,678,400 s). On 25 July at 00:00 in Bucharest 21 days (1,814,400 s) are left, so an
upgrade to the 200.00 plan credits 100.00 x 21/31 = 67.74 and charges 135.48.

With ``next_invoice`` both lines wait for the renewal of 15 August. The credit reduces
the July invoice's supply, so it keeps that line's 19% (Cod fiscal art. 287); the
charge and the new period are supplies invoiced in August, at 21%. The same holds on
the final invoice of a cancellation and in the billing preview of that renewal.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from praho.core.models import DocumentKind, Invoice, InvoiceMode, PendingProration
from praho.core.services.billing_preview import preview_change, preview_next_invoice
from praho.core.services.billing_run import run_billing
from praho.core.services.proforma_payments import pay_proforma
from praho.core.services.subscription_changes import change_plan
from praho.core.services.subscriptions import cancel_subscription
from praho.core.testing import at
from praho.plugins.ro_efactura.formats import CIUS_RO
from praho.plugins.ro_efactura.validation import validate_all
from sqlalchemy import select

CHANGE = at("2025-07-25", 0)
RENEWAL = at("2025-08-15", 3)
CREDIT, CHARGE = -6774, 13548  # 100.00 and 200.00 x 1,814,400 / 2,678,400


def _documents(session, subscription):
    return list(
        session.execute(
            select(Invoice).where(Invoice.subscription_id == subscription.id).order_by(Invoice.id)
        ).scalars()
    )


def _proforma_customer_on_basic(factory):
    """A proforma customer subscribed to a 100.00 plan from 15 July 2025 (VAT 19%), and
    the 200.00 plan it may move to."""
    factory.seller(tax_regime="eu_vat")
    customer = factory.customer(invoice_mode=InvoiceMode.PROFORMA)
    basic = factory.price(unit_amount_minor=10000)
    pro = factory.price(unit_amount_minor=20000)
    subscription = factory.subscription(basic, customer=customer, start="2025-07-15")
    return factory.session, pro, subscription


def _vat(lines):
    return [(ln.kind, ln.net_amount_minor, ln.tax_category, ln.tax_rate) for ln in lines]


@pytest.fixture
def upgraded(praho_factory):
    """July at 19%, upgraded on 25 July with the proration left for the next invoice."""
    praho_factory.seller(tax_regime="eu_vat")
    basic = praho_factory.price(unit_amount_minor=10000)
    pro = praho_factory.price(unit_amount_minor=20000)
    subscription = praho_factory.subscription(basic, start="2025-07-15")
    [july] = _documents(praho_factory.session, subscription)
    assert (july.lines[0].tax_category, july.lines[0].tax_rate) == ("S", Decimal(19))
    result = change_plan(
        praho_factory.session, subscription, pro, proration="next_invoice", now=CHANGE
    )
    assert not result.documents
    assert [row.net_amount_minor for row in result.pending] == [CREDIT, CHARGE]
    return subscription, july


def _assert_waiting_lines_keep_their_vat(lines, july):
    """The credit at the July line's 19%, the charge at August's 21%."""
    credit, charge = [ln for ln in lines if ln.kind == "proration"]
    assert (credit.net_amount_minor, credit.tax_category, credit.tax_rate) == (
        CREDIT,
        "S",
        Decimal(19),
    )
    assert credit.tax_note == july.lines[0].tax_note
    assert credit.details["tax_fixed"] and credit.details["original_line_id"] == july.lines[0].id
    assert (charge.net_amount_minor, charge.tax_category, charge.tax_rate) == (
        CHARGE,
        "S",
        Decimal(21),
    )


def test_the_renewal_credits_a_waiting_upgrade_at_the_rate_of_the_invoice_it_reduces(
    praho_factory, upgraded
):
    subscription, july = upgraded
    session = praho_factory.session
    preview = preview_next_invoice(session, subscription, now=at("2025-08-10")).document
    run_billing(session, now=RENEWAL)
    renewal = _documents(session, subscription)[-1]
    assert renewal.period_start == date(2025, 8, 15)
    assert _vat(renewal.lines) == [
        ("charge", 20000, "S", Decimal(21)),
        ("proration", CREDIT, "S", Decimal(19)),
        ("proration", CHARGE, "S", Decimal(21)),
    ]
    _assert_waiting_lines_keep_their_vat(renewal.lines, july)
    # One VAT group per rate: 19% of -67.74 = -12.87; 21% of 335.48 = 70.45.
    assert sorted((s.tax_rate, s.taxable_minor, s.tax_minor) for s in renewal.tax_subtotals) == [
        (Decimal(19), CREDIT, -1287),
        (Decimal(21), 20000 + CHARGE, 7045),
    ]
    assert (renewal.vat_minor, renewal.total_minor) == (5758, 20000 + CREDIT + CHARGE + 5758)
    # The preview showed exactly that document.
    assert _vat(preview.lines) == _vat(renewal.lines)
    assert preview.vat_breakdown == [
        (s.tax_category, s.tax_rate, s.taxable_minor, s.tax_minor) for s in renewal.tax_subtotals
    ]
    assert (preview.vat_minor, preview.total_minor) == (renewal.vat_minor, renewal.total_minor)
    assert {row.invoice_id for row in session.execute(select(PendingProration)).scalars()} == {
        renewal.id
    }
    # A document mixing the 19% and 21% groups is a valid e-Factura (XSD, EN 16931, CIUS-RO).
    xml = CIUS_RO.render(renewal)
    assert validate_all(xml) == []
    assert CIUS_RO.validate(xml) == []


@pytest.mark.parametrize(
    ("at_period_end", "when"),
    [(True, at("2025-08-04")), (False, at("2025-08-05"))],
    ids=["at_period_end", "now_in_august"],
)
def test_a_final_invoice_credits_waiting_unused_time_at_the_rate_it_reduces(
    praho_factory, upgraded, at_period_end, when
):
    subscription, july = upgraded
    session = praho_factory.session
    cancel_subscription(session, subscription, at_period_end=at_period_end, now=when)
    if at_period_end:
        run_billing(session, now=RENEWAL)
    final = _documents(session, subscription)[-1]
    assert final.attributes["final"]["subscription_id"] == subscription.id
    assert _vat(final.lines) == [
        ("proration", CREDIT, "S", Decimal(19)),
        ("proration", CHARGE, "S", Decimal(21)),
    ]
    _assert_waiting_lines_keep_their_vat(final.lines, july)
    # 19% of -67.74 = -12.87; 21% of 135.48 = 28.45.
    assert sorted((s.tax_rate, s.taxable_minor, s.tax_minor) for s in final.tax_subtotals) == [
        (Decimal(19), CREDIT, -1287),
        (Decimal(21), CHARGE, 2845),
    ]
    assert final.total_minor == CREDIT + CHARGE - 1287 + 2845
    xml = CIUS_RO.render(final)
    assert validate_all(xml) == []


def test_a_downgrade_with_next_invoice_credits_at_once_at_the_rate_of_the_invoice(
    praho_factory,
):
    praho_factory.seller(tax_regime="eu_vat")
    basic = praho_factory.price(unit_amount_minor=10000)
    pro = praho_factory.price(unit_amount_minor=20000)
    subscription = praho_factory.subscription(pro, start="2025-07-15")
    session = praho_factory.session
    [july] = _documents(session, subscription)
    result = change_plan(session, subscription, basic, proration="next_invoice", now=CHANGE)
    # A downgrade never waits: a credit note corrects the July invoice at its 19%.
    [note] = result.documents
    assert not result.pending and note.original_invoice_id == july.id
    assert _vat(note.lines) == [
        ("proration", CHARGE, "S", Decimal(19)),
        ("proration", CREDIT, "S", Decimal(19)),
    ]
    preview = preview_next_invoice(session, subscription, now=at("2025-08-10")).document
    run_billing(session, now=RENEWAL)
    renewal = _documents(session, subscription)[-1]
    assert _vat(renewal.lines) == [("charge", 10000, "S", Decimal(21))]
    assert [(ln.net_amount_minor, ln.tax_rate) for ln in preview.lines] == [(10000, Decimal(21))]


@pytest.mark.parametrize(("paid_on", "rate"), [("2025-07-20", 19), ("2025-08-03", 21)])
def test_a_waiting_credit_of_a_proforma_period_takes_the_vat_of_the_invoice_it_became(
    praho_factory, paid_on, rate
):
    # July's proforma (19% when issued) is invoiced when paid, at that day's rate (art.
    # 282): 19% on 20 July, 21% on 3 August. The credit, waiting since 25 July while the
    # proforma was unpaid, reduces that invoice's supply and takes its rate.
    session, pro, subscription = _proforma_customer_on_basic(praho_factory)
    [proforma] = _documents(session, subscription)
    assert proforma.kind == DocumentKind.PROFORMA and proforma.lines[0].tax_rate == Decimal(19)
    change_plan(session, subscription, pro, proration="next_invoice", now=CHANGE)
    july, _payment = pay_proforma(
        session, proforma, bank_reference="OP 725", received_on=paid_on, now=at("2025-08-03")
    )
    assert july.lines[0].tax_rate == Decimal(rate)
    run_billing(session, now=RENEWAL)
    renewal = _documents(session, subscription)[-1]
    assert renewal.kind == DocumentKind.PROFORMA and renewal.period_start == date(2025, 8, 15)
    assert _vat(renewal.lines) == [
        ("charge", 20000, "S", Decimal(21)),
        ("proration", CREDIT, "S", Decimal(rate)),
        ("proration", CHARGE, "S", Decimal(21)),
    ]
    assert renewal.lines[1].tax_note == july.lines[0].tax_note


def test_previews_of_a_change_take_the_rates_the_change_will_take(praho_factory):
    praho_factory.seller(tax_regime="eu_vat")
    basic = praho_factory.price(unit_amount_minor=10000)
    pro = praho_factory.price(unit_amount_minor=20000)
    session = praho_factory.session
    # A downgrade in August: the credit note corrects July's invoice and is taxed at its
    # tax point, so the credit and the new (negative) charge are both at 19%.
    subscription = praho_factory.subscription(pro, start="2025-07-15")
    preview = preview_change(session, subscription, new_price=basic, now=at("2025-08-05")).document
    [note] = change_plan(session, subscription, basic, now=at("2025-08-05")).documents
    assert [(ln.net_amount_minor, ln.tax_rate) for ln in preview.lines] == [
        (ln.net_amount_minor, ln.tax_rate) for ln in note.lines
    ]
    assert {ln.tax_rate for ln in note.lines} == {Decimal(19)}
    assert (preview.vat_minor, preview.total_minor) == (note.vat_minor, note.total_minor)
    # An upgrade of a period billed on a proforma not paid yet is issued (as a proforma,
    # the credit at the proforma line's 19%); its preview shows it instead of refusing.
    customer = praho_factory.customer(invoice_mode=InvoiceMode.PROFORMA)
    pending = praho_factory.subscription(basic, customer=customer, start="2025-07-15")
    preview = preview_change(session, pending, new_price=pro, now=at("2025-08-05")).document
    [upgrade] = change_plan(session, pending, pro, now=at("2025-08-05")).documents
    assert upgrade.kind == DocumentKind.PROFORMA
    assert [(ln.net_amount_minor, ln.tax_rate) for ln in preview.lines] == [
        (ln.net_amount_minor, ln.tax_rate) for ln in upgrade.lines
    ]
    assert [ln.tax_rate for ln in upgrade.lines] == [Decimal(19), Decimal(21)]
    assert (preview.vat_minor, preview.total_minor) == (upgrade.vat_minor, upgrade.total_minor)


def test_a_paid_renewal_proforma_keeps_its_credit_at_the_rate_it_reduces(praho_factory):
    # The August renewal is a proforma carrying the waiting 19% credit; paid on 20 August,
    # its invoice is re-rated at that day (21%) except the credit, which still reduces
    # July's 19% supply (art. 287).
    session, pro, subscription = _proforma_customer_on_basic(praho_factory)
    [july_proforma] = _documents(session, subscription)
    pay_proforma(session, july_proforma, bank_reference="OP 720", received_on="2025-07-20",
                 now=at("2025-07-20"))
    change_plan(session, subscription, pro, proration="next_invoice", now=CHANGE)
    run_billing(session, now=RENEWAL)
    august_proforma = _documents(session, subscription)[-1]
    assert august_proforma.kind == DocumentKind.PROFORMA
    invoice, _payment = pay_proforma(session, august_proforma, bank_reference="OP 820",
                                     received_on="2025-08-20", now=at("2025-08-20"))
    assert _vat(invoice.lines) == [
        ("charge", 20000, "S", Decimal(21)),
        ("proration", CREDIT, "S", Decimal(19)),
        ("proration", CHARGE, "S", Decimal(21)),
    ]
    xml = CIUS_RO.render(invoice)
    assert validate_all(xml) == []
