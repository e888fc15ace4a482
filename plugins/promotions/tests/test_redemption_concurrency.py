"""Atomic redemption on PostgreSQL: the last use of a coupon, two customers at the same moment."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from praho.core.models import Customer, Subscription
from praho.core.testing import PrahoFactory, at
from praho.plugins.promotions.coupons import CouponSpec, create_coupon
from praho.plugins.promotions.errors import CouponLimitReached
from praho.plugins.promotions.models import Coupon, Redemption
from praho.plugins.promotions.redemption import redeem_coupon
from sqlalchemy import func, select


@pytest.mark.postgres
def test_last_use_redeemed_by_two_customers_at_once_is_used_once(praho_committing, praho_app):
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        create_coupon(
            session,
            CouponSpec(
                code="LAST",
                name="Last one",
                discount_type="percentage",
                percent=Decimal("50"),
                max_redemptions=3,
            ),
            now=at("2026-01-01"),
        )
        session.execute(select(Coupon)).scalar_one().times_redeemed = 2  # one use left
        targets = [factory.subscription(customer=factory.customer()).id for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def redeem(subscription_id: int) -> None:
        with praho_app.app_context(), praho_committing.transaction() as session:
            subscription = session.get(Subscription, subscription_id)
            customer = session.get(Customer, subscription.customer_id)
            barrier.wait()
            try:
                redeem_coupon(
                    session,
                    "LAST",
                    customer=customer,
                    subscription=subscription,
                    now=at("2026-02-01"),
                )
                outcomes.append("redeemed")
            except CouponLimitReached:
                outcomes.append("refused")

    threads = [threading.Thread(target=redeem, args=(sid,)) for sid in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["redeemed", "refused"]
    with praho_committing.transaction() as session:
        assert session.execute(select(Coupon.times_redeemed)).scalar_one() == 3
        assert session.execute(select(func.count(Redemption.id))).scalar_one() == 1
