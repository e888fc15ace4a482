"""Exact money: integer minor units plus an ISO 4217 currency code.

Amounts never pass through float. ``Decimal`` appears only for rates, percentages,
quantities and unit prices finer than one minor unit, and every conversion back to
minor units goes through :func:`to_minor`, which rounds half-up (the rounding EN 16931
and the Romanian Fiscal Code use for invoice amounts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal

# ISO 4217 active codes with their minor-unit exponent. Codes absent here are rejected.
_CURRENCY_EXPONENTS: dict[str, int] = {
    **{code: 2 for code in (
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP "
        "BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
        "GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT "
        "LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN "
        "NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
        "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES "
        "WST XCD YER ZAR ZMW ZWG"
    ).split()},
    **{code: 0 for code in "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()},
    **{code: 3 for code in "BHD IQD JOD KWD LYD OMR TND".split()},
}

ROUNDING_MODES = {
    "half_up": ROUND_HALF_UP,
    "up": ROUND_CEILING,
    "down": ROUND_FLOOR,
    "truncate": ROUND_DOWN,
}


class CurrencyError(ValueError):
    """A currency code that is not an active ISO 4217 code, or mixed currencies."""


def currency_exponent(currency: str) -> int:
    """Number of decimals of the currency's minor unit (2 for RON and EUR, 0 for JPY)."""
    try:
        return _CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise CurrencyError(f"unknown currency code {currency!r} (expected ISO 4217, e.g. RON)") from None


def is_currency(code: object) -> bool:
    """True when ``code`` is an active ISO 4217 code that PRAHO can bill in."""
    return isinstance(code, str) and code in _CURRENCY_EXPONENTS


def to_minor(value: Decimal | int | str, currency: str, rounding: str = "half_up") -> int:
    """Convert a major-unit decimal amount (``12.345`` EUR) to minor units, rounding."""
    exponent = currency_exponent(currency)
    scaled = Decimal(value).scaleb(exponent)
    return int(scaled.quantize(Decimal(1), rounding=ROUNDING_MODES[rounding]))


