"""Storing BNR rates and choosing the one an invoice uses.

Fiscal Code art. 290(2): a foreign-currency invoice converts the VAT base at the last
exchange rate communicated by BNR that is valid on the date VAT becomes chargeable, in
practice the rate of the last banking day before the tax point (setting
``rate_day_rule``: ``before``, or ``on_or_before`` for companies that invoice after the
13:00 publication).

Which day that is comes from the Romanian calendar (:mod:`praho.core.business_days`:
BNR publishes nothing on weekends and legal holidays), never from "the newest stored
day": a banking day whose fetch failed looks exactly like a holiday in the table, and
walking past it would silently put an older rate on the invoice. When that day's rates
are not stored the quote is refused with the missing day and how to fetch it. A day the
calendar calls a banking day is skipped only with proof that BNR published nothing on
it: a stored feed (the 10-day or yearly file) whose dates span it without a Cube for it.
``max_rate_age_days`` still bounds how far back that may go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from praho.core.business_days import previous_working_day
from praho.core.clock import resolve_now
from praho.core.errors import ExchangeRateUnavailable
from praho.core.tax import ExchangeRateQuote
from praho.plugins.bnr_rates.client import fetch_feed
from praho.plugins.bnr_rates.models import ExchangeRate, RateFetch
from praho.plugins.bnr_rates.parser import BnrFeed, BnrFeedError, parse_bnr_feed
from praho.plugins.bnr_rates.settings import BnrSettings, RateDayRule
from sqlalchemy import func, select
from sqlalchemy.orm import Session

SOURCE = "BNR"
# Where an older day can be fetched from when the daily feed has moved on.
TEN_DAY_FEED_URL = "https://www.bnr.ro/nbrfxrates10days.xml"


@dataclass(frozen=True)
class StoredFeed:
    """What storing one parsed feed did."""

    added: int
    unchanged: int
    changed: list[str]


def store_feed(
    session: Session, feed: BnrFeed, *, fetch: RateFetch | None = None, now: datetime | None = None
) -> StoredFeed:
    """Insert the feed's rates that are not stored yet. A stored rate is never overwritten;
    a feed that disagrees with it is reported (BNR does not revise published rates)."""
    moment = resolve_now(now)
    days = [c.day for c in feed.cubes]
    stored = {
        (r.rate_date, r.currency): r
        for r in session.scalars(
            select(ExchangeRate).where(
                ExchangeRate.source == SOURCE, ExchangeRate.rate_date.in_(days)
            )
        )
    }
    added = unchanged = 0
    changed = []
    for cube in feed.cubes:
        for rate in cube.rates:
            existing = stored.get((cube.day, rate.currency))
            if existing is not None:
                if (
                    existing.published_value == rate.value
                    and existing.multiplier == rate.multiplier
                ):
                    unchanged += 1
                else:
                    changed.append(
                        f"{cube.day} {rate.currency}: stored {existing.published_value}/"
                        f"{existing.multiplier}, feed {rate.value}/{rate.multiplier}"
                    )
                continue
            session.add(
                ExchangeRate(
                    source=SOURCE,
                    rate_date=cube.day,
                    currency=rate.currency,
                    rate=rate.per_unit,
                    published_value=rate.value,
                    multiplier=rate.multiplier,
                    publishing_date=feed.publishing_date,
                    fetched_at=moment,
                    fetch_id=fetch.id if fetch else None,
                )
            )
            added += 1
    session.flush()
    return StoredFeed(added, unchanged, changed)


def import_feed_body(
    session: Session,
    body: bytes,
    *,
    source: str,
    settings: BnrSettings,
    now: datetime | None = None,
) -> RateFetch:
    """Parse and store a feed body (downloaded or read from a file); log the attempt.

    Never raises for a bad feed: the returned :class:`RateFetch` says ``ok`` or carries
    the typed error's code and message, and stored rates stay as they were.
    """
    moment = resolve_now(now)
    fetch = RateFetch(started_at=moment, url=source[:500], ok=False, rates_seen=0, rates_added=0)
    session.add(fetch)
    session.flush()
    try:
        feed = parse_bnr_feed(body, max_bytes=settings.max_body_bytes)
    except BnrFeedError as error:
        return _failed(session, fetch, error)
    result = store_feed(session, feed, fetch=fetch, now=moment)
    fetch.ok = True
    fetch.publishing_date = feed.publishing_date
    fetch.first_rate_date = feed.cubes[0].day
    fetch.last_rate_date = feed.cubes[-1].day
    fetch.rates_seen = feed.rate_count
    fetch.rates_added = result.added
    if result.changed:
        fetch.error_code = "conflicting_rates"
        fetch.error = (
            "feed disagrees with stored rates (kept the stored ones): " + "; ".join(result.changed)
        )[:500]
    session.flush()
    return fetch


def _failed(session: Session, fetch: RateFetch, error: BnrFeedError) -> RateFetch:
    fetch.ok = False
    fetch.error_code = error.reason
    fetch.error = error.message[:500]
    session.flush()
    return fetch


def fetch_rates(
    session: Session, *, settings: BnrSettings, url: str | None = None, now: datetime | None = None
) -> RateFetch:
    """Download the feed and store new rates; a failed download is logged, never raised."""
    moment = resolve_now(now)
    source = url or settings.feed_url
    try:
        body = fetch_feed(
            source, timeout=settings.timeout_seconds, max_bytes=settings.max_body_bytes
        )
    except BnrFeedError as error:
        fetch = RateFetch(
            started_at=moment, url=source[:500], ok=False, rates_seen=0, rates_added=0
        )
        session.add(fetch)
        session.flush()
        return _failed(session, fetch, error)
    return import_feed_body(session, body, source=source, settings=settings, now=moment)


def import_feed_file(
    session: Session, path: Path, *, settings: BnrSettings, now: datetime | None = None
) -> RateFetch:
    """Import a saved feed (e.g. the yearly nbrfxrates2025.xml) to backfill history."""
    return import_feed_body(
        session, path.read_bytes(), source=f"file:{path.name}", settings=settings, now=now
    )


def find_rate(
    session: Session, currency: str, tax_point: date, rule: RateDayRule
) -> ExchangeRate | None:
    """The newest stored rate before (or on) the tax point, whatever its day.

    Not for invoices: a missing banking day is not noticed here (use :func:`quote_rate`).
    """
    condition = (
        ExchangeRate.rate_date < tax_point
        if rule == RateDayRule.BEFORE
        else ExchangeRate.rate_date <= tax_point
    )
    return session.scalars(
        select(ExchangeRate)
        .where(ExchangeRate.source == SOURCE, ExchangeRate.currency == currency.upper(), condition)
        .order_by(ExchangeRate.rate_date.desc())
        .limit(1)
    ).first()


def expected_rate_day(tax_point: date, rule: RateDayRule) -> date:
    """The banking day whose rates an invoice with ``tax_point`` uses, by the calendar."""
    day = tax_point - timedelta(days=1) if rule == RateDayRule.BEFORE else tax_point
    return previous_working_day(day)


def _has_rates(session: Session, day: date) -> bool:
    return (
        session.scalar(
            select(ExchangeRate.id)
            .where(ExchangeRate.source == SOURCE, ExchangeRate.rate_date == day)
            .limit(1)
        )
        is not None
    )


def _proven_unpublished(session: Session, day: date) -> bool:
    """A good feed whose dates span ``day`` was stored, yet ``day`` has no rates: BNR
    published nothing that day (a closure our calendar does not know)."""
    return (
        session.scalar(
            select(RateFetch.id)
            .where(
                RateFetch.ok.is_(True),
                RateFetch.first_rate_date < day,
                RateFetch.last_rate_date > day,
            )
            .limit(1)
        )
        is not None
    )


def rate_day(session: Session, tax_point: date, settings: BnrSettings) -> date:
    """The banking day whose stored rates an invoice with ``tax_point`` uses.

    Raises :class:`ExchangeRateUnavailable` naming the day when its rates are not stored
    (its fetch failed or has not run yet): an older rate is not the one art. 290(2) asks.
    """
    rule = settings.rate_day_rule
    day = expected_rate_day(tax_point, rule)
    while True:
        if _has_rates(session, day):
            return day
        if (tax_point - day).days > settings.max_rate_age_days:
            raise ExchangeRateUnavailable(
                f"no BNR rates stored for the {settings.max_rate_age_days} days before tax "
                f"point {tax_point} (limit max_rate_age_days); fetch rates with "
                f"`praho rates fetch --url {TEN_DAY_FEED_URL}`"
            )
        if not _proven_unpublished(session, day):
            when = "before" if rule == RateDayRule.BEFORE else "on or before"
            raise ExchangeRateUnavailable(
                f"the BNR rates of {day} are missing: it is the last banking day {when} tax "
                f"point {tax_point}, and its fetch failed or has not run yet. Fetch them with "
                f"`praho rates fetch` (the daily feed shows the newest day only; for an older "
                f"day use `praho rates fetch --url {TEN_DAY_FEED_URL}` or "
                f"`--file nbrfxrates{day.year}.xml`); an older rate is not used"
            )
        day = previous_working_day(day - timedelta(days=1))


def quote_rate(
    session: Session, currency: str, tax_point: date, settings: BnrSettings
) -> ExchangeRateQuote | None:
    """The quote for an invoice, None when BNR never published the currency before the date
    (nothing stored for it), or a clear error when the banking day's rates are missing."""
    code = currency.upper()
    if find_rate(session, code, tax_point, settings.rate_day_rule) is None:
        return None
    day = rate_day(session, tax_point, settings)
    rate = session.scalars(
        select(ExchangeRate).where(
            ExchangeRate.source == SOURCE,
            ExchangeRate.currency == code,
            ExchangeRate.rate_date == day,
        )
    ).first()
    if rate is None:
        raise ExchangeRateUnavailable(
            f"BNR published no {code} rate on {day}, the banking day tax point {tax_point} "
            f"uses (BNR may no longer publish {code}); an older {code} rate is not used"
        )
    return ExchangeRateQuote(
        currency=rate.currency, rate=rate.rate, rate_date=rate.rate_date, source=SOURCE
    )


def rates_for_tax_point(
    session: Session, tax_point: date, settings: BnrSettings
) -> tuple[date | None, list[ExchangeRate]]:
    """The banking day whose rates an invoice with ``tax_point`` uses, and those rates;
    (None, []) when nothing is stored before it. Raises like :func:`rate_day`."""
    rule = settings.rate_day_rule
    condition = (
        ExchangeRate.rate_date < tax_point
        if rule == RateDayRule.BEFORE
        else ExchangeRate.rate_date <= tax_point
    )
    if session.scalar(
        select(func.max(ExchangeRate.rate_date)).where(ExchangeRate.source == SOURCE, condition)
    ) is None:
        return None, []
    day = rate_day(session, tax_point, settings)
    rows = session.scalars(
        select(ExchangeRate)
        .where(ExchangeRate.source == SOURCE, ExchangeRate.rate_date == day)
        .order_by(ExchangeRate.currency)
    )
    return day, list(rows)


def last_fetch(session: Session) -> RateFetch | None:
    """The most recent fetch attempt."""
    return session.scalars(
        select(RateFetch).order_by(RateFetch.started_at.desc(), RateFetch.id.desc()).limit(1)
    ).first()
