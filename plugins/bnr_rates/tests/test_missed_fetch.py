"""A banking day whose fetch failed is not a holiday: the invoice is refused, not given an
older rate (Fiscal Code art. 290(2): the last rate BNR published before the tax point).

Weekends and legal holidays come from the Romanian calendar (praho.core.business_days);
the feeds come from the local BNR stand-in and the project's official samples.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from praho.core.errors import ExchangeRateUnavailable
from praho.core.plugins import get_registry
from praho.plugins.bnr_rates.service import fetch_rates, import_feed_body, quote_rate
from praho.plugins.bnr_rates.settings import BnrSettings, RateDayRule, current_settings

FRIDAY, MONDAY, TUESDAY = date(2026, 7, 31), date(2026, 8, 3), date(2026, 8, 4)


def _quote(session, currency: str, on_date: date):
    return get_registry().hook.resolve_exchange_rate(
        session=session, currency=currency, on_date=on_date
    )


def _feed(days: dict[date, str]) -> bytes:
    """A 10-day style feed with one EUR Cube per day given (days absent: no Cube)."""
    cubes = "".join(
        f'<Cube date="{day.isoformat()}"><Rate currency="EUR">{eur}</Rate></Cube>'
        for day, eur in sorted(days.items())
    )
    last = max(days).isoformat()
    return (
        f'<DataSet xmlns="https://www.bnr.ro/xsd"><Header><PublishingDate>{last}'
        f"</PublishingDate></Header><Body><OrigCurrency>RON</OrigCurrency>{cubes}</Body>"
        "</DataSet>"
    ).encode()


def test_failed_monday_fetch_refuses_tuesday_invoice(praho_session, bnr, fixture_bytes):
    settings = current_settings()
    friday = import_feed_body(
        praho_session,
        fixture_bytes("bnr_sample_old_namespace.xml"),
        source="fri",
        settings=settings,
    )
    assert friday.ok and friday.last_rate_date == FRIDAY
    friday_eur = quote_rate(praho_session, "EUR", MONDAY, settings)
    assert friday_eur.rate_date == FRIDAY, "Monday's invoice uses Friday's rate (weekend)"

    bnr.serve(
        fixture_bytes("failures/504_gateway_timeout.html"), status=504, content_type="text/html"
    )
    monday = fetch_rates(
        praho_session, settings=settings, now=datetime(2026, 8, 3, 11, 5, tzinfo=UTC)
    )
    assert not monday.ok

    with pytest.raises(ExchangeRateUnavailable) as refused:
        _quote(praho_session, "EUR", TUESDAY)
    message = refused.value.message
    assert "BNR rates of 2026-08-03 are missing" in message
    assert "praho rates fetch" in message and "nbrfxrates10days.xml" in message

    # Monday's rates arrive (here from a feed naming that day): Tuesday gets Monday's rate.
    monday_feed = fixture_bytes("bnr_sample.xml").replace(b"2026-08-05", b"2026-08-03")
    bnr.serve(monday_feed)
    assert fetch_rates(praho_session, settings=settings).ok
    quote = _quote(praho_session, "EUR", TUESDAY)
    assert (quote.rate_date, quote.rate) == (MONDAY, Decimal("5.2489"))


def test_weekend_and_legal_holiday_are_not_gaps(praho_session):
    # Friday 29 May 2026; Monday 1 June is Rusalii (a) doua zi and Ziua Copilului.
    body = _feed({date(2026, 5, 28): "5.1000", date(2026, 5, 29): "5.1100"})
    assert import_feed_body(praho_session, body, source="ten-day", settings=current_settings()).ok
    quote = _quote(praho_session, "EUR", date(2026, 6, 2))
    assert (quote.rate_date, quote.rate) == (date(2026, 5, 29), Decimal("5.11"))


def test_a_day_bnr_did_not_publish_is_skipped_only_with_proof(praho_session):
    # Wednesday 5 August has no Cube although the calendar calls it a banking day. Without
    # a feed spanning it we cannot tell a closure from a failed fetch: refuse.
    only_tuesday = _feed({date(2026, 8, 4): "5.2000"})
    assert import_feed_body(praho_session, only_tuesday, source="a", settings=current_settings()).ok
    with pytest.raises(ExchangeRateUnavailable, match="BNR rates of 2026-08-05 are missing"):
        _quote(praho_session, "EUR", date(2026, 8, 6))
    # A stored feed that lists the 4th and the 6th but not the 5th proves BNR skipped it.
    ten_day = _feed({date(2026, 8, 4): "5.2000", date(2026, 8, 6): "5.2200"})
    assert import_feed_body(praho_session, ten_day, source="b", settings=current_settings()).ok
    assert _quote(praho_session, "EUR", date(2026, 8, 6)).rate_date == date(2026, 8, 4)


def test_on_or_before_rule_needs_the_tax_point_own_rate(praho_session):
    body = _feed({date(2026, 8, 4): "5.2000"})
    assert import_feed_body(praho_session, body, source="a", settings=current_settings()).ok
    rule = BnrSettings(rate_day_rule=RateDayRule.ON_OR_BEFORE)
    assert quote_rate(praho_session, "EUR", date(2026, 8, 4), rule).rate_date == date(2026, 8, 4)
    with pytest.raises(ExchangeRateUnavailable, match="2026-08-05 are missing: .* on or before"):
        quote_rate(praho_session, "EUR", date(2026, 8, 5), rule)


def test_a_currency_bnr_stopped_publishing_is_refused(praho_session, fixture_bytes):
    settings = current_settings()
    with_bgn = fixture_bytes("bnr_sample_2025_with_BGN.xml")  # 2025-12-31, BGN still listed
    assert import_feed_body(praho_session, with_bgn, source="2025", settings=settings).ok
    january = _feed({date(2026, 1, 5): "5.0900"})  # 1, 2 January: holidays; then a weekend
    assert import_feed_body(praho_session, january, source="2026", settings=settings).ok
    assert _quote(praho_session, "EUR", date(2026, 1, 5)).rate_date == date(2025, 12, 31)
    with pytest.raises(ExchangeRateUnavailable, match="BNR published no BGN rate on 2026-01-05"):
        _quote(praho_session, "BGN", date(2026, 1, 6))


def test_cli_show_names_the_missing_day(praho_app, praho_committing, bnr, fixture_bytes):
    runner = praho_app.test_cli_runner()
    bnr.serve(fixture_bytes("bnr_sample_old_namespace.xml"))
    assert runner.invoke(args=["rates", "fetch"]).exit_code == 0
    shown = runner.invoke(args=["rates", "show", "--date", "2026-08-04", "--currency", "EUR"])
    assert shown.exit_code == 1
    assert "BNR rates of 2026-08-03 are missing" in shown.output
