"""The one validation layer used by services, the import, the HTTP APIs and the admin.

Every check raises :class:`praho.core.errors.FieldError` naming the field and the
reason. Limits follow the e-Factura (CIUS-RO) length rules so that anything we accept
can later be rendered as a valid UBL document.

What the layer guarantees (docs/security.md lists it with the threat model):

* amounts are ``int`` minor units within +/- ``PRAHO_MAX_AMOUNT_MINOR`` per line and
  +/- ``PRAHO_MAX_DOCUMENT_AMOUNT_MINOR`` per document (default 100,000,000 each);
* currencies are active ISO 4217 codes; quantities, unit prices, rates and exchange
  rates are exact decimals (never float) with bounded precision and range;
* text is bounded by the e-Factura length of its field, never holds control characters,
  lone surrogates or bidirectional overrides (nothing PostgreSQL, a PDF or a UBL file
  would choke on or display misleadingly);
* identifiers (CUI, CNP, EU VAT id, IBAN) are checked with python-stdnum; dates lie in a
  sane window;
* an error message quotes at most a short prefix of the rejected value.

:func:`external_text` is the one non-raising helper: it makes text received from a
remote service (ANAF, a gateway) safe to store or log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from praho.core.errors import FieldError, ValidationFailed
from praho.core.money import is_currency
from stdnum import iban as stdnum_iban
from stdnum.eu import vat as stdnum_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.ro import cnp as stdnum_cnp
from stdnum.ro import cui as stdnum_cui

# CIUS-RO / EN 16931 length limits (see ../shared/efactura/README.md).
LIMITS = {
    "party_name": 200,
    "street": 150,
    "city": 50,
    "postal_code": 20,
    "contact": 100,
    "item_name": 100,
    "item_description": 200,
    "note": 300,
    "allowance_reason": 100,
    "document_id": 200,
}
DEFAULT_MAX_AMOUNT_MINOR = 100_000_000
DEFAULT_MAX_DOCUMENT_AMOUNT_MINOR = 100_000_000
MAX_QUANTITY = Decimal("1000000000")
MAX_UNIT_PRICE = Decimal("1000000000")
MAX_EXCHANGE_RATE = Decimal("1000000")
# Longest numeric text accepted before parsing (a million-digit "number" is an attack).
MAX_NUMBER_TEXT = 40
# Longest prefix of a rejected value quoted back in an error message.
_SHOWN = 60
EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE EL ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)
ISO_COUNTRIES = frozenset(
    (
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO "
        "BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ "
        "DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP "
        "GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG "
        "KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML "
        "MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE "
        "PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL "
        "SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM "
        "US UY UZ VA VC VE VG VI VN VU WF WS XI YE YT ZA ZM ZW"
    ).split()
)
# ISO 3166-2:RO: 41 counties plus Bucharest (RO-B).
RO_COUNTIES = frozenset(
    (
        "AB AG AR B BC BH BN BR BT BV BZ CJ CL CS CT CV DB DJ GJ GL GR HD HR IF IL IS MH MM MS "
        "NT OT PH SB SJ SM SV TL TM TR VL VN VS"
    ).split()
)
BUCHAREST_SECTORS = frozenset(f"SECTOR{n}" for n in range(1, 7))
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Bidirectional embeddings, overrides and isolates: they make a printed name read
# differently from what is stored ("Trojan Source").
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_UNIT_CODE = re.compile(r"[A-Z0-9]{2,3}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def show(value: Any) -> str:
    """A short, printable representation of a rejected value for an error message."""
    text_value = repr(value)
    if len(text_value) > _SHOWN:
        text_value = text_value[:_SHOWN] + "..."
    return text_value


def text(field: str, value: Any, *, max_length: int, required: bool = True) -> str | None:
    """A trimmed string within ``max_length`` characters, without control characters."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FieldError(field, "is required")
        return None
    if not isinstance(value, str):
        raise FieldError(field, f"must be text, got {type(value).__name__}")
    cleaned = value.strip()
    if len(cleaned) > max_length:
        raise FieldError(field, f"is {len(cleaned)} characters long; at most {max_length} allowed")
    if _CONTROL.search(cleaned):
        raise FieldError(field, "contains control characters")
    if _SURROGATE.search(cleaned):
        raise FieldError(field, "is not valid Unicode text (lone surrogate)")
    if _BIDI.search(cleaned):
        raise FieldError(field, "contains invisible text-direction control characters")
    return cleaned


def code(field: str, value: Any, *, max_length: int) -> str:
    """An identifier we or the customer chose (customer, product, price codes): letters,
    digits and ``. _ / -``, starting with a letter or digit."""
    cleaned = text(field, value, max_length=max_length)
    assert cleaned is not None
    if not _CODE.fullmatch(cleaned):
        raise FieldError(field, f"{show(cleaned)} may only use letters, digits and . _ / -")
    return cleaned


def unit_code(field: str, value: Any) -> str:
    """A UN/ECE Recommendation 20 unit code as e-Factura prints it (C62, HUR, MON, KWH)."""
    if not isinstance(value, str) or not _UNIT_CODE.fullmatch(value):
        raise FieldError(field, f"{show(value)} is not a UN/ECE Rec. 20 unit code such as C62")
    return value


