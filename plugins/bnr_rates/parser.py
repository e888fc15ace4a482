"""Parsing the BNR reference-rate feed (nbrfxrates.xml, the 10-day and yearly files).

Structure: ``DataSet/Header/PublishingDate`` and ``DataSet/Body`` with ``OrigCurrency``
(RON) and one ``Cube[@date]`` per banking day holding ``Rate[@currency][@multiplier]``
elements: RON per ``multiplier`` units (100 for HUF, JPY, KRW, ISK, IDR), 4 decimals.
Both namespaces are accepted: ``http://www.bnr.ro/xsd`` and, since 2026-07-31,
``https://www.bnr.ro/xsd``.

The parser is defensive (:func:`praho.core.xmlinput.parse_untrusted_xml`): entity
resolution, DTDs and network access are off, any DOCTYPE is refused (no XXE, no billion
laughs), and bodies above a size limit are refused before parsing. What the feed URL has really returned on bad days (an nginx 504 page, an
"Object moved" page, an empty body) each gives a typed error with a readable reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree
from praho.core.errors import PrahoError
from praho.core.xmlinput import UntrustedXMLError, parse_untrusted_xml

NAMESPACES = ("http://www.bnr.ro/xsd", "https://www.bnr.ro/xsd")
DEFAULT_MAX_BYTES = 5_000_000
# What the rates table can hold (published_value NUMERIC(14, 4)); BNR publishes 4 decimals.
MAX_RATE_DIGITS = 10
MAX_DECIMALS = 4
MAX_MULTIPLIER = 1_000_000
_CURRENCY = re.compile(r"[A-Z]{3}")
_TITLE = re.compile(rb"<title>\s*(.*?)\s*</title>", re.IGNORECASE | re.DOTALL)


class BnrFeedError(PrahoError):
    """The feed could not be used; ``reason`` is a short code, the message says why."""

    http_status = 502
    code = "bnr_feed_error"
    reason = "invalid"


class BnrFeedEmpty(BnrFeedError):
    """The body was empty."""

    reason = "empty"


class BnrFeedNotXml(BnrFeedError):
    """The body is not the feed at all (an HTML error or redirect page, garbage)."""

    reason = "not_feed"


class BnrFeedTooLarge(BnrFeedError):
    """The body exceeds the configured size limit."""

    reason = "too_large"


class BnrFeedInvalid(BnrFeedError):
    """XML that is not a valid BNR rates document (missing elements, bad values, DOCTYPE)."""

    reason = "invalid"


class BnrFeedNoRates(BnrFeedError):
    """A well-formed feed with no Cube: there is nothing to store."""

    reason = "no_rates"


@dataclass(frozen=True)
class BnrRate:
    """One published rate: RON per ``multiplier`` units of ``currency``."""

    currency: str
    value: Decimal
    multiplier: int

    @property
    def per_unit(self) -> Decimal:
        """RON per one unit (the value invoices use)."""
        return self.value / self.multiplier


@dataclass(frozen=True)
class BnrCube:
    """The rates of one banking day."""

    day: date
    rates: tuple[BnrRate, ...]


@dataclass(frozen=True)
class BnrFeed:
    """A parsed feed document."""

    namespace: str
    publishing_date: date
    cubes: tuple[BnrCube, ...]

    @property
    def rate_count(self) -> int:
        """Number of rates over all cubes."""
        return sum(len(c.rates) for c in self.cubes)


def describe_html(body: bytes) -> str:
    """A short description of an HTML body (its title) for error messages."""
    match = _TITLE.search(body[:4096])
    title = match.group(1).decode("utf-8", "replace").strip() if match else ""
    return f"an HTML page{f' titled {title!r}' if title else ''}"


def _date(text: str | None, what: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise BnrFeedInvalid(f"BNR feed: {what} {text!r} is not a date (YYYY-MM-DD)") from None


def _rate(element: etree._Element, day: date) -> BnrRate:
    currency = (element.get("currency") or "").strip()
    if not _CURRENCY.fullmatch(currency):
        raise BnrFeedInvalid(f"BNR feed: Cube {day}: Rate with currency {currency!r}")
    multiplier_text = (element.get("multiplier") or "1").strip()
    if (not multiplier_text.isdigit() or len(multiplier_text) > 7
            or not 1 <= int(multiplier_text) <= MAX_MULTIPLIER):
        raise BnrFeedInvalid(f"BNR feed: Cube {day}: {currency} multiplier {multiplier_text!r}")
    try:
        value = Decimal((element.text or "").strip())
    except InvalidOperation:
        raise BnrFeedInvalid(
            f"BNR feed: Cube {day}: {currency} rate {element.text!r} is not a number"
        ) from None
    if not value.is_finite() or value <= 0:
        raise BnrFeedInvalid(f"BNR feed: Cube {day}: {currency} rate {value} is not positive")
    exponent = value.as_tuple().exponent
    too_fine = isinstance(exponent, int) and exponent < -MAX_DECIMALS
    if value.adjusted() >= MAX_RATE_DIGITS or too_fine:
        raise BnrFeedInvalid(
            f"BNR feed: Cube {day}: {currency} rate {str(value)[:40]} is out of range "
            f"(at most {MAX_RATE_DIGITS} digits and {MAX_DECIMALS} decimals)"
        )
    return BnrRate(currency, value, int(multiplier_text))


def parse_bnr_feed(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> BnrFeed:
    """Parse a BNR feed body, or raise a :class:`BnrFeedError` subclass saying what was wrong."""
    if len(body) > max_bytes:
        raise BnrFeedTooLarge(
            f"BNR feed: body of {len(body)} bytes exceeds the limit of {max_bytes}"
        )
    if not body.strip():
        raise BnrFeedEmpty("BNR feed: the response body is empty; stored rates are kept")
    head = body[:512].lstrip().lower()
    if head.startswith(b"<html") or head.startswith(b"<!doctype html"):
        raise BnrFeedNotXml(
            f"BNR feed: got {describe_html(body)} instead of the rates XML; stored rates are kept"
        )
    if b"<!DOCTYPE" in body[:4096].upper():
        raise BnrFeedInvalid("BNR feed: a DOCTYPE is not allowed in the rates XML")
    try:
        root = parse_untrusted_xml(body, max_bytes=max_bytes, what="BNR feed")
    except UntrustedXMLError as error:
        if error.reason == "doctype":
            raise BnrFeedInvalid("BNR feed: a DOCTYPE is not allowed in the rates XML") from None
        raise BnrFeedNotXml(
            f"BNR feed: not well-formed XML ({error.message}); stored rates are kept"
        ) from None
    qname = etree.QName(root)
    if qname.localname != "DataSet" or qname.namespace not in NAMESPACES:
        raise BnrFeedNotXml(
            f"BNR feed: root element {root.tag!r} is not a BNR DataSet "
            f"(namespace {' or '.join(NAMESPACES)})"
        )
    ns = {"b": qname.namespace}
    publishing = root.findtext("b:Header/b:PublishingDate", namespaces=ns)
    if publishing is None:
        raise BnrFeedInvalid("BNR feed: Header/PublishingDate is missing")
    body_element = root.find("b:Body", namespaces=ns)
    if body_element is None:
        raise BnrFeedInvalid("BNR feed: Body is missing")
    origin = (body_element.findtext("b:OrigCurrency", namespaces=ns) or "").strip()
    if origin != "RON":
        raise BnrFeedInvalid(f"BNR feed: OrigCurrency is {origin!r}, expected RON")
    cubes = []
    seen_days: set[date] = set()
    for cube in body_element.findall("b:Cube", namespaces=ns):
        day = _date(cube.get("date"), "Cube date")
        if day in seen_days:
            raise BnrFeedInvalid(f"BNR feed: two Cubes for {day}")
        seen_days.add(day)
        rates = tuple(_rate(r, day) for r in cube.findall("b:Rate", namespaces=ns))
        currencies = [r.currency for r in rates]
        if len(set(currencies)) != len(currencies):
            raise BnrFeedInvalid(f"BNR feed: Cube {day} lists a currency twice")
        cubes.append(BnrCube(day, rates))
    if not cubes:
        raise BnrFeedNoRates(
            "BNR feed: no Cube element (no banking day in this document); stored rates are kept"
        )
    return BnrFeed(
        qname.namespace,
        _date(publishing, "PublishingDate"),
        tuple(sorted(cubes, key=lambda c: c.day)),
    )
