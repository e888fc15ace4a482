"""Fetching the feed from the local stand-in, keeping the last good rates when it fails,
and choosing the rate an invoice uses (art. 290(2): last banking day before the tax point)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from praho.core.errors import ExchangeRateUnavailable
from praho.core.plugins import get_registry
from praho.plugins.bnr_rates.models import ExchangeRate, RateFetch
from praho.plugins.bnr_rates.service import fetch_rates, find_rate, import_feed_body, quote_rate
from praho.plugins.bnr_rates.settings import BnrSettings, RateDayRule, current_settings
from sqlalchemy import func, select

NOW = datetime(2026, 8, 5, 11, 30, tzinfo=UTC)


def _rates(session):
    return {(r.rate_date, r.currency): r.rate for r in session.scalars(select(ExchangeRate))}


def test_fetch_stores_rates_normalised(praho_session, bnr):
    fetch = fetch_rates(praho_session, settings=current_settings(), now=NOW)
    assert (fetch.ok, fetch.rates_seen, fetch.rates_added) == (True, 37, 37)
    assert (fetch.publishing_date, fetch.last_rate_date) == (date(2026, 8, 5), date(2026, 8, 5))
    stored = _rates(praho_session)
    assert stored[(date(2026, 8, 5), "EUR")] == Decimal("5.2489")
    assert stored[(date(2026, 8, 5), "HUF")] == Decimal("0.014483")
    huf = praho_session.scalars(select(ExchangeRate).where(ExchangeRate.currency == "HUF")).one()
    assert (huf.published_value, huf.multiplier, huf.source) == (Decimal("1.4483"), 100, "BNR")
    again = fetch_rates(praho_session, settings=current_settings(), now=NOW)
    assert (again.ok, again.rates_added) == (True, 0), "fetching twice is idempotent"
    assert bnr.hits == 2


@pytest.mark.parametrize(
    "fixture,status,headers,reason,message",
    [
        (
            "failures/504_gateway_timeout.html",
            504,
            {},
            "fetch_failed",
            "HTTP 504 (an HTML page titled '504 Gateway",
        ),
        (
            "failures/object_moved.html",
            302,
            {"Location": "/error.htm"},
            "fetch_failed",
            "HTTP 302 (an HTML page titled 'Object moved', redirect to /error.htm)",
        ),
        ("failures/object_moved.html", 200, {}, "not_feed", "HTML page titled 'Object moved'"),
        ("failures/empty.xml", 200, {}, "empty", "the response body is empty"),
    ],
)
def test_failure_bodies_keep_the_last_good_rates(
    praho_session, bnr, fixture_bytes, fixture, status, headers, reason, message
):
    assert fetch_rates(praho_session, settings=current_settings(), now=NOW).ok
    before = _rates(praho_session)
    bnr.serve(fixture_bytes(fixture), status=status, content_type="text/html", headers=headers)
    failed = fetch_rates(praho_session, settings=current_settings(), now=NOW)
    assert (failed.ok, failed.error_code, failed.rates_added) == (False, reason, 0)
    assert message in failed.error and "stored rates are kept" in failed.error
    assert _rates(praho_session) == before
    quote = quote_rate(praho_session, "EUR", date(2026, 8, 6), current_settings())
    assert quote.rate == Decimal("5.2489")


def test_timeout_and_oversize_are_logged_failures(praho_session, bnr):
    bnr.delay = 1.5
    slow = fetch_rates(
        praho_session, settings=BnrSettings(feed_url=bnr.url, timeout_seconds=0.5), now=NOW
    )
    assert (slow.ok, slow.error_code) == (
        False,
        "fetch_failed",
    ) and "no answer within 0.5 s" in slow.error
    bnr.delay = 0
    big = fetch_rates(
        praho_session, settings=BnrSettings(feed_url=bnr.url, max_body_bytes=1024), now=NOW
    )
    assert (big.ok, big.error_code) == (False, "too_large")
    assert praho_session.scalar(select(func.count(ExchangeRate.id))) == 0
    assert praho_session.scalar(select(func.count(RateFetch.id))) == 2


def test_a_feed_disagreeing_with_stored_rates_never_overwrites(praho_session, fixture_bytes):
    settings = current_settings()
    import_feed_body(praho_session, fixture_bytes("bnr_sample.xml"), source="a", settings=settings)
    tampered = fixture_bytes("bnr_sample.xml").replace(b'"EUR">5.2489', b'"EUR">9.9999')
    fetch = import_feed_body(praho_session, tampered, source="b", settings=settings)
    assert fetch.ok and fetch.error_code == "conflicting_rates" and "EUR" in fetch.error
    assert _rates(praho_session)[(date(2026, 8, 5), "EUR")] == Decimal("5.2489")


def _ten_days(session):
    cubes = "".join(
        f'<Cube date="2026-08-{d:02d}"><Rate currency="EUR">5.{d:04d}</Rate>'
        f'<Rate currency="HUF" multiplier="100">1.{d:04d}</Rate></Cube>'
        for d in (3, 4, 5, 6, 7, 10, 11)
    )
    body = (
        f'<DataSet xmlns="https://www.bnr.ro/xsd"><Header><PublishingDate>2026-08-11</PublishingDate>'
        f"</Header><Body><OrigCurrency>RON</OrigCurrency>{cubes}</Body></DataSet>"
    ).encode()
    assert import_feed_body(session, body, source="ten-day", settings=current_settings()).ok


@pytest.mark.parametrize(
    "tax_point,rule,expected",
    [
        (date(2026, 8, 6), RateDayRule.BEFORE, date(2026, 8, 5)),
        (date(2026, 8, 6), RateDayRule.ON_OR_BEFORE, date(2026, 8, 6)),
        (date(2026, 8, 8), RateDayRule.BEFORE, date(2026, 8, 7)),  # Saturday
        (date(2026, 8, 10), RateDayRule.BEFORE, date(2026, 8, 7)),  # Monday: Friday's rate
        (date(2026, 8, 10), RateDayRule.ON_OR_BEFORE, date(2026, 8, 10)),
        (date(2026, 8, 3), RateDayRule.BEFORE, None),  # nothing earlier stored
    ],
)
def test_rate_of_the_last_banking_day(praho_session, tax_point, rule, expected):
    _ten_days(praho_session)
    rate = find_rate(praho_session, "eur", tax_point, rule)
    assert (rate.rate_date if rate else None) == expected


def test_quote_refuses_a_stale_rate(praho_session):
    _ten_days(praho_session)
    settings = BnrSettings(max_rate_age_days=7)
    assert quote_rate(praho_session, "HUF", date(2026, 8, 12), settings).rate == Decimal("0.010011")
    # Monday 17th is a banking day whose rates were never stored: Tuesday's invoice is
    # refused instead of getting the 11th's rate (art. 290(2): the last rate BNR published).
    with pytest.raises(ExchangeRateUnavailable, match="BNR rates of 2026-08-17 are missing"):
        quote_rate(praho_session, "HUF", date(2026, 8, 18), settings)
    assert quote_rate(praho_session, "CHF", date(2026, 8, 12), settings) is None


def test_hook_resolve_exchange_rate(praho_session, fixture_bytes):
    import_feed_body(
        praho_session, fixture_bytes("bnr_sample.xml"), source="x", settings=current_settings()
    )
    quote = get_registry().hook.resolve_exchange_rate(
        session=praho_session, currency="EUR", on_date=date(2026, 8, 6)
    )
    assert (quote.currency, quote.rate, quote.rate_date, quote.source) == (
        "EUR",
        Decimal("5.2489"),
        date(2026, 8, 5),
        "BNR",
    )
    assert (
        get_registry().hook.resolve_exchange_rate(
            session=praho_session, currency="EUR", on_date=date(2026, 8, 5)
        )
        is None
    )
