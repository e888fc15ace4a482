"""Fuzzing the billing run's inputs: what pricing and usage plugins hand the core.

A plugin answers ``resolve_subscription_price``, ``collect_renewal_charges`` and
``collect_renewal_allowances`` with whatever a buggy or hostile plugin could return
(negative, huge, fractional, wrong-typed amounts and quantities, odd names, kinds, tax
classes and periods). Whatever it returns, for that subscription the run either issues
a document that is right (every line within bounds, totals that add up, a balanced
ledger, the document within the per-document bound) or records a failure with a reason
and writes nothing for it; and the other subscription of the chunk is billed either way.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from praho.core.hookspecs import hookimpl
from praho.core.models import Invoice, SubscriptionPeriod
from praho.core.pricing import DraftAllowance, DraftLine, ResolvedPrice
from praho.core.services import ledger
from praho.core.services.billing import bill_subscriptions
from praho.core.services.totals import compute_totals
from praho.core.testing import StaticTestPlugin, at, fuzz_settings, fuzz_tried
from sqlalchemy import select

RENEWAL = at("2026-02-28", 3)
PERIOD = date(2026, 2, 28)
BOUND = 100_000_000  # PRAHO_MAX_DOCUMENT_AMOUNT_MINOR's default

amounts = st.one_of(
    st.integers(-(10**12), 10**12),
    st.sampled_from([0, 1, -1, BOUND, BOUND + 1, 2**63, -(2**63)]),
    st.booleans(),
    st.none(),
    st.text(max_size=6),
)
decimals = st.one_of(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=8, min_value=-(10**9), max_value=10**12
    ),
    st.sampled_from(
        [Decimal("NaN"), Decimal("Infinity"), Decimal("-0"), Decimal("1E+30"), Decimal("0.0000001")]
    ),
    st.integers(-5, 10**7),
    st.text(max_size=6),
    st.none(),
)
texts = st.one_of(
    st.text(max_size=120), st.sampled_from(["", " ", "\x00", "\u202eevil", "x" * 500])
)
days = st.one_of(st.none(), st.dates(date(1900, 1, 1), date(2100, 1, 1)), st.text(max_size=5))

hostile_lines = st.builds(
    DraftLine,
    item_name=texts,
    quantity=decimals,
    unit_price=decimals,
    kind=st.one_of(st.sampled_from(["charge", "usage", "adjustment", "proration"]), texts),
    description=st.one_of(st.none(), texts),
    unit_code=st.one_of(st.sampled_from(["C62", "GB", "HUR", "MON"]), st.text(max_size=5)),
    period_start=days,
    period_end=days,
    net_amount_minor=st.one_of(st.none(), amounts),
    line_allowance_minor=st.one_of(st.just(0), amounts),
    tax_class=st.one_of(
        st.none(), st.sampled_from(["standard", "reduced", "zero", "exempt"]), st.text(max_size=8)
    ),
)
# Plausible answers at the edges (what a correct plugin may return): the issued path.
plausible_lines = st.builds(
    DraftLine,
    item_name=st.sampled_from(["Trafic suplimentar", "Spațiu de stocare", "IP adițional"]),
    quantity=st.decimals(min_value=0, max_value=10**6, places=6),
    unit_price=st.decimals(min_value=0, max_value=10**5, places=4),
    kind=st.sampled_from(["charge", "usage", "adjustment"]),
    period_start=st.just(date(2026, 1, 31)),
    period_end=st.just(date(2026, 2, 27)),
    net_amount_minor=st.one_of(st.none(), st.integers(-(10**6), BOUND)),
    tax_class=st.one_of(st.none(), st.sampled_from(["standard", "reduced", "zero", "exempt"])),
)
lines = st.one_of(plausible_lines, plausible_lines, hostile_lines)
hostile_allowances = st.builds(
    DraftAllowance,
    amount_minor=amounts,
    reason=texts,
    source=st.one_of(st.just("promotions"), texts),
    percent=st.one_of(st.none(), decimals),
    is_charge=st.one_of(st.booleans(), amounts),
)
plausible_allowances = st.builds(
    DraftAllowance,
    amount_minor=st.integers(0, BOUND),
    reason=st.just("Promo"),
    source=st.just("promotions"),
    percent=st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=2)),
    is_charge=st.booleans(),
)
allowances = st.one_of(plausible_allowances, hostile_allowances)
prices = st.one_of(
    st.none(),
    st.builds(
        ResolvedPrice,
        unit_amount_minor=st.integers(0, BOUND),
        currency=st.just("RON"),
        source=st.just("grandfathering"),
        reason=st.just("price kept"),
    ),
    st.builds(
        ResolvedPrice,
        unit_amount_minor=amounts,
        currency=st.one_of(st.just("RON"), st.sampled_from(["EUR", "ron", "XXX", ""])),
        source=st.just("grandfathering"),
        reason=texts,
    ),
)


class HostilePlugin:
    """Answers the pricing hooks for one subscription with whatever the fuzzer chose."""

    def __init__(self):
        self.target = None
        self.price = None
        self.lines = []
        self.allowances = []

    @hookimpl
    def resolve_subscription_price(self, subscription, item, period_start):
        return self.price if subscription.id == self.target else None

    @hookimpl
    def collect_renewal_charges(self, subscription):
        return list(self.lines) if subscription.id == self.target else []

    @hookimpl
    def collect_renewal_allowances(self, subscription):
        return list(self.allowances) if subscription.id == self.target else []


@pytest.fixture
def hostile():
    return HostilePlugin()


@pytest.fixture
def praho_plugins(hostile):
    return [("static_test", StaticTestPlugin()), ("hostile", hostile)]


def _document(session, subscription_id):
    return session.execute(
        select(Invoice).where(
            Invoice.subscription_id == subscription_id, Invoice.period_start == PERIOD
        )
    ).scalar_one_or_none()


def _claimed(session, subscription_id):
    return (
        session.execute(
            select(SubscriptionPeriod.id).where(
                SubscriptionPeriod.subscription_id == subscription_id,
                SubscriptionPeriod.period_start == PERIOD,
            )
        ).first()
        is not None
    )


@pytest.mark.slow
@fuzz_settings(factor=2)
@given(price=prices, extra=st.lists(lines, max_size=3), discounts=st.lists(allowances, max_size=2))
def test_billing_run_bills_right_or_fails_cleanly_whatever_plugins_return(
    praho_session, praho_factory, hostile, price, extra, discounts
):
    fuzz_tried("billing run: plugin prices, lines and allowances")
    savepoint = praho_session.begin_nested()
    try:
        target = praho_factory.subscription(start="2026-01-31")
        control = praho_factory.subscription(start="2026-01-31")
        hostile.target, hostile.price = target.id, price
        hostile.lines, hostile.allowances = extra, discounts
        report = bill_subscriptions(praho_session, [target.id, control.id], now=RENEWAL)
        hostile.target = None
        outcomes = {o.subscription_id: o for o in report.outcomes}
        # The other subscription of the chunk is billed whatever happened to this one.
        assert outcomes[control.id].outcome == "issued" and _document(praho_session, control.id)
        outcome = outcomes[target.id]
        fuzz_tried(f"billing run outcome: {outcome.outcome}")
        document = _document(praho_session, target.id)
        if outcome.outcome == "failed":
            assert outcome.reason and outcome.error_code
            assert document is None and not _claimed(praho_session, target.id)
        else:
            assert outcome.outcome == "issued" and document is not None
            assert document.status == "issued" and document.full_number
            assert 0 <= document.total_minor <= BOUND
            assert all(abs(line.net_amount_minor) <= BOUND for line in document.lines)
            totals = compute_totals(document.lines, document.allowances)
            assert (totals.taxable_minor, totals.vat_minor, totals.total_minor) == (
                document.taxable_minor,
                document.vat_minor,
                document.total_minor,
            )
            assert all(line.item_name and "\x00" not in line.item_name for line in document.lines)
            assert ledger.unbalanced_currencies(ledger.trial_balance(praho_session).items()) == {}
    finally:
        hostile.target = None
        savepoint.rollback()
        praho_session.expunge_all()
