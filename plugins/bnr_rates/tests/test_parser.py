"""Parsing every BNR sample in the contracts (both namespaces, multipliers, a currency that
disappears) and every failure body the real feed URL has returned, plus hostile XML."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from praho.plugins.bnr_rates.parser import (
    NAMESPACES,
    BnrFeedEmpty,
    BnrFeedError,
    BnrFeedInvalid,
    BnrFeedNoRates,
    BnrFeedNotXml,
    BnrFeedTooLarge,
    parse_bnr_feed,
)

HUNDREDS = {"HUF", "IDR", "ISK", "JPY", "KRW"}


def _feed(
    body: str,
    namespace: str = NAMESPACES[1],
    header: str = "<PublishingDate>2026-08-07</PublishingDate>",
    origin: str = "RON",
) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><DataSet xmlns="{namespace}"><Header>{header}'
        f"</Header><Body><Subject>Reference rates</Subject><OrigCurrency>{origin}</OrigCurrency>"
        f"{body}</Body></DataSet>"
    ).encode()


@pytest.mark.parametrize(
    "name,namespace,day,count,eur,usd",
    [
        ("bnr_sample.xml", "https://www.bnr.ro/xsd", date(2026, 8, 5), 37, "5.2489", None),
        (
            "bnr_sample_old_namespace.xml",
            "http://www.bnr.ro/xsd",
            date(2026, 7, 31),
            37,
            "5.2473",
            None,
        ),
        (
            "bnr_sample_2025_with_BGN.xml",
            "http://www.bnr.ro/xsd",
            date(2025, 12, 31),
            38,
            "5.0985",
            "4.3417",
        ),
    ],
)
def test_every_sample_parses(fixture_bytes, name, namespace, day, count, eur, usd):
    feed = parse_bnr_feed(fixture_bytes(name))
    assert (feed.namespace, feed.publishing_date) == (namespace, day)
    assert [c.day for c in feed.cubes] == [day]
    rates = {r.currency: r for r in feed.cubes[0].rates}
    assert len(rates) == feed.rate_count == count
    assert rates["EUR"].value == Decimal(eur) and rates["EUR"].multiplier == 1
    if usd:
        assert rates["USD"].per_unit == Decimal(usd)
    assert {c for c, r in rates.items() if r.multiplier == 100} == HUNDREDS
    assert ("BGN" in rates) is (day.year == 2025), "BGN is listed until 2025-12-31 only"


def test_multiplier_normalises_to_one_unit(fixture_bytes):
    rates = {r.currency: r for r in parse_bnr_feed(fixture_bytes("bnr_sample.xml")).cubes[0].rates}
    assert (rates["HUF"].value, rates["HUF"].per_unit) == (Decimal("1.4483"), Decimal("0.014483"))
    assert rates["IDR"].per_unit == Decimal("0.000254")
    assert rates["JPY"].per_unit == Decimal("0.028833")


@pytest.mark.parametrize(
    "name,error,message",
    [
        (
            "failures/504_gateway_timeout.html",
            BnrFeedNotXml,
            "HTML page titled '504 Gateway Time-out'",
        ),
        ("failures/object_moved.html", BnrFeedNotXml, "HTML page titled 'Object moved'"),
        ("failures/empty.xml", BnrFeedEmpty, "empty"),
    ],
)
def test_failure_bodies_give_typed_errors(fixture_bytes, name, error, message):
    with pytest.raises(error, match=message) as caught:
        parse_bnr_feed(fixture_bytes(name))
    assert "stored rates are kept" in caught.value.message
    assert isinstance(caught.value, BnrFeedError)


def test_ten_day_feed_with_a_weekend_gap():
    cubes = "".join(
        f'<Cube date="2026-08-{d:02d}"><Rate currency="EUR">5.{d:04d}</Rate></Cube>'
        for d in (3, 4, 5, 6, 7, 10)
    )  # no Cube for Saturday 8 and Sunday 9
    feed = parse_bnr_feed(_feed(cubes))
    assert [c.day.day for c in feed.cubes] == [3, 4, 5, 6, 7, 10]


def test_a_feed_with_no_cube_is_refused():
    with pytest.raises(BnrFeedNoRates, match="no Cube"):
        parse_bnr_feed(_feed(""))


@pytest.mark.parametrize(
    "body,error,message",
    [
        (
            _feed(
                '<Cube date="2026-08-07"><Rate currency="EUR">5.2</Rate></Cube>',
                namespace="http://example.com/x",
            ),
            BnrFeedNotXml,
            "not a BNR DataSet",
        ),
        (
            _feed('<Cube date="2026-08-07"><Rate currency="EUR">5.2</Rate></Cube>', header=""),
            BnrFeedInvalid,
            "PublishingDate is missing",
        ),
        (
            _feed('<Cube date="2026-08-07"><Rate currency="EUR">5.2</Rate></Cube>', origin="EUR"),
            BnrFeedInvalid,
            "OrigCurrency",
        ),
        (
            _feed('<Cube date="2026-08-32"><Rate currency="EUR">5.2</Rate></Cube>'),
            BnrFeedInvalid,
            "not a date",
        ),
        (
            _feed('<Cube date="2026-08-07"><Rate currency="EUR">abc</Rate></Cube>'),
            BnrFeedInvalid,
            "not a number",
        ),
        (
            _feed('<Cube date="2026-08-07"><Rate currency="EUR">-5.2</Rate></Cube>'),
            BnrFeedInvalid,
            "not positive",
        ),
        (
            _feed('<Cube date="2026-08-07"><Rate currency="EUR">NaN</Rate></Cube>'),
            BnrFeedInvalid,
            "not positive",
        ),
        (
            _feed('<Cube date="2026-08-07"><Rate currency="eu">5.2</Rate></Cube>'),
            BnrFeedInvalid,
            "currency",
        ),
        (
            _feed('<Cube date="2026-08-07"><Rate currency="HUF" multiplier="0">1.4</Rate></Cube>'),
            BnrFeedInvalid,
            "multiplier",
        ),
        (
            _feed(
                '<Cube date="2026-08-07"><Rate currency="EUR">5.2</Rate>'
                '<Rate currency="EUR">5.3</Rate></Cube>'
            ),
            BnrFeedInvalid,
            "twice",
        ),
        (
            _feed(
                '<Cube date="2026-08-07"><Rate currency="EUR">5.2</Rate></Cube>'
                '<Cube date="2026-08-07"><Rate currency="USD">4.2</Rate></Cube>'
            ),
            BnrFeedInvalid,
            "two Cubes",
        ),
        (b"<DataSet", BnrFeedNotXml, "not well-formed"),
        (b"\x00\x01garbage", BnrFeedNotXml, "not well-formed"),
    ],
)
def test_malformed_feeds_are_refused_with_a_reason(body, error, message):
    with pytest.raises(error, match=message):
        parse_bnr_feed(body)


def test_billion_laughs_is_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">'.encode()
            for i in range(1, 10)
        )
        + b']><DataSet xmlns="https://www.bnr.ro/xsd"><Header><PublishingDate>&lol9;</PublishingDate>'
        b"</Header></DataSet>"
    )
    with pytest.raises(BnrFeedInvalid, match="DOCTYPE"):
        parse_bnr_feed(bomb)


def test_external_entity_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("2026-08-07")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<DataSet xmlns="https://www.bnr.ro/xsd"><Header><PublishingDate>&x;</PublishingDate></Header>'
        "<Body><OrigCurrency>RON</OrigCurrency></Body></DataSet>"
    ).encode()
    with pytest.raises(BnrFeedInvalid, match="DOCTYPE"):
        parse_bnr_feed(xxe)


def test_oversized_body_is_refused_before_parsing(fixture_bytes):
    with pytest.raises(BnrFeedTooLarge, match="exceeds the limit of 1000"):
        parse_bnr_feed(fixture_bytes("bnr_sample.xml"), max_bytes=1000)