def boolean(field: str, value: Any) -> bool:
    """A real boolean (``true``/``false``); ``"no"`` or ``0`` are not silently truthy."""
    if not isinstance(value, bool):
        raise FieldError(field, f"must be true or false, got {show(value)}")
    return value


def integer(field: str, value: Any, *, minimum: int, maximum: int) -> int:
    """A whole number (never a bool, a float or a numeric string) within bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, f"must be a whole number, got {show(value)}")
    if not minimum <= value <= maximum:
        raise FieldError(field, f"must be between {minimum} and {maximum}")
    return value


def external_text(value: Any, *, max_length: int = 500) -> str:
    """Text from a remote service made safe to store or log; never raises.

    Control characters and lone surrogates are dropped (PostgreSQL refuses NUL), and
    the result is cut to ``max_length`` characters.
    """
    raw = value if isinstance(value, str) else str(value)
    cleaned = _BIDI.sub("", _SURROGATE.sub("", _CONTROL.sub(" ", raw))).strip()
    if len(cleaned) > max_length:
        cleaned = cleaned[: max_length - 3] + "..."
    return cleaned


def email(field: str, value: Any) -> str:
    """An e-mail address (syntax only)."""
    cleaned = text(field, value, max_length=254)
    assert cleaned is not None
    if not _EMAIL.match(cleaned):
        raise FieldError(field, f"{show(cleaned)} is not an e-mail address")
    return cleaned


def currency(field: str, value: Any) -> str:
    """An active ISO 4217 code."""
    if not is_currency(value):
        raise FieldError(field, f"{show(value)} is not an ISO 4217 currency code")
    return str(value)


def country(field: str, value: Any) -> str:
    """An ISO 3166-1 alpha-2 country code (upper case)."""
    code = str(value or "").strip().upper()
    if code not in ISO_COUNTRIES:
        raise FieldError(field, f"{show(value)} is not an ISO 3166-1 alpha-2 country code")
    return code


def county(field: str, value: Any, *, country_code: str) -> str | None:
    """ISO 3166-2 subdivision; mandatory and checked against the list for Romania."""
    if value is None or value == "":
        if country_code == "RO":
            raise FieldError(field, "is required for Romanian addresses (e.g. RO-B, RO-CJ)")
        return None
    code = str(value).strip().upper()
    if country_code == "RO":
        if not code.startswith("RO-") or code[3:] not in RO_COUNTIES:
            raise FieldError(field, f"{show(value)} is not an ISO 3166-2:RO county code (RO-B, RO-CJ, ...)")
    elif not re.fullmatch(r"[A-Z]{2}-[A-Z0-9]{1,3}", code):
        raise FieldError(field, f"{show(value)} is not an ISO 3166-2 subdivision code")
    return code


def bucharest_city(field: str, city: str, county_code: str | None) -> str:
    """In RO-B the city must be SECTOR1..SECTOR6 (CIUS-RO BR-RO-100)."""
    if county_code == "RO-B":
        normalized = city.upper().replace(" ", "")
        if normalized not in BUCHAREST_SECTORS:
            raise FieldError(field, "in Bucharest (RO-B) the city must be SECTOR1 to SECTOR6")
        return normalized
    return city


def _identifier(field: str, value: Any) -> str:
    """The text of an identifier before stdnum sees it: a short string (or a number)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FieldError(field, f"must be text, got {type(value).__name__}")
    literal = str(value)
    if len(literal) > 64:
        raise FieldError(field, "is longer than 64 characters")
    return literal


def cui(field: str, value: Any) -> str:
    """Romanian fiscal code: digits only, check key 753217532 (stdnum.ro.cui)."""
    try:
        return str(stdnum_cui.validate(_identifier(field, value)))
    except StdnumError as exc:
        raise FieldError(field, f"{show(value)} is not a valid Romanian CUI ({exc})") from None


def cnp(field: str, value: Any) -> str:
    """Romanian personal numeric code with a valid date and check digit."""
    try:
        return str(stdnum_cnp.validate(_identifier(field, value)))
    except StdnumError as exc:
        raise FieldError(field, f"{show(value)} is not a valid CNP ({exc})") from None


def vat_id(field: str, value: Any) -> str:
    """An EU VAT identifier with country prefix, syntax and check digits (not VIES)."""
    try:
        return str(stdnum_vat.validate(_identifier(field, value)))
    except StdnumError as exc:
        raise FieldError(field, f"{show(value)} is not a valid EU VAT number ({exc})") from None


def iban(field: str, value: Any) -> str:
    """An IBAN with a valid checksum, compact form."""
    try:
        return str(stdnum_iban.validate(_identifier(field, value)))
    except StdnumError as exc:
        raise FieldError(field, f"{show(value)} is not a valid IBAN ({exc})") from None


def _configured(key: str, default: int) -> int:
    from flask import current_app, has_app_context

    if has_app_context():
        return int(current_app.config.get(key, default))
    return default


