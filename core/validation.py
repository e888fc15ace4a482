"""The one validation layer used by services, the import, the HTTP APIs and the admin.

Every check raises :class:`praho.core.errors.FieldError` naming the field and the
reason. Limits follow the e-Factura (CIUS-RO) length rules so that anything we accept
can later be rendered as a valid UBL document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from stdnum import iban as stdnum_iban
from stdnum.eu import vat as stdnum_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.ro import cnp as stdnum_cnp
from stdnum.ro import cui as stdnum_cui

from praho.core.errors import FieldError, ValidationFailed
from praho.core.money import is_currency

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
MAX_QUANTITY = Decimal("1000000000")
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
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(field: str, value: Any, *, max_length: int, required: bool = True) -> str | None:
    """A trimmed string within ``max_length`` characters, without control characters."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FieldError(field, "is required")
        return None
    if not isinstance(value, str):
        raise FieldError(field, f"must be text, got {type(value).__name__}")
    cleaned = value.strip()
    if _CONTROL.search(cleaned):
        raise FieldError(field, "contains control characters")
    if len(cleaned) > max_length:
        raise FieldError(field, f"is {len(cleaned)} characters long; at most {max_length} allowed")
    return cleaned


def email(field: str, value: Any) -> str:
    """An e-mail address (syntax only)."""
    cleaned = text(field, value, max_length=254)
    assert cleaned is not None
    if not _EMAIL.match(cleaned):
        raise FieldError(field, f"{cleaned!r} is not an e-mail address")
    return cleaned


def currency(field: str, value: Any) -> str:
    """An active ISO 4217 code."""
    if not is_currency(value):
        raise FieldError(field, f"{value!r} is not an ISO 4217 currency code")
    return str(value)


def country(field: str, value: Any) -> str:
    """An ISO 3166-1 alpha-2 country code (upper case)."""
    code = str(value or "").strip().upper()
    if code not in ISO_COUNTRIES:
        raise FieldError(field, f"{value!r} is not an ISO 3166-1 alpha-2 country code")
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
            raise FieldError(field, f"{value!r} is not an ISO 3166-2:RO county code (RO-B, RO-CJ, ...)")
    elif not re.fullmatch(r"[A-Z]{2}-[A-Z0-9]{1,3}", code):
        raise FieldError(field, f"{value!r} is not an ISO 3166-2 subdivision code")
    return code


def bucharest_city(field: str, city: str, county_code: str | None) -> str:
    """In RO-B the city must be SECTOR1..SECTOR6 (CIUS-RO BR-RO-100)."""
    if county_code == "RO-B":
        normalized = city.upper().replace(" ", "")
        if normalized not in BUCHAREST_SECTORS:
            raise FieldError(field, "in Bucharest (RO-B) the city must be SECTOR1 to SECTOR6")
        return normalized
    return city


def cui(field: str, value: Any) -> str:
    """Romanian fiscal code: digits only, check key 753217532 (stdnum.ro.cui)."""
    try:
        return str(stdnum_cui.validate(str(value)))
    except StdnumError as exc:
        raise FieldError(field, f"{value!r} is not a valid Romanian CUI ({exc})") from None


def cnp(field: str, value: Any) -> str:
    """Romanian personal numeric code with a valid date and check digit."""
    try:
        return str(stdnum_cnp.validate(str(value)))
    except StdnumError as exc:
        raise FieldError(field, f"{value!r} is not a valid CNP ({exc})") from None


def vat_id(field: str, value: Any) -> str:
    """An EU VAT identifier with country prefix, syntax and check digits (not VIES)."""
    try:
        return str(stdnum_vat.validate(str(value)))
    except StdnumError as exc:
        raise FieldError(field, f"{value!r} is not a valid EU VAT number ({exc})") from None


def iban(field: str, value: Any) -> str:
    """An IBAN with a valid checksum, compact form."""
    try:
        return str(stdnum_iban.validate(str(value)))
    except StdnumError as exc:
        raise FieldError(field, f"{value!r} is not a valid IBAN ({exc})") from None


def configured_max_amount() -> int:
    """``PRAHO_MAX_AMOUNT_MINOR`` of the current app, or the default outside an app."""
    from flask import current_app, has_app_context

    if has_app_context():
        return int(current_app.config.get("MAX_AMOUNT_MINOR", DEFAULT_MAX_AMOUNT_MINOR))
    return DEFAULT_MAX_AMOUNT_MINOR


def amount_minor(field: str, value: Any, *, max_abs: int | None = None,
                 allow_negative: bool = False) -> int:
    """An integer of minor units within +/- ``max_abs`` (default: the configured bound)."""
    max_abs = configured_max_amount() if max_abs is None else max_abs
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, "must be an integer number of minor units (e.g. 1999 for 19.99)")
    if value < 0 and not allow_negative:
        raise FieldError(field, "must not be negative")
    if abs(value) > max_abs:
        raise FieldError(field, f"{value} exceeds the limit of {max_abs} minor units")
    return value


def decimal(field: str, value: Any, *, places: int, minimum: Decimal | None = None,
            maximum: Decimal | None = None) -> Decimal:
    """A Decimal from str/int/Decimal (never float) with at most ``places`` decimals."""
    if isinstance(value, float):
        raise FieldError(field, "must be given as a string or integer, not a float")
    if isinstance(value, bool):
        raise FieldError(field, "must be a number")
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise FieldError(field, f"{value!r} is not a number") from None
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


def rate_percent(field: str, value: Any) -> Decimal:
    """A percentage 0..100 with at most 4 decimals."""
    return decimal(field, value, places=4, minimum=Decimal(0), maximum=Decimal(100))


def iso_date(field: str, value: Any, *, earliest: date = date(2000, 1, 1),
             latest: date = date(2100, 12, 31)) -> date:
    """A date (or ISO string) inside a sane window."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise FieldError(field, f"{value!r} is not a date (YYYY-MM-DD)") from None
    if not isinstance(value, date):
        raise FieldError(field, "must be a date (YYYY-MM-DD)")
    if not earliest <= value <= latest:
        raise FieldError(field, f"{value.isoformat()} is outside {earliest}..{latest}")
    return value


def choice(field: str, value: Any, options: Any) -> str:
    """One of a fixed set of values (an enum's values or any iterable of strings)."""
    allowed = [str(o) for o in options]
    if str(value) not in allowed:
        raise FieldError(field, f"{value!r} is not one of {', '.join(allowed)}")
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
