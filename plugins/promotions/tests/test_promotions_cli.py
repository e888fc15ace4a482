"""``praho promotions``: campaign, coupon, code batch, redeem, show; errors exit non-zero."""

from __future__ import annotations

import json

from praho.core.testing import PrahoFactory
from praho.plugins.promotions.models import CouponCode, Redemption
from sqlalchemy import func, select


def test_promotions_commands(praho_committing, praho_app, tmp_path):
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        subscription_id = factory.subscription(factory.price(code="VPS-M")).id
    runner = praho_app.test_cli_runner()
    assert (
        runner.invoke(
            args=[
                "promotions",
                "campaign",
                "BF26",
                "--name",
                "Black Friday",
                "--starts",
                "2026-01-01",
                "--budget",
                "100000",
                "--currency",
                "RON",
            ]
        ).exit_code
        == 0
    )
    created = runner.invoke(
        args=[
            "promotions",
            "create",
            "BF26-VPS",
            "--name",
            "VPS -25%",
            "--type",
            "percentage",
            "--percent",
            "25",
            "--duration",
            "repeating",
            "--cycles",
            "3",
            "--price",
            "VPS-M",
            "--campaign",
            "BF26",
        ]
    )
    assert created.exit_code == 0, created.output
    out = tmp_path / "codes.txt"
    assert (
        runner.invoke(
            args=[
                "promotions",
                "codes",
                "BF26-VPS",
                "--count",
                "20",
                "--prefix",
                "BF",
                "--output",
                str(out),
            ]
        ).exit_code
        == 0
    )
    codes = out.read_text().split()
    assert len(set(codes)) == 20
    redeemed = runner.invoke(
        args=["promotions", "redeem", codes[0], "--subscription", str(subscription_id)]
    )
    assert redeemed.exit_code == 0, redeemed.output
    reused = runner.invoke(
        args=["promotions", "redeem", codes[0], "--subscription", str(subscription_id)]
    )
    assert reused.exit_code == 0  # the same redemption (same key), not a second one
    wrong = runner.invoke(
        args=["promotions", "redeem", "NO-SUCH", "--subscription", str(subscription_id)]
    )
    assert wrong.exit_code == 1 and "no coupon 'NO-SUCH'" in wrong.output
    shown = json.loads(runner.invoke(args=["promotions", "show", "bf26-vps", "--json"]).output)
    assert (shown["times_redeemed"], shown["codes"], len(shown["redemptions"])) == (1, 21, 1)
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count(Redemption.id))).scalar_one() == 1
        assert session.execute(select(func.sum(CouponCode.uses))).scalar_one() == 1
