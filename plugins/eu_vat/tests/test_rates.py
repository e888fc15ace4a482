"""The shipped rates data file and the dated rules table: seeding, sync, changes, lookups."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from praho.core.errors import TaxDecisionError, ValidationFailed
from praho.plugins.eu_vat.models import VatRule
from praho.plugins.eu_vat.rates import (
    DATA_FILE,
    EU_MEMBER_STATES,
    RateRow,
    VatRateDataError,
    add_vat_rule,
    ensure_vat_rules,
    find_rule,
    read_rate_file,
    rule_for,
    rules_on,
    sync_vat_rules,
)
from sqlalchemy import func, select


def _count(session):
    return session.scalar(select(func.count(VatRule.id)))


def test_data_file_covers_all_27_member_states_without_overlaps():
    rows = read_rate_file()
    assert len(EU_MEMBER_STATES) == 27
    assert {r.country for r in rows} == EU_MEMBER_STATES
    header = DATA_FILE.read_text(encoding="utf-8")[:3000]
    assert "Taxes in Europe Database" in header and "Legea nr. 141/2025" in header
    for day in (date(2024, 1, 1), date(2025, 7, 31), date(2025, 8, 1), date(2026, 11, 25)):
        standard = {
            r.country
            for r in rows
            if r.tax_class == "standard"
            and r.valid_from <= day
            and (r.valid_to is None or day <= r.valid_to)
        }
        assert standard == EU_MEMBER_STATES, f"a country has no standard rate on {day}"


def test_romanian_rows_are_exactly_the_law():
    romania = {
        (r.tax_class, r.rate, r.valid_from, r.valid_to)
        for r in read_rate_file()
        if r.country == "RO"
    }
    assert romania == {
        ("standard", Decimal("19.0000"), date(2024, 1, 1), date(2025, 7, 31)),
        ("standard", Decimal("21.0000"), date(2025, 8, 1), None),
        ("reduced", Decimal("9.0000"), date(2024, 1, 1), date(2025, 7, 31)),
        ("reduced", Decimal("11.0000"), date(2025, 8, 1), None),
        ("reduced_2", Decimal("5.0000"), date(2024, 1, 1), date(2025, 7, 31)),
        ("reduced_2", Decimal("11.0000"), date(2025, 8, 1), None),
    }


def test_rates_have_four_decimals():
    rates = {r.rate for r in read_rate_file()}
    assert (
        Decimal("25.5000") in rates and Decimal("13.5000") in rates and Decimal("9.5000") in rates
    )
    assert all(r == r.quantize(Decimal("0.0001")) for r in rates)


def test_table_is_seeded_once_from_the_file(praho_session):
    praho_session.execute(VatRule.__table__.delete())
    assert ensure_vat_rules(praho_session) == len(read_rate_file())
    assert ensure_vat_rules(praho_session) == 0
    assert _count(praho_session) == len(read_rate_file())


def test_lookup_uses_the_tax_point_never_today(praho_session):
    ensure_vat_rules(praho_session)
    assert find_rule(praho_session, "RO", "standard", date(2025, 7, 31)).rate == Decimal("19")
    assert find_rule(praho_session, "RO", "standard", date(2025, 8, 1)).rate == Decimal("21")
    assert find_rule(praho_session, "RO", "standard", date(2023, 12, 31)) is None
    assert rule_for(praho_session, "DK", "reduced", date(2025, 8, 1)).tax_class == "standard"
    with pytest.raises(TaxDecisionError, match="covers tax points from 2024-01-01"):
        rule_for(praho_session, "RO", "standard", date(2023, 1, 1))
    shown = rules_on(praho_session, date(2025, 8, 1), "ro")
    assert [(r.tax_class, r.rate) for r in shown] == [
        ("standard", Decimal("21")),
        ("reduced", Decimal("11")),
        ("reduced_2", Decimal("11")),
    ]


def test_sync_adds_new_rows_and_closes_open_ones(praho_session):
    ensure_vat_rules(praho_session)
    rows = read_rate_file()
    assert sync_vat_rules(praho_session, rows).unchanged == len(rows)
    # A later edition of the file: Germany's standard rate changes on 2027-01-01.
    edited = [
        RateRow(r.country, r.tax_class, r.rate, r.valid_from, date(2026, 12, 31), r.reference)
        if (r.country, r.tax_class) == ("DE", "standard")
        else r
        for r in rows
    ]
    edited.append(
        RateRow("DE", "standard", Decimal("21.0000"), date(2027, 1, 1), None, "test edition")
    )
    report = sync_vat_rules(praho_session, edited)
    assert ([r.key for r in report.added], [r.key for r in report.closed]) == (
        [("DE", "standard", date(2027, 1, 1))],
        [("DE", "standard", date(2024, 1, 1))],
    )
    assert rule_for(praho_session, "DE", "standard", date(2026, 12, 31)).rate == Decimal("19")
    assert rule_for(praho_session, "DE", "standard", date(2027, 1, 1)).rate == Decimal("21")


def test_sync_refuses_to_rewrite_a_stored_rate(praho_session):
    ensure_vat_rules(praho_session)
    before = _count(praho_session)
    rows = [
        RateRow(r.country, r.tax_class, Decimal("20.0000"), r.valid_from, r.valid_to, r.reference)
        if (r.country, r.tax_class, r.valid_from) == ("RO", "standard", date(2025, 8, 1))
        else r
        for r in read_rate_file()
    ]
    rows.append(
        RateRow("AT", "standard", Decimal("22.0000"), date(2030, 1, 1), None, "never written")
    )
    with pytest.raises(VatRateDataError, match="stored rate 21%, file says 20%"):
        sync_vat_rules(praho_session, rows)
    assert _count(praho_session) == before
    assert rule_for(praho_session, "RO", "standard", date(2025, 8, 1)).rate == Decimal("21")


def test_add_rule_closes_the_previous_period(praho_session):
    rule = add_vat_rule(
        praho_session,
        country="hu",
        tax_class="standard",
        rate="25.5",
        valid_from="2027-07-01",
        reference="test announcement",
    )
    assert (rule.country, rule.rate) == ("HU", Decimal("25.5000"))
    previous = find_rule(praho_session, "HU", "standard", date(2027, 6, 30))
    assert previous.rate == Decimal("27") and previous.valid_to == date(2027, 6, 30)
    assert find_rule(praho_session, "HU", "standard", date(2027, 7, 1)).id == rule.id


def test_add_rule_refuses_rewriting_history(praho_session):
    ensure_vat_rules(praho_session)
    before = _count(praho_session)
    with pytest.raises(VatRateDataError, match="already has a rule from 2025-08-01"):
        add_vat_rule(
            praho_session,
            country="RO",
            tax_class="standard",
            rate="20",
            valid_from="2025-01-01",
            reference="x",
        )
    assert _count(praho_session) == before
    assert find_rule(praho_session, "RO", "standard", date(2025, 1, 1)).valid_to == date(
        2025, 7, 31
    )


def test_add_rule_bad_input_names_every_field_and_changes_nothing(praho_session):
    ensure_vat_rules(praho_session)
    before = _count(praho_session)
    with pytest.raises(ValidationFailed) as caught:
        add_vat_rule(
            praho_session,
            country="US",
            tax_class="luxury",
            rate="101.12345",
            valid_from="2027-13-01",
            reference="",
        )
    fields = {e.field for e in caught.value.errors}
    assert fields == {"country", "tax_class", "rate", "valid_from", "reference"}
    assert _count(praho_session) == before


@pytest.mark.parametrize(
    "body,message",
    [
        ("country,tax_class,rate\nRO,standard,21\n", "first non-comment line"),
        (
            "country,tax_class,rate,valid_from,valid_to,reference\nXX,standard,21,2024-01-01,,r\n",
            "line 2.country",
        ),
        (
            "country,tax_class,rate,valid_from,valid_to,reference\nRO,standard,abc,2024-01-01,,r\n",
            "line 2.rate",
        ),
        (
            "country,tax_class,rate,valid_from,valid_to,reference\nRO,standard,21,2024-01-01,2023-01-01,r\n",
            "before valid_from",
        ),
        (
            "country,tax_class,rate,valid_from,valid_to,reference\nRO,standard,19,2024-01-01,,r\n"
            "RO,standard,21,2025-08-01,,r\n",
            "overlaps",
        ),
        (
            "# comment\ncountry,tax_class,rate,valid_from,valid_to,reference\n"
            "RO,standard,21,2024-01-01,,r\n",
            "no standard rate for",
        ),
    ],
)
def test_malformed_data_file_is_refused_with_its_line(tmp_path, body, message):
    path = tmp_path / "rates.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(VatRateDataError, match=message):
        read_rate_file(path)
