"""Fuzzing the BNR feed parser (plugins/bnr_rates): a feed or a BnrFeedError, nothing else."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from praho.core.testing import fuzz_settings, fuzz_tried
from praho.plugins.bnr_rates.parser import BnrFeedError, parse_bnr_feed

NS = "http://www.bnr.ro/xsd"
values = st.one_of(st.sampled_from(["4.9750", "0.0001", "-1", "0", "NaN", "1e999", "", "abc",
                                    "4,97", "9" * 60, "sNaN", "Infinity"]),
                   st.text(alphabet="0123456789.-eE", max_size=12))
currencies = st.one_of(st.sampled_from(["EUR", "USD", "HUF", "eur", "EURO", "", "X Y"]),
                       st.text(alphabet="ABCXYZ", max_size=4))
multipliers = st.one_of(st.none(), st.sampled_from(["1", "100", "0", "-1", "x", "1" * 30]))
days = st.one_of(st.sampled_from(["2026-03-02", "2026-02-30", "02.03.2026", "", "9999-12-31"]),
                 st.text(alphabet="0123456789-", max_size=10))


@st.composite
def feeds(draw: st.DrawFn) -> bytes:
    cubes = []
    for _ in range(draw(st.integers(0, 3))):
        rates = []
        for _ in range(draw(st.integers(0, 4))):
            multiplier = draw(multipliers)
            attribute = f' multiplier="{multiplier}"' if multiplier is not None else ""
            rates.append(f'<Rate currency="{draw(currencies)}"{attribute}>{draw(values)}</Rate>')
        cubes.append(f'<Cube date="{draw(days)}">{"".join(rates)}</Cube>')
    origin = draw(st.sampled_from(["RON", "RON", "EUR", ""]))
    publishing = draw(days)
    namespace = draw(st.sampled_from([NS, NS, "https://www.bnr.ro/xsd", "urn:other"]))
    return (f'<?xml version="1.0" encoding="utf-8"?><DataSet xmlns="{namespace}">'
            f"<Header><Publisher>National Bank of Romania</Publisher>"
            f"<PublishingDate>{publishing}</PublishingDate></Header>"
            f"<Body><OrigCurrency>{origin}</OrigCurrency>{''.join(cubes)}</Body></DataSet>"
            ).encode()


@fuzz_settings(factor=5)
@given(body=feeds() | st.binary(max_size=300))
def test_any_body_gives_a_feed_or_a_typed_error(body):
    fuzz_tried("bnr_rates: parse_bnr_feed")
    try:
        feed = parse_bnr_feed(body)
    except BnrFeedError as error:
        assert error.reason and error.message
    else:
        for cube in feed.cubes:
            for rate in cube.rates:
                assert rate.value.is_finite() and 0 < rate.value < 10**10
                assert 1 <= rate.multiplier <= 1_000_000
                assert rate.value == rate.value.quantize(Decimal("0.0001"))
                assert isinstance(rate.per_unit, Decimal)