def configured_max_amount() -> int:
    """``PRAHO_MAX_AMOUNT_MINOR`` (per amount, per line) of the current app, or the default."""
    return _configured("MAX_AMOUNT_MINOR", DEFAULT_MAX_AMOUNT_MINOR)


def configured_max_document_amount() -> int:
    """``PRAHO_MAX_DOCUMENT_AMOUNT_MINOR`` (any document total) of the current app, or default."""
    return _configured("MAX_DOCUMENT_AMOUNT_MINOR", DEFAULT_MAX_DOCUMENT_AMOUNT_MINOR)


def amount_minor(field: str, value: Any, *, max_abs: int | None = None,
                 allow_negative: bool = False) -> int:
    """An integer of minor units within +/- ``max_abs`` (default: the configured bound)."""
    max_abs = configured_max_amount() if max_abs is None else max_abs
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, "must be an integer number of minor units (e.g. 1999 for 19.99)")
    if value < 0 and not allow_negative:
        raise FieldError(field, "must not be negative")
    if abs(value) > max_abs:
        raise FieldError(field, f"{show(value)} exceeds the limit of {max_abs} minor units")
    return value


def document_amount(field: str, value: Any) -> int:
    """A document-level amount (lines total, taxable, VAT, total, payable) within
    +/- ``PRAHO_MAX_DOCUMENT_AMOUNT_MINOR``."""
    limit = configured_max_document_amount()
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, "must be an integer number of minor units")
    if abs(value) > limit:
        raise FieldError(field, f"document amount {show(value)} exceeds the limit of "
                                f"{limit} minor units (PRAHO_MAX_DOCUMENT_AMOUNT_MINOR)")
    return value


def decimal(field: str, value: Any, *, places: int, minimum: Decimal | None = None,
            maximum: Decimal | None = None) -> Decimal:
    """A Decimal from str/int/Decimal (never float) with at most ``places`` decimals."""
    if isinstance(value, float):
        raise FieldError(field, "must be given as a string or integer, not a float")
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise FieldError(field, f"must be a number, got {type(value).__name__}")
    literal = str(value).strip()
    if len(literal) > MAX_NUMBER_TEXT:
        raise FieldError(field, f"is longer than {MAX_NUMBER_TEXT} characters")
    try:
        number = Decimal(literal)
    except (InvalidOperation, ValueError):
        raise FieldError(field, f"{show(value)} is not a number") from None
    if not number.is_finite():
        raise FieldError(field, "must be a finite number")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise FieldError(field, f"has more than {places} decimals")
    if minimum is not None and number < minimum:
        raise FieldError(field, f"must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise FieldError(field, f"must be at most {maximum}")
    return number


def quantity(field: str, value: Any) -> Decimal:
    """A line quantity: positive, at most 6 decimals, below one billion."""
    return decimal(field, value, places=6, minimum=Decimal("0.000001"), maximum=MAX_QUANTITY)


def unit_price(field: str, value: Any) -> Decimal:
    """A unit price in major units: 0 to one billion, at most 6 decimals (below a cent)."""
    return decimal(field, value, places=6, minimum=Decimal(0), maximum=MAX_UNIT_PRICE)


def rate_percent(field: str, value: Any) -> Decimal:
    """A percentage 0..100 with at most 4 decimals."""
    return decimal(field, value, places=4, minimum=Decimal(0), maximum=Decimal(100))


def exchange_rate(field: str, value: Any) -> Decimal:
    """Units of RON per one unit of a currency: positive, at most 6 decimals (BNR publishes
    4, per 100 units for HUF/JPY/KRW: 6 per unit), below one million."""
    return decimal(field, value, places=6, minimum=Decimal("0.000001"), maximum=MAX_EXCHANGE_RATE)


def iso_date(field: str, value: Any, *, earliest: date = date(2000, 1, 1),
             latest: date = date(2100, 12, 31)) -> date:
    """A date (or ISO string) inside a sane window."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise FieldError(field, f"{show(value)} is not a date (YYYY-MM-DD)") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise FieldError(field, "must be a date (YYYY-MM-DD)")
    if not earliest <= value <= latest:
        raise FieldError(field, f"{value.isoformat()} is outside {earliest}..{latest}")
    return value


def choice(field: str, value: Any, options: Any) -> str:
    """One of a fixed set of values (an enum's values or any iterable of strings)."""
    allowed = [str(o) for o in options]
    if str(value) not in allowed:
        raise FieldError(field, f"{show(value)} is not one of {', '.join(allowed)}")
    return str(value)


class Collector:
    """Collect several field errors and raise them together as :class:`ValidationFailed`."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def check(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one validator; remember its error and return None on failure."""
        try:
            return func(*args, **kwargs)
        except FieldError as error:
            self.errors.append(error)
            return None

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turn a FieldError raised in the block into a collected error."""
        try:
            yield
        except FieldError as error:
            self.errors.append(error)

    def raise_if_any(self) -> None:
        """Raise :class:`ValidationFailed` when any check failed."""
        if self.errors:
            raise ValidationFailed(self.errors)
