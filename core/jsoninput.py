"""JSON from outside (imports, APIs, webhooks), parsed defensively.

Two entry points:

* :func:`parse_limited` for hot paths (webhooks, usage API): the C parser with a size
  limit, a nesting-depth limit, duplicate keys refused and numbers kept exact
  (``Decimal``, never ``float``).
* :func:`parse_with_positions` for files people edit (imports): the same rules, plus
  the line and column of every value, so an error can say "line 14, column 9".

Both refuse, with :class:`JSONInputError` (a :class:`~praho.core.errors.PrahoError`, so a
web layer answers 400 with the reason): bodies over the size limit, input that is not
UTF-8, nesting deeper than the limit, duplicate keys, ``NaN``/``Infinity``, numbers
written with more than 100 characters (Python would otherwise spend its time on a
million-digit integer), and strings holding NUL or a lone UTF-16 surrogate (PostgreSQL
cannot store either, and no honest sender produces them). Unknown fields are the
caller's business: each consumer lists the fields it accepts (see the importer).
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from praho.core.errors import PrahoError

Path = tuple[str | int, ...]
# The JSON number grammar (RFC 8259 section 6).
_NUMBER = re.compile(r"(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?")
MAX_NUMBER_LENGTH = 100
MAX_FILE_BYTES = 50 * 1_048_576
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


class JSONInputError(PrahoError, ValueError):
    """The input is not acceptable JSON; ``line``/``column`` locate it when known."""

    code = "invalid_json"

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"{where}{reason}")
        self.reason = reason
        self.line = line
        self.column = column


def _check_string(text: str) -> None:
    if _UNSTORABLE.search(text):
        raise JSONInputError("a string contains NUL or a lone UTF-16 surrogate (\\u0000, \\ud800)")


def _number_text(text: str) -> str:
    if len(text) > MAX_NUMBER_LENGTH:
        raise JSONInputError(f"a number is written with more than {MAX_NUMBER_LENGTH} characters")
    return text


def _parse_int(text: str) -> int:
    return int(_number_text(text))


def _parse_decimal(text: str) -> Decimal:
    return Decimal(_number_text(text))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JSONInputError(f"duplicate key {_short(key)}")
        result[key] = value
    return result


def _short(key: str) -> str:
    shown = repr(key)
    return shown if len(shown) <= 60 else shown[:60] + "..."


def _reject_constant(name: str) -> Any:
    raise JSONInputError(f"{name} is not allowed")


def _walk(value: Any, limit: int) -> None:
    """Check the depth limit and every key and string of a parsed value (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise JSONInputError(f"nesting deeper than {limit} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                _check_string(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str):
            _check_string(item)


def parse_limited(raw: bytes | str, *, max_bytes: int = 1_048_576, max_depth: int = 32,
                  decimals_as_text: bool = False) -> Any:
    """Parse JSON with a size limit, a depth limit, no duplicate keys and exact numbers.

    Fractional numbers become ``Decimal``, or with ``decimals_as_text`` the ``str`` of
    that ``Decimal`` (for documents stored as JSON again, such as webhook payloads).
    """
    decoded = False
    if isinstance(raw, bytes | bytearray | memoryview):
        if len(raw) > max_bytes:
            raise JSONInputError(f"body of {len(raw)} bytes exceeds the limit of {max_bytes}")
        try:
            raw = bytes(raw).decode("utf-8-sig")
            decoded = True
        except UnicodeDecodeError as exc:
            raise JSONInputError(f"body is not UTF-8 (byte {exc.start})") from None
    elif not isinstance(raw, str):
        raise JSONInputError(f"expected bytes or text, got {type(raw).__name__}")
    else:
        size = len(raw.encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            raise JSONInputError(f"body of {size} bytes exceeds the limit of {max_bytes}")
    try:
        value = json.loads(raw, object_pairs_hook=_no_duplicates,
                           parse_float=_decimal_text if decimals_as_text else _parse_decimal,
                           parse_int=_parse_int, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise JSONInputError(exc.msg, exc.lineno, exc.colno) from None
    except RecursionError:
        raise JSONInputError(f"nesting deeper than {max_depth} levels") from None
    if not _walk_needed(raw, max_depth, decoded):
        return value
    _walk(value, max_depth)
    return value


def _decimal_text(text: str) -> str:
    return str(_parse_decimal(text))


def _walk_needed(raw: str, max_depth: int, decoded: bool) -> bool:
    """False when the raw text already proves what :func:`_walk` checks (the usual case).

    Fewer opening brackets than the limit cannot nest deeper; no ``\\u`` escape and no
    NUL means no string holds NUL, and text decoded from UTF-8 holds no lone surrogate.
    Brackets and escapes inside strings only make the walk run when it need not.
    """
    if raw.count("{") + raw.count("[") >= max_depth:
        return True
    if "\\u" in raw or "\x00" in raw:
        return True
    return not decoded and not raw.isascii()


@dataclass
class Positioned:
    """A parsed document and the (line, column) of every value by its path."""

    value: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of the value at ``path``, or of its nearest located ancestor."""
        while True:
            if path in self.positions:
                return self.positions[path][0]
            if not path:
                return None
            path = path[:-1]


class _Parser:
    _WS = " \t\n\r"

    def __init__(self, text: str, max_depth: int) -> None:
        self.text = text
        self.i = 0
        self.max_depth = max_depth
        self.positions: dict[Path, tuple[int, int]] = {}
        self._newlines = [n for n, ch in enumerate(text) if ch == "\n"]

    def where(self, index: int) -> tuple[int, int]:
        line = bisect_right(self._newlines, index - 1)
        start = self._newlines[line - 1] + 1 if line else 0
        return line + 1, index - start + 1

    def fail(self, reason: str) -> JSONInputError:
        return JSONInputError(reason, *self.where(self.i))

    def skip(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in self._WS:
            self.i += 1

    def value(self, path: Path, depth: int) -> Any:
        if depth > self.max_depth:
            raise self.fail(f"nesting deeper than {self.max_depth} levels")
        self.skip()
        self.positions[path] = self.where(self.i)
        if self.i >= len(self.text):
            raise self.fail("unexpected end of input")
        ch = self.text[self.i]
        if ch == "{":
            return self.obj(path, depth)
        if ch == "[":
            return self.arr(path, depth)
        if ch == '"':
            return self.string()
        for literal, result in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(literal, self.i):
                self.i += len(literal)
                return result
        return self.number()

    def obj(self, path: Path, depth: int) -> dict[str, Any]:
        self.i += 1
        result: dict[str, Any] = {}
        self.skip()
        if self.text[self.i:self.i + 1] == "}":
            self.i += 1
            return result
        while True:
            self.skip()
            if self.text[self.i:self.i + 1] != '"':
                raise self.fail("expected a quoted key")
            key_at = self.i
            key = self.string()
            if key in result:
                self.i = key_at
                raise self.fail(f"duplicate key {_short(key)}")
            self.skip()
            if self.text[self.i:self.i + 1] != ":":
                raise self.fail("expected ':' after key")
            self.i += 1
            result[key] = self.value((*path, key), depth + 1)
            self.skip()
            ch = self.text[self.i:self.i + 1]
            self.i += 1
            if ch == "}":
                return result
            if ch != ",":
                self.i -= 1
                raise self.fail("expected ',' or '}'")

    def arr(self, path: Path, depth: int) -> list[Any]:
        self.i += 1
        result: list[Any] = []
        self.skip()
        if self.text[self.i:self.i + 1] == "]":
            self.i += 1
            return result
        while True:
            result.append(self.value((*path, len(result)), depth + 1))
            self.skip()
            ch = self.text[self.i:self.i + 1]
            self.i += 1
            if ch == "]":
                return result
            if ch != ",":
                self.i -= 1
                raise self.fail("expected ',' or ']'")

    def string(self) -> str:
        decoder = json.decoder.scanstring
        start = self.i
        try:
            text, end = decoder(self.text, self.i + 1, True)
        except json.JSONDecodeError as exc:
            self.i = exc.pos
            raise self.fail(exc.msg) from None
        if _UNSTORABLE.search(text):
            self.i = start
            raise self.fail("a string contains NUL or a lone UTF-16 surrogate")
        self.i = end
        return text

    def number(self) -> int | Decimal:
        match = _NUMBER.match(self.text, self.i)
        if not match or match.end() == self.i:
            raise self.fail(f"unexpected character {self.text[self.i]!r}")
        if match.end() - self.i > MAX_NUMBER_LENGTH:
            raise self.fail(f"a number is written with more than {MAX_NUMBER_LENGTH} characters")
        integer, fraction, exponent = match.groups()
        self.i = match.end()
        if fraction or exponent:
            return Decimal(integer + (fraction or "") + (exponent or ""))
        return int(integer)


def parse_with_positions(raw: bytes | str, *, max_bytes: int = MAX_FILE_BYTES,
                         max_depth: int = 32) -> Positioned:
    """Parse JSON remembering where each value starts (for line-precise errors)."""
    if isinstance(raw, bytes | bytearray | memoryview):
        if len(raw) > max_bytes:
            raise JSONInputError(f"file of {len(raw)} bytes exceeds the limit of {max_bytes}")
        try:
            raw = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JSONInputError(f"not UTF-8 at byte {exc.start}") from None
    elif not isinstance(raw, str):
        raise JSONInputError(f"expected bytes or text, got {type(raw).__name__}")
    elif len(raw.encode("utf-8", "surrogatepass")) > max_bytes:
        raise JSONInputError(f"input exceeds the limit of {max_bytes} bytes")
    parser = _Parser(raw, max_depth)
    value = parser.value((), 1)
    parser.skip()
    if parser.i != len(raw):
        raise parser.fail("extra data after the JSON document")
    return Positioned(value, parser.positions)
