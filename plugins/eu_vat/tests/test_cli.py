"""``praho vat check`` and ``praho vat rates show|sync|add`` (real commits)."""

from __future__ import annotations

import json

from praho.core.models import AuditEvent
from praho.plugins.eu_vat.models import VatRule, ViesCheck
from praho.plugins.eu_vat.testing import VALID
from sqlalchemy import func, select


def test_vat_check_valid_and_cached(praho_app, praho_committing, vies, eu_seller_committed):
    vies.set_outcome("DE136695976", VALID)
    runner = praho_app.test_cli_runner()
    result = runner.invoke(args=["vat", "check", "DE 136695976"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("DE136695976: valid (live), VIES request date ")
    assert ", consultation WAPI" in result.output and "TEST TRADER SRL" in result.output
    cached = runner.invoke(args=["vat", "check", "DE136695976", "--json"])
    assert json.loads(cached.output)["source"] == "cache"
    assert vies.calls_for("DE136695976") == 1
    assert vies.requests[0]["requesterVatNumber"] == "14399840", (
        "the default seller is the requester"
    )


def test_vat_check_fault_exits_non_zero_and_marks_nothing_invalid(
    praho_app, praho_committing, vies
):
    result = praho_app.test_cli_runner().invoke(args=["vat", "check", "DE301"])
    assert result.exit_code == 1
    assert "MS_UNAVAILABLE" in result.output and "nothing was marked invalid" in result.output
    with praho_committing.transaction() as session:
        outcomes = session.scalars(select(ViesCheck.outcome)).all()
    assert outcomes == ["fault"]


def test_vat_rates_show_sync_add(praho_app, praho_committing):
    runner = praho_app.test_cli_runner()
    shown = runner.invoke(args=["vat", "rates", "show", "--date", "2025-07-31", "--country", "RO"])
    assert shown.exit_code == 0, shown.output
    assert "RO  standard       19%  2024-01-01 .. 2025-07-31" in shown.output
    synced = runner.invoke(args=["vat", "rates", "sync"])
    assert synced.exit_code == 0 and "0 added, 0 closed" in synced.output
    added = runner.invoke(
        args=[
            "vat",
            "rates",
            "add",
            "BE",
            "reduced_2",
            "7",
            "--from",
            "2027-01-01",
            "--reference",
            "test notice",
        ]
    )
    assert added.exit_code == 0, added.output
    assert "BE reduced_2 7% from 2027-01-01 (test notice)" in added.output
    rows = json.loads(
        runner.invoke(
            args=["vat", "rates", "show", "--date", "2027-01-01", "--country", "be", "--json"]
        ).output
    )
    assert {r["tax_class"]: r["rate"] for r in rows} == {
        "standard": "21",
        "reduced": "12",
        "reduced_2": "7",
    }
    with praho_committing.transaction() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "vat_rate.added" in actions


def test_vat_rates_bad_input_is_refused_and_changes_nothing(praho_app, praho_committing):
    runner = praho_app.test_cli_runner()
    runner.invoke(args=["vat", "rates", "sync"])
    with praho_committing.transaction() as session:
        before = session.scalar(select(func.count(VatRule.id)))
    wrong = runner.invoke(
        args=[
            "vat",
            "rates",
            "add",
            "US",
            "standard",
            "150",
            "--from",
            "2027-01-01",
            "--reference",
            "x",
        ]
    )
    assert wrong.exit_code == 1
    assert (
        "country: 'US' is not an EU member state" in wrong.output
        and "rate: must be at most 100" in wrong.output
    )
    past = runner.invoke(
        args=[
            "vat",
            "rates",
            "add",
            "RO",
            "standard",
            "20",
            "--from",
            "2025-01-01",
            "--reference",
            "x",
        ]
    )
    assert past.exit_code == 1 and "history is not rewritten" in past.output
    bad_date = runner.invoke(args=["vat", "rates", "show", "--date", "31.07.2025"])
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output
    with praho_committing.transaction() as session:
        assert session.scalar(select(func.count(VatRule.id))) == before
