"""The Python ingestion API: idempotent, per-event reasons, good events kept."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from praho.plugins.usage_metering import record_usage_events
from praho.plugins.usage_metering.aggregation import period_quantity, window_of
from praho.plugins.usage_metering.models import UsageEvent
from praho.plugins.usage_metering.tests.conftest import DURING
from sqlalchemy import func, select


def stored(session):
    return session.execute(select(func.count()).select_from(UsageEvent)).scalar()


def test_events_are_stored_once_and_replays_are_acknowledged(praho_session, metered):
    batch = [metered.event(f"e{i}", "2.5") for i in range(5)]
    first = record_usage_events(praho_session, batch, now=DURING)
    assert (first.accepted, first.duplicates, first.rejected) == (5, [], [])
    again = record_usage_events(praho_session, batch + [metered.event("e5", "1")], now=DURING)
    assert again.accepted == 1
    assert again.duplicates == [0, 1, 2, 3, 4]
    assert stored(praho_session) == 6


def test_duplicate_inside_one_batch_counts_once(praho_session, metered):
    result = record_usage_events(
        praho_session, [metered.event("x", "1"), metered.event("x", "9")], now=DURING
    )
    assert (result.accepted, result.duplicates) == (1, [1])
    row = praho_session.execute(select(UsageEvent)).scalar_one()
    assert row.quantity_micro == 1_000_000


def test_bad_events_are_rejected_with_reasons_and_good_ones_kept(praho_session, metered):
    good = metered.event("good", "3")
    batch = [
        good,
        metered.event("old", "1", when=DURING - timedelta(days=36)),
        metered.event("future", "1", when=DURING + timedelta(minutes=6)),
        {**metered.event("meter"), "meter": "nope"},
        metered.event("bad value", "1"),
        metered.event("float", 1.5),
        metered.event("neg", "-1"),
        metered.event("decimals", "1.0000001"),
        {**metered.event("naive"), "timestamp": "2026-02-10T10:00:00"},
        {**metered.event("nosub"), "subscription": 999999},
        {k: v for k, v in metered.event("missing").items() if k != "properties"},
        {**metered.event("extra"), "colour": "red"},
        "not an object",
        {**metered.event("mbx", meter="mailboxes"), "customer": "SOMEONE-ELSE"},
    ]
    result = record_usage_events(praho_session, batch, now=DURING)
    assert result.accepted == 1
    reasons = {r.index: r.reason for r in result.rejected}
    assert reasons == {
        1: "too_old",
        2: "in_future",
        3: "unknown_meter",
        4: "invalid_id",
        5: "invalid_value",
        6: "invalid_value",
        7: "invalid_value",
        8: "invalid_timestamp",
        9: "unknown_subscription",
        10: "missing_value",
        11: "invalid",
        12: "invalid",
        13: "customer_mismatch",
    }
    assert all(r.message for r in result.rejected)
    assert praho_session.execute(select(UsageEvent.event_id)).scalars().all() == ["good"]


def test_a_batch_of_only_bad_events_writes_nothing(praho_session, metered):
    before = stored(praho_session)
    result = record_usage_events(praho_session, [metered.event("a", "x"), {"id": "b"}], now=DURING)
    assert result.accepted == 0 and len(result.rejected) == 2
    assert stored(praho_session) == before == 0


def test_customer_code_resolves_the_subscription(praho_session, metered):
    event = {
        "id": "c1",
        "meter": "storage_gb",
        "customer": metered.customer.code,
        "timestamp": int(DURING.timestamp()),
        "properties": {"gb": 4},
    }
    result = record_usage_events(praho_session, [event], now=DURING)
    assert result.accepted == 1
    row = praho_session.execute(select(UsageEvent)).scalar_one()
    assert row.subscription_id == metered.subscription.id
    assert row.customer_id == metered.customer.id


def test_customer_key_cannot_report_for_another_customer(praho_session, metered):
    other = metered.factory.customer()
    result = record_usage_events(
        praho_session, [metered.event("k1", "1")], customer_id=other.id, now=DURING
    )
    assert [r.reason for r in result.rejected] == ["unknown_subscription"]
    assert stored(praho_session) == 0


def test_aggregations_sum_max_last_unique_and_count(praho_session, metered):
    from praho.plugins.usage_metering.meters import MeterInput, define_charge, define_meter

    for code, aggregation, prop in (
        ("hits", "count", None),
        ("peak", "max", "v"),
        ("final", "last", "v"),
        ("users", "unique_count", "user"),
    ):
        meter = define_meter(
            praho_session,
            MeterInput(code=code, name=code, unit="u", aggregation=aggregation, property=prop),
            now=DURING,
        )
        define_charge(
            praho_session,
            meter=meter,
            price=metered.price,
            now=DURING,
            data={"model": "per_unit", "unit_price": "1"},
        )
    sub = metered.subscription.id
    events = []
    for i, (value, user) in enumerate([("3", "ana"), ("7.25", "ion"), ("5", "ana")]):
        when = (DURING + timedelta(hours=i)).isoformat()
        events += [
            {"id": f"h{i}", "meter": "hits", "subscription": sub, "timestamp": when},
            {
                "id": f"p{i}",
                "meter": "peak",
                "subscription": sub,
                "timestamp": when,
                "properties": {"v": value},
            },
            {
                "id": f"f{i}",
                "meter": "final",
                "subscription": sub,
                "timestamp": when,
                "properties": {"v": value},
            },
            {
                "id": f"u{i}",
                "meter": "users",
                "subscription": sub,
                "timestamp": when,
                "properties": {"user": user},
            },
            metered.event(f"s{i}", value),
        ]
    assert (
        record_usage_events(praho_session, events, now=DURING + timedelta(hours=3)).accepted == 15
    )
    from praho.plugins.usage_metering.meters import meter_by_code

    window = window_of(
        metered.subscription.current_period_start, metered.subscription.current_period_end
    )
    quantities = {
        code: period_quantity(praho_session, meter_by_code(praho_session, code), sub, *window)[0]
        for code in ("hits", "peak", "final", "users", "storage_gb")
    }
    assert quantities == {
        "hits": 3,
        "peak": Decimal("7.25"),
        "final": 5,
        "users": 2,
        "storage_gb": Decimal("15.25"),
    }
    # storage rounds up to whole GB.
    assert period_quantity(praho_session, metered.storage, sub, *window)[1] == 16