def to_major(amount_minor: int, currency: str) -> Decimal:
    """Convert minor units to an exact major-unit Decimal with the currency's decimals."""
    exponent = currency_exponent(currency)
    return Decimal(amount_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def quantize_rate(rate: Decimal | str | int, places: int = 4) -> Decimal:
    """A VAT or discount percentage with at most ``places`` decimals (``21.0000``)."""
    return Decimal(rate).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def percent_of(amount_minor: int, rate_percent: Decimal) -> int:
    """``rate_percent`` % of an amount, rounded half-up to the minor unit (BR-CO-17)."""
    product = Decimal(amount_minor) * Decimal(rate_percent) / Decimal(100)
    return int(product.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def convert_minor(amount_minor: int, currency: str, rate: Decimal, to_currency: str) -> int:
    """Convert minor units at ``rate`` (units of ``to_currency`` per one ``currency``)."""
    return to_minor(to_major(amount_minor, currency) * Decimal(rate), to_currency)


def allocate(amount_minor: int, weights: Sequence[int | Decimal]) -> list[int]:
    """Split an amount over weights without losing a minor unit (largest remainder).

    The parts always sum to ``amount_minor``; used for splitting a discount over
    lines or a payment over invoices.
    """
    total_weight = sum(Decimal(w) for w in weights)
    if not weights:
        return []
    if total_weight == 0:
        raise ValueError("cannot allocate over weights that sum to zero")
    sign = -1 if amount_minor < 0 else 1
    magnitude = abs(amount_minor)
    exact = [Decimal(magnitude) * Decimal(w) / total_weight for w in weights]
    parts = [int(x.to_integral_value(rounding=ROUND_FLOOR)) for x in exact]
    remainder = magnitude - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (exact[i] - parts[i]), reverse=True)
    for i in order[:remainder]:
        parts[i] += 1
    return [sign * p for p in parts]


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of one currency. Arithmetic refuses mixed currencies."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount_minor, int) or isinstance(self.amount_minor, bool):
            raise TypeError("Money.amount_minor must be an int of minor units")
        currency_exponent(self.currency)

    @classmethod
    def of(cls, major: Decimal | int | str, currency: str) -> Money:
        """Build from a major-unit amount: ``Money.of("12.50", "RON")``."""
        return cls(to_minor(Decimal(str(major)), currency), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """The zero amount of a currency."""
        return cls(0, currency)

    @property
    def major(self) -> Decimal:
        """The amount in major units as an exact Decimal."""
        return to_major(self.amount_minor, self.currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor <= other.amount_minor

    def __bool__(self) -> bool:
        return self.amount_minor != 0

    def __str__(self) -> str:
        return f"{self.major} {self.currency}"


def sum_money(amounts: Iterable[Money], currency: str) -> Money:
    """Sum amounts of one currency; an empty iterable gives zero."""
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total


def format_amount(amount_minor: int, currency: str, language: str = "ro") -> str:
    """Human format: ``1.234,56`` in Romanian, ``1,234.56`` in English."""
    major = to_major(amount_minor, currency)
    text = f"{major:,}"
    if language == "ro":
        text = text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")
    return text


class AmountInputError(ValueError):
    """An amount typed by a person that cannot be read one way only; the message says how
    to write it."""


# Grouping characters people type inside a number (space, no-break and thin spaces, the
# apostrophe used in Switzerland): never a decimal point, so they are simply removed.
_GROUPING_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'")
_MAX_INPUT_DIGITS = 30


def parse_decimal_input(text: str, *, max_decimals: int, allow_negative: bool = False,
                        currency: str | None = None) -> Decimal:
    """Read a number typed by staff, in Romanian or English writing, without guessing.

    ``1500``, ``1500.00``, ``1500,00``, ``1.500,00``, ``1,500.00``, ``1 500,00`` and
    ``1.500.000`` are read one way only. When both ``.`` and ``,`` appear, the last one
    is the decimal separator and the other must group thousands by three. A single
    separator followed by exactly three digits (``1.500``, ``10,005``) is refused: in
    Romanian it groups thousands, in English it is a decimal point, and reading it the
    wrong way books an amount a thousand times off. More than ``max_decimals``
    decimals is refused rather than rounded. A trailing ``currency`` code is allowed.

    :raises AmountInputError: with a message a person can act on.
    """
    original = text
    cleaned = (text or "").strip()
    if currency and cleaned.upper().endswith(currency):
        cleaned = cleaned[: -len(currency)].strip()
    cleaned = cleaned.translate(_GROUPING_SPACES)
    example = "1500 or 1500,00"
    if not cleaned:
        raise AmountInputError(f"enter an amount, e.g. {example}")
    negative = cleaned.startswith("-")
    if negative:
        if not allow_negative:
            raise AmountInputError(f"{original!r}: must not be negative")
        cleaned = cleaned[1:]
    if not cleaned or any(c not in "0123456789.," for c in cleaned) or not cleaned[0].isdigit():
        raise AmountInputError(f"{original!r} is not an amount; write it like {example}")
    if sum(c.isdigit() for c in cleaned) > _MAX_INPUT_DIGITS:
        raise AmountInputError(f"{original!r} is too long to be an amount")
    whole, decimals = _split_decimal(cleaned, original, example)
    if len(decimals) > max_decimals:
        allowed = f"{max_decimals} decimals" if max_decimals else "no decimals"
        subject = f"{currency} has" if currency else "this field takes"
        raise AmountInputError(
            f"{original!r} has {len(decimals)} decimals; {subject} {allowed} (nothing is rounded)"
        )
    number = Decimal(f"{whole}.{decimals or '0'}")
    return -number if negative else number


def _split_decimal(body: str, original: str, example: str) -> tuple[str, str]:
    """``body`` (digits, dots, commas) as (whole digits, decimal digits), or refused."""
    separators = [c for c in body if c in ".,"]
    if not separators:
        return body, ""
    last = separators[-1]
    if len(set(separators)) == 2:
        # Both kinds: the last is the decimal point, the other groups thousands.
        if separators.count(last) != 1:
            raise AmountInputError(f"{original!r} is not an amount; write it like {example}")
        whole, decimals = body.rsplit(last, 1)
        return _ungroup(whole, original, example), decimals
    if len(separators) > 1:
        return _ungroup(body, original, example), ""  # only grouping: 1.500.000
    whole, decimals = body.split(last)
    if not decimals:
        raise AmountInputError(f"{original!r} is not an amount; write it like {example}")
    if len(decimals) == 3 and whole.strip("0"):
        raise AmountInputError(
            f"{original!r} is ambiguous: the separator may group thousands or mark the "
            f"decimals; write it unambiguously, e.g. {example}"
        )
    return whole, decimals


def _ungroup(whole: str, original: str, example: str) -> str:
    """Digits grouped by three with one separator kind (``1.500.000``) without separators."""
    groups = whole.replace(",", ".").split(".")
    if not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:]):
        raise AmountInputError(
            f"{original!r}: thousands must be grouped by three; write it like {example}"
        )
    return "".join(groups)


def parse_amount_input(text: str, currency: str, *, allow_negative: bool = False) -> int:
    """Minor units of an amount typed by staff (see :func:`parse_decimal_input`).

    Never rounds: ``10,005`` RON is refused, not booked as 10,01. Unlike
    :func:`to_minor`, which converts computed values, this reads what a person typed.
    """
    exponent = currency_exponent(currency)
    major = parse_decimal_input(text, max_decimals=exponent, allow_negative=allow_negative,
                                currency=currency)
    return int(major.scaleb(exponent))
