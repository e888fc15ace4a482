"""Pausing with credit and resuming: the service given is billed once, and billing goes on.

A pause with ``credit_unused`` gives back the rest of the period on a credit note. The
regression: a resume the same day started a new period on that day; on the period's
first day (or on the day of an earlier same-day resume) that day already had a billing
claim, the document was refused as ``already_billed``, the resume still reported success
and the subscription stayed due on the claimed day, refused by every later run.

The sums below are exact: each proration line is ``100.00 x seconds / seconds of the
period`` rounded to the minor unit, and VAT (21%) is rounded per document.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from praho.core.errors import InvalidTransition
from praho.core.models import DocumentKind, Invoice, SubscriptionPeriod
from praho.core.models.subscriptions import PendingProration, SubscriptionStatus
from praho.core.services.billing_run import run_billing
from praho.core.services.subscription_start import BillingFailed, bill_now_or_fail
from praho.core.services.subscriptions import pause_subscription, resume_subscription
from praho.core.testing import at
from sqlalchemy import select

HOUR = 3600
FEBRUARY = 28 * 24 * HOUR  # 1 Feb - 1 Mar 2026 in Bucharest: no daylight-saving change
MONTHLY = Decimal("100.00")
# The nightly runs after the resume, 1 March twice: a repeated run finds nothing due.
LATER_RUNS = ("2026-02-02", "2026-03-01", "2026-03-01", "2026-04-01")


def _prorated_minor(seconds: int) -> int:
    """A proration line of the 100.00 plan for ``seconds`` of February, in bani.

    As the proration code writes it: the unit price prorated to 6 decimals, then the line.
    """
    unit = (MONTHLY * seconds / FEBRUARY).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    return int((unit * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def _gross(net_minor: int) -> int:
    return net_minor + int(
        (Decimal(net_minor) * Decimal("0.21")).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    )


def _documents(session, subscription):
    return list(
        session.execute(
            select(Invoice).where(Invoice.subscription_id == subscription.id).order_by(Invoice.id)
        ).scalars()
    )


def _billed_minus_credited(documents, field):
    """Invoices minus credit notes, on ``taxable_minor`` or ``total_minor``."""
    return sum(
        -getattr(d, field) if d.kind == DocumentKind.CREDIT_NOTE else getattr(d, field)
        for d in documents
    )


def _claims(session, subscription):
    return [
        row.period_start
        for row in session.execute(
            select(SubscriptionPeriod)
            .where(SubscriptionPeriod.subscription_id == subscription.id)
            .order_by(SubscriptionPeriod.period_start)
        ).scalars()
    ]


def _run_later_months(session):
    return [run_billing(session, now=at(day, 2)).summary["counts"] for day in LATER_RUNS]


@pytest.fixture
def billed_february(praho_factory, praho_session):
    """A 100.00 RON monthly subscription from 1 January; February billed at 02:00 on 1 Feb."""
    price = praho_factory.price(unit_amount_minor=10000)
    subscription = praho_factory.subscription(price, start="2026-01-01")
    assert run_billing(praho_session, now=at("2026-02-01", 2)).summary["counts"] == {"issued": 1}
    return subscription


def test_resume_on_the_first_day_of_the_period_bills_the_rest_of_it(praho_session, billed_february):
    subscription = billed_february
    pause_subscription(praho_session, subscription, credit_unused=True, now=at("2026-02-01", 10))
    resume_subscription(praho_session, subscription, now=at("2026-02-01", 15))

    # February continues; its rest is invoiced now, by the second from the resume.
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert (subscription.current_period_start, subscription.next_billing_date) == (
        date(2026, 2, 1),
        date(2026, 3, 1),
    )
    _january, february, credit, charge = _documents(praho_session, subscription)
    assert credit.kind == DocumentKind.CREDIT_NOTE and credit.original_invoice_id == february.id
    assert credit.taxable_minor == _prorated_minor(662 * HOUR)  # 10:00 to 1 March
    assert charge.kind == DocumentKind.INVOICE
    [line] = charge.lines
    assert line.net_amount_minor == _prorated_minor(657 * HOUR)  # 15:00 to 1 March
    assert (line.period_start, line.period_end) == (date(2026, 2, 1), date(2026, 2, 28))

    # Billing goes on: each later month once, a repeated run finds nothing due.
    assert _run_later_months(praho_session) == [{}, {"issued": 1}, {}, {"issued": 1}]
    assert _claims(praho_session, subscription) == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
        date(2026, 4, 1),
    ]
    assert subscription.next_billing_date == date(2026, 5, 1)


def test_february_costs_the_hours_of_service_given(praho_session, billed_february):
    subscription = billed_february
    pause_subscription(praho_session, subscription, credit_unused=True, now=at("2026-02-01", 10))
    resume_subscription(praho_session, subscription, now=at("2026-02-01", 15))
    february = _documents(praho_session, subscription)[1:]

    # Served 00:00-10:00 and 15:00 to 1 March: 667 of February's 672 hours.
    net = 10000 - _prorated_minor(662 * HOUR) + _prorated_minor(657 * HOUR)
    assert _billed_minus_credited(february, "taxable_minor") == net == 9926
    assert abs(net - 10000 * 667 / 672) <= 1  # one rounding per prorated line
    assert (
        _billed_minus_credited(february, "total_minor")
        == (12100 - _gross(_prorated_minor(662 * HOUR)) + _gross(_prorated_minor(657 * HOUR)))
        == 12010
    )


def test_pausing_and_resuming_twice_the_same_day_bills_each_hour_once(
    praho_session, billed_february
):
    subscription = billed_february
    # Mid-period: with a new period started at each resume, the second resume collided
    # with the claim the first one had written for 10 February.
    for pause_hour, resume_hour in ((10, 12), (16, 20)):
        pause_subscription(
            praho_session, subscription, credit_unused=True, now=at("2026-02-10", pause_hour)
        )
        resume_subscription(praho_session, subscription, now=at("2026-02-10", resume_hour))
        assert subscription.status == SubscriptionStatus.ACTIVE
        assert subscription.next_billing_date == date(2026, 3, 1)

    february = _documents(praho_session, subscription)[1:]
    assert [d.kind for d in february] == [
        DocumentKind.INVOICE,
        DocumentKind.CREDIT_NOTE,
        DocumentKind.INVOICE,
        DocumentKind.CREDIT_NOTE,
        DocumentKind.INVOICE,
    ]
    # The second credit corrects the first resume's charge, not the February invoice.
    assert february[3].original_invoice_id == february[2].id
    # Hours left to 1 March: 446 at 10:00, 444 at 12:00, 440 at 16:00, 436 at 20:00.
    credits = [_prorated_minor(446 * HOUR), _prorated_minor(440 * HOUR)]
    charges = [_prorated_minor(444 * HOUR), _prorated_minor(436 * HOUR)]
    assert [d.taxable_minor for d in february[1:]] == [
        credits[0],
        charges[0],
        credits[1],
        charges[1],
    ]
    net = 10000 - sum(credits) + sum(charges)
    assert _billed_minus_credited(february, "taxable_minor") == net
    # Served all but 10:00-12:00 and 16:00-20:00: 666 of 672 hours.
    assert abs(net - 10000 * 666 / 672) <= 4
    assert _billed_minus_credited(february, "total_minor") == 12100 + sum(
        _gross(c) for c in charges
    ) - sum(_gross(c) for c in credits)

    assert _run_later_months(praho_session) == [{}, {"issued": 1}, {}, {"issued": 1}]
    assert _claims(praho_session, subscription) == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
        date(2026, 4, 1),
    ]


def test_a_same_day_resume_without_billing_leaves_the_rest_for_the_next_renewal(
    praho_session, billed_february
):
    subscription = billed_february
    pause_subscription(praho_session, subscription, credit_unused=True, now=at("2026-02-01", 10))
    resume_subscription(praho_session, subscription, bill_now=False, now=at("2026-02-01", 15))
    [waiting] = praho_session.execute(select(PendingProration)).scalars().all()
    assert waiting.net_amount_minor == _prorated_minor(657 * HOUR) and waiting.invoice_id is None

    assert run_billing(praho_session, now=at("2026-03-01", 2)).summary["counts"] == {"issued": 1}
    march = _documents(praho_session, subscription)[-1]
    assert waiting.invoice_id == march.id
    assert march.taxable_minor == 10000 + _prorated_minor(657 * HOUR)


def test_a_resume_after_the_pause_day_still_starts_a_new_period(praho_session, billed_february):
    subscription = billed_february
    pause_subscription(praho_session, subscription, credit_unused=True, now=at("2026-02-10", 10))
    resume_subscription(praho_session, subscription, now=at("2026-02-12", 15))
    renewal = _documents(praho_session, subscription)[-1]
    assert (renewal.period_start, renewal.period_end) == (date(2026, 2, 12), date(2026, 2, 28))
    assert subscription.next_billing_date == date(2026, 3, 1)
    assert run_billing(praho_session, now=at("2026-03-01", 2)).summary["counts"] == {"issued": 1}


def test_a_new_period_is_never_started_on_a_billed_day(praho_session, billed_february):
    subscription = billed_february
    pause_subscription(praho_session, subscription, credit_unused=True, now=at("2026-02-10", 10))
    before = len(_documents(praho_session, subscription))
    # A resume replayed for 1 February (before the pause) would restart on a claimed day.
    for bill_now in (True, False):
        with pytest.raises(InvalidTransition, match="2026-02-01, a period starting that day"):
            resume_subscription(
                praho_session, subscription, bill_now=bill_now, now=at("2026-02-01", 15)
            )
        assert subscription.status == SubscriptionStatus.PAUSED
        assert subscription.next_billing_date == date(2026, 3, 1)
    assert len(_documents(praho_session, subscription)) == before


def test_bill_now_or_fail_refuses_a_subscription_due_on_a_claimed_day(
    praho_session, billed_february
):
    subscription = billed_february
    # The state the old resume left behind: due on 1 February, whose claim exists.
    subscription.next_billing_date = date(2026, 2, 1)
    praho_session.flush()
    with pytest.raises(BillingFailed, match="from 2026-02-01 already has a billed claim"):
        bill_now_or_fail(praho_session, subscription, now=at("2026-02-01", 15))
