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
