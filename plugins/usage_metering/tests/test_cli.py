"""``praho usage ...`` end to end on committed data."""

from __future__ import annotations

import json
from datetime import timedelta

from praho.core.clock import business_date, utcnow
from praho.core.testing import PrahoFactory
from praho.plugins.usage_metering.models import Meter, MeterCharge, UsageAlert, UsageEvent
from sqlalchemy import func, select


def test_define_ingest_rate_preview_and_keys(praho_app, praho_committing, tmp_path):
    now = utcnow()
    today = business_date(now)
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        price = factory.price(code="HOST-M")
        customer = factory.customer()
        subscription = factory.subscription(price, customer, start=today - timedelta(days=2))
        sub_id, customer_code = subscription.id, customer.code
    runner = praho_app.test_cli_runner()
    definition = tmp_path / "meters.json"
    definition.write_text(
        json.dumps(
            {
                "meters": [
                    {
                        "code": "bandwidth_gb",
                        "name": "Trafic",
                        "unit": "GB",
                        "aggregation": "sum",
                        "property": "gb",
                        "category": "bandwidth",
                    }
                ],
                "charges": [
                    {
                        "meter": "bandwidth_gb",
                        "price": "HOST-M",
                        "model": "package",
                        "package_size": "100",
                        "package_price": "5.00",
                    }
                ],
            }
        )
    )
    defined = runner.invoke(args=["usage", "define", str(definition)])
    assert defined.exit_code == 0, defined.output
    assert "charge bandwidth_gb on HOST-M: package" in defined.output
    listed = runner.invoke(args=["usage", "meters"])
    assert "bandwidth_gb" in listed.output and "sum" in listed.output

    lines = [
        json.dumps(
            {
                "id": f"b{i}",
                "meter": "bandwidth_gb",
                "subscription": sub_id,
                "timestamp": (now - timedelta(minutes=i)).isoformat(),
                "properties": {"gb": "60"},
            }
        )
        for i in range(3)
    ]
    lines.append(
        json.dumps(
            {
                "id": "bad",
                "meter": "bandwidth_gb",
                "subscription": sub_id,
                "timestamp": now.isoformat(),
                "properties": {"gb": "lots"},
            }
        )
    )
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")
    ingested = runner.invoke(args=["usage", "ingest", str(events)])
    assert ingested.exit_code == 1
    assert "4 events: 3 stored, 0 duplicates, 1 rejected" in ingested.output
    again = runner.invoke(args=["usage", "ingest", str(events)])
    assert "0 stored, 3 duplicates, 1 rejected" in again.output

    rated = runner.invoke(
        args=[
            "usage",
            "rate",
            "--from",
            str(today - timedelta(days=2)),
            "--to",
            str(today + timedelta(days=1)),
            "--json",
        ]
    )
    assert rated.exit_code == 0, rated.output
    # 180 GB in blocks of 100 at 5.00: two blocks.
    assert json.loads(rated.output) == [
        {
            "subscription_id": sub_id,
            "meter": "bandwidth_gb",
            "raw_quantity": "180.000000",
            "quantity": "180.000000",
            "amount_minor": 1000,
            "currency": "RON",
        }
    ]
    preview = runner.invoke(args=["usage", "preview", str(sub_id)])
    assert preview.exit_code == 0, preview.output
    assert "= 10.00 RON" in preview.output

    key = runner.invoke(args=["usage", "api-key", "--name", "panel", "--customer", customer_code])
    assert key.exit_code == 0 and "pk_usage_" in key.output
    alert = runner.invoke(args=["usage", "alert", str(sub_id), "bandwidth_gb", "--quantity", "500"])
    assert alert.exit_code == 0, alert.output
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count()).select_from(UsageEvent)).scalar() == 3
        assert session.execute(select(func.count()).select_from(UsageAlert)).scalar() == 1


def test_bad_definition_file_changes_nothing(praho_app, praho_committing, tmp_path):
    definition = tmp_path / "meters.json"
    definition.write_text(
        json.dumps(
            {
                "meters": [
                    {"code": "ok_meter", "name": "OK", "unit": "h", "aggregation": "count"},
                    {"code": "bad", "name": "Bad", "unit": "h", "aggregation": "median"},
                ],
            }
        )
    )
    result = praho_app.test_cli_runner().invoke(args=["usage", "define", str(definition)])
    assert result.exit_code == 1
    assert "meters[1]" in result.output and "aggregation" in result.output
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count()).select_from(Meter)).scalar() == 0
        assert session.execute(select(func.count()).select_from(MeterCharge)).scalar() == 0
