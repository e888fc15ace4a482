"""Keeping secrets and card data out of logs and out of the payload copies we store.

* :func:`redact_text` replaces every known secret value (registered from the
  configuration and the plugin settings at start-up) and every well-known secret shape:
  Stripe keys (``sk_live_``, ``rk_live_``), webhook signing secrets (``whsec_``), Stripe
  client secrets, ``Bearer``/``Basic`` credentials, JWTs, PayPal access tokens, passwords
  in URLs, ``password=...``/``"client_secret": "..."`` pairs, PEM private keys and card
  numbers (Luhn-checked, issuer prefixes only, so timestamps and invoice numbers stay).
* :func:`install_log_redaction` (called by ``create_app``) wraps the process's log-record
  factory, so every record of every logger, traceback text included, is redacted before
  any handler sees it. :class:`RedactingFilter` does the same for a handler configured
  outside PRAHO (gunicorn's, for example).
* :func:`redact_payload` returns a copy of a JSON-like document (a webhook body, a gateway
  response) with secret-named fields, card verification data, personal data an invoice
  does not need and secret-shaped strings replaced, for storing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

REDACTED = "[REDACTED]"
REDACTED_PAN = "[REDACTED-PAN]"
MIN_SECRET_LENGTH = 8

# Names of settings, fields and headers whose values are secrets.
SECRET_NAME = re.compile(
    r"secret|passw|pwd|token|api[_-]?key|apikey|private[_-]?key|signing[_-]?key|"
    r"authorization|credential|cookie|session[_-]?id",
    re.IGNORECASE,
)
# Setting names that must never hold a literal value in a committed file (the manifest).
SECRET_SETTING_NAME = re.compile(
    r"secret|passw|api[_-]?key|private[_-]?key|signing[_-]?key|token[_-]?key|"
    r"access[_-]?token|refresh[_-]?token|credential",
    re.IGNORECASE,
)
# Card verification data and personal data a stored payload never needs (PCI DSS 3.2:
# no CVC/track/PIN after authorization; GDPR: keep only what the invoice needs).
CARD_FIELDS = frozenset({"cvc", "cvv", "cvv2", "cvc2", "cid", "security_code", "card_number",
                         "cardnumber", "pan", "track1", "track2", "track_data", "pin",
                         "pin_block"})
PERSONAL_FIELDS = frozenset({"ip", "ip_address", "client_ip", "customer_ip", "remote_addr",
                             "user_agent", "date_of_birth", "dob", "birth_date", "birthdate",
                             "ssn", "national_id", "passport_number"})
# Settings that never hold secrets even though their names match SECRET_NAME.
NOT_SECRET_SETTINGS = frozenset({"SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
                                 "SESSION_COOKIE_SAMESITE", "SESSION_COOKIE_NAME",
                                 "SESSION_COOKIE_DOMAIN", "SESSION_COOKIE_PATH",
                                 "REMEMBER_COOKIE_NAME", "WTF_CSRF_ENABLED"})

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
                re.DOTALL), "-----[REDACTED PRIVATE KEY]-----"),
    (re.compile(r"((?:sk|rk)_(?:live|test)_)[A-Za-z0-9]{6,}"), r"\1" + REDACTED),
    (re.compile(r"(whsec_)[A-Za-z0-9+/=_-]{6,}"), r"\1" + REDACTED),
    (re.compile(r"((?:pi|seti|pm|src|cs)_[A-Za-z0-9]+_secret_)[A-Za-z0-9]+"), r"\1" + REDACTED),
    (re.compile(r"\b(Bearer|Basic|Token|Digest)(\s+)[A-Za-z0-9._~+/=:-]{6,}", re.IGNORECASE),
     r"\1\2" + REDACTED),
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"A21AA[A-Za-z0-9_-]{16,}"), REDACTED),
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:/@]*:)([^\s@/]+)@"),
     r"\1" + REDACTED + "@"),
    (re.compile(
        r"""(?ix)
        (?<![a-z0-9_-])            # start at the beginning of a name: linear, not quadratic
        (["']?[a-z0-9_-]*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key|signing[_-]?key)
        [a-z0-9_-]*["']?)          # the name, quoted or not
        (\s*[:=]\s*)               # = or :
        (?!\[REDACTED)             # not already redacted
        (["']?)([^\s"'&,;}\]]+)    # the value
        """), r"\1\2\3" + REDACTED),
]
# Runs of digit groups; _pan() finds a card number inside (windows start at a separator).
_PAN = re.compile(r"(?<![A-Za-z0-9_])\d(?:[ -]?\d){12,}(?![A-Za-z0-9_])")
# What every pattern above needs in order to match an ASCII text (lower-cased words, as
# the case-insensitive patterns ignore case): a text without any of them is returned as
# it is after a few substring checks instead of eleven substitutions. Stored webhook
# payloads hold dozens of strings, so this is most of the cost of redacting them.
# Non-ASCII text always takes the full path (Unicode case folding makes "ı" match "i").
# When you add a pattern, add here what it cannot match without
# (tests/security/test_redaction.py checks that both paths agree).
_TRIGGER_WORDS = ("-----begin ", "k_live_", "k_test_", "whsec_", "_secret_", "bearer", "basic",
                  "token", "digest", "://", "password", "passwd", "secret", "api_key", "api-key",
                  "apikey", "private_key", "private-key", "privatekey", "signing_key",
                  "signing-key", "signingkey")
_TRIGGER_EXACT = ("eyJ", "A21AA")
_DIGIT_RUN = re.compile(r"[0-9](?:[ -]?[0-9]){12}")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _pan(match: re.Match[str]) -> str:
    """Redact a Luhn-valid card number (13-19 digits, issuer prefix 2-6) inside the match.

    The match may carry neighbouring digit groups ("2 4242 4242 4242 4242 0"): windows
    starting at the match or after a separator are tried, longest first.
    """
    text = match.group(0)
    positions = [index for index, char in enumerate(text) if char.isdigit()]
    digits = "".join(text[index] for index in positions)
    for start, at in enumerate(positions):
        if at and text[at - 1] not in " -" or digits[start] not in "23456":
            continue
        for length in range(min(len(digits) - start, 19), 12, -1):
            if _luhn_ok(digits[start:start + length]):
                end = positions[start + length - 1] + 1
                return text[:at] + REDACTED_PAN + text[end:]
    return text


_CLEAN_CACHE_LENGTH = 64
_CLEAN_CACHE_SIZE = 4096


class Redactor:
    """Known secret values plus the secret patterns; thread-safe registration."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._known: re.Pattern[str] | None = None
        self._ordered: tuple[str, ...] = ()
        self._lock = threading.Lock()
        # Short strings the quick check passed: payloads repeat most of theirs ("ron",
        # "charge.dispute.created", "warning_needs_response"). Emptied whenever a secret
        # is added; the generation keeps a check begun before that from adding to it after.
        self._clean: set[str] = set()
        self._generation = 0

    def add_secret(self, value: Any) -> None:
        """Remember a secret value (strings shorter than 8 characters are too common)."""
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                ordered = sorted(self._values, key=len, reverse=True)
                self._known = re.compile("|".join(re.escape(v) for v in ordered))
                self._ordered = tuple(ordered)
                self._generation += 1
                self._clean = set()

    def add_secrets(self, values: Iterable[Any]) -> None:
        """Remember several secret values."""
        for value in values:
            self.add_secret(value)

    def redact(self, text: str) -> str:
        """``text`` with every known secret and secret-shaped substring replaced."""
        # The set is taken before the generation: if add_secret replaces both meanwhile,
        # this text goes to the discarded set or, seen as stale, nowhere.
        clean = self._clean
        if not text or text in clean:
            return text
        generation = self._generation
        if self._may_hold_secret(text):
            return self.redact_fully(text)
        if len(text) <= _CLEAN_CACHE_LENGTH and generation == self._generation:
            if len(clean) >= _CLEAN_CACHE_SIZE:
                clean.clear()  # bounded: the strings come from outside
            clean.add(text)
        return text

    def _may_hold_secret(self, text: str) -> bool:
        """False only when no known secret and no pattern can match ``text``."""
        if not text.isascii():
            return True
        # Plain loops: this runs for every string of every stored payload.
        for value in self._ordered:
            if value in text:
                return True
        lowered = text.lower()
        for word in _TRIGGER_WORDS:
            if word in lowered:
                return True
        for word in _TRIGGER_EXACT:
            if word in text:
                return True
        return _DIGIT_RUN.search(text) is not None

    def redact_fully(self, text: str) -> str:
        """:meth:`redact` without the quick check (the reference the check is tested against)."""
        known = self._known
        if known is not None:
            text = known.sub(REDACTED, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return _PAN.sub(_pan, text)


REDACTOR = Redactor()


def redact_text(text: str) -> str:
    """``text`` with secrets replaced by ``[REDACTED]`` (see the module docstring)."""
    return REDACTOR.redact(text)


def url_password(url: Any) -> str | None:
    """The password part of a URL such as ``postgresql://user:pw@host/db``, if any."""
    if not isinstance(url, str) or "://" not in url:
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def secret_values(settings: Mapping[str, Any]) -> list[str]:
    """Secret values in a settings mapping: secret-named keys, URL passwords, nested tables."""
    found: list[str] = []
    for key, value in settings.items():
        name = str(key)
        if isinstance(value, Mapping):
            found += secret_values(value)
        elif isinstance(value, str):
            if SECRET_NAME.search(name) and name.upper() not in NOT_SECRET_SETTINGS:
                found.append(value)
            password = url_password(value)
            if password:
                found.append(password)
    return found


# --- logging ----------------------------------------------------------------

_FORMATTER = logging.Formatter()
_installed_lock = threading.Lock()
_installed = False


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a record in place: message (arguments merged in), traceback and stack."""
    if getattr(record, "_praho_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string must not hide the record
        message = f"{record.msg!s} {record.args!r}"
    record.msg = REDACTOR.redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = _FORMATTER.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = REDACTOR.redact(record.exc_text)
    if record.stack_info:
        record.stack_info = REDACTOR.redact(record.stack_info)
    record._praho_redacted = True
    return record


class RedactingFilter(logging.Filter):
    """A handler filter that redacts every record (for handlers configured outside PRAHO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact and keep the record."""
        redact_record(record)
        return True


def install_log_redaction(secrets: Iterable[Any] = ()) -> None:
    """Register secret values and make every log record of the process redacted.

    Idempotent: the record factory is wrapped once per process; later calls only add
    secrets (several apps in one process, as in the tests, share the registry).
    """
    global _installed
    REDACTOR.add_secrets(secrets)
    with _installed_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True


# --- payload copies -----------------------------------------------------------

MAX_PAYLOAD_DEPTH = 64


def redact_payload(payload: Any, *, keep: Iterable[str] = ()) -> Any:
    """A redacted deep copy of a JSON-like value, fit for storing (webhook bodies, gateway
    responses).

    Secret-named fields, card verification and track data and personal data an invoice
    does not need become ``[REDACTED]``; strings holding secrets or card numbers are
    redacted in place. ``keep`` lists field names to leave untouched (e.g. ``"token_type"``).
    Containers nested deeper than 64 levels are replaced whole.
    """
    kept = frozenset(k.lower() for k in keep)
    return _redact_value(payload, kept, 0)


def _field_is_sensitive(name: str, kept: frozenset[str]) -> bool:
    lowered = name.lower()
    if lowered in kept:
        return False
    return _name_is_sensitive(lowered)


def _name_is_sensitive(lowered: str) -> bool:
    # Remembered per field name by _redact_mapping (_KEY_VERDICTS), not here.
    return bool(SECRET_NAME.search(lowered)) or lowered in CARD_FIELDS or lowered in PERSONAL_FIELDS


def _redact_value(value: Any, kept: frozenset[str], depth: int) -> Any:
    if depth > MAX_PAYLOAD_DEPTH:
        return REDACTED
    kind = type(value)
    # Exact types first: parsed JSON is only these, and the ABC checks below cost more.
    if kind is str:
        return REDACTOR.redact(value)
    if kind is int or kind is bool or kind is float or value is None:
        return value
    if isinstance(value, Mapping):
        return _redact_mapping(value, kept, depth)
    if isinstance(value, list | tuple):
        return [_redact_value(item, kept, depth + 1) for item in value]
    if isinstance(value, str):
        return REDACTOR.redact(value)
    return value


# _field_is_sensitive by field name as sent, without ``keep``: gateways send the same few
# hundred names over and over, and a dictionary lookup costs less than a call and a
# lower-casing per field. Bounded, as names come from outside: once full, new names are
# judged each time.
_KEY_VERDICTS: dict[str, bool] = {}
_KEY_VERDICTS_SIZE = 4096


def _redact_mapping(value: Mapping[Any, Any], kept: frozenset[str], depth: int) -> dict[Any, Any]:
    # _redact_value for each item, with the common leaves (strings, numbers, None) handled
    # here rather than by a call each: this runs for every field of every stored payload.
    result: dict[Any, Any] = {}
    redact = REDACTOR.redact
    child_depth = depth + 1
    for key, item in value.items():
        if isinstance(key, str):
            sensitive = None if kept else _KEY_VERDICTS.get(key)
            if sensitive is None:
                sensitive = _field_is_sensitive(key, kept)
                if not kept and len(_KEY_VERDICTS) < _KEY_VERDICTS_SIZE:
                    _KEY_VERDICTS[key] = sensitive
            if sensitive and item not in (None, ""):
                result[key] = REDACTED
                continue
        kind = type(item)
        if child_depth > MAX_PAYLOAD_DEPTH:
            result[key] = REDACTED
        elif kind is str:
            result[key] = redact(item)
        elif kind is int or kind is bool or kind is float or item is None:
            result[key] = item
        else:
            result[key] = _redact_value(item, kept, child_depth)
    return result
