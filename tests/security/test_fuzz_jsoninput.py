"""Fuzzing praho.core.jsoninput: any bytes give a value or a JSONInputError, nothing else.

Both parsers (the fast one for webhooks and APIs, the positioned one for import files)
must agree on every document they accept, locate every value, and refuse the same
classes of hostile input: duplicate keys, NaN/Infinity, deep nesting, huge numbers,
NUL and lone surrogates, oversized bodies.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from praho.core.errors import PrahoError
from praho.core.jsoninput import (
    MAX_NUMBER_LENGTH,
    JSONInputError,
    parse_limited,
    parse_with_positions,
)
from praho.core.testing import fuzz_settings, fuzz_tried

safe_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                    max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | safe_text
    | st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-10**9,
                  max_value=10**9),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(safe_text, children, max_size=5),
    max_leaves=30,
)


def _dump(value: object) -> str:
    """JSON text of a value, Decimals written exactly (json.dumps would need floats)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_dump(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_dump(v)}"
                               for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def _normal(value: object) -> object:
    """Decimals compared by value (1.50 == 1.5), the rest as is."""
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


@fuzz_settings(factor=5)
@given(raw=st.binary(max_size=400)
       | st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_arbitrary_bytes_parse_or_raise_our_error(raw):
    fuzz_tried("jsoninput: arbitrary bytes (both parsers)")
    for parse in (parse_limited, lambda r: parse_with_positions(r).value):
        try:
            parse(raw)
        except JSONInputError as error:
            assert isinstance(error, PrahoError) and error.http_status == 400
            assert error.reason


@fuzz_settings(factor=5)
@given(value=json_values)
def test_both_parsers_agree_on_valid_documents(value):
    fuzz_tried("jsoninput: valid documents (parsers agree)")
    text = _dump(value)
    fast = parse_limited(text.encode("utf-8"))
    positioned = parse_with_positions(text)
    assert _normal(fast) == _normal(positioned.value) == _normal(value)
    # Every value has a position, and positions lie inside the document.
    lines = text.count("\n") + 1
    assert positioned.positions[()] == (1, 1) or text[0].isspace()
    assert all(1 <= line <= lines for line, _ in positioned.positions.values())


@fuzz_settings(factor=2)
@given(value=json_values, cut=st.integers(min_value=0, max_value=200),
       noise=st.sampled_from(["", ",", "}", "]", '"', "\\", "{", "[", ":", "-", "1e", "nul"]))
def test_damaged_documents_are_refused_with_a_position(value, cut, noise):
    fuzz_tried("jsoninput: damaged documents")
    text = _dump(value)
    damaged = text[: cut % (len(text) + 1)] + noise
    try:
        parse_with_positions(damaged)
    except JSONInputError as error:
        assert error.line is not None and error.line >= 1
    try:
        parse_limited(damaged)
    except JSONInputError:
        pass


@pytest.mark.parametrize("raw,reason", [
    ('{"a": 1, "a": 2}', "duplicate key"),
    ("[NaN]", "NaN|unexpected"),
    ("[Infinity]", "Infinity|unexpected"),
    ("[" * 40 + "]" * 40, "nesting deeper"),
    ("[" + "9" * (MAX_NUMBER_LENGTH + 1) + "]", "more than 100 characters"),
    ("[1." + "0" * MAX_NUMBER_LENGTH + "]", "more than 100 characters"),
    ('["\\u0000"]', "NUL"),
    ('{"\\ud800": 1}', "surrogate"),
    ('["\\udfff"]', "surrogate"),
])
def test_hostile_documents(raw, reason):
    for parse in (parse_limited, lambda r: parse_with_positions(r).value):
        with pytest.raises(JSONInputError, match=reason):
            parse(raw)


def test_size_limits_are_checked_before_parsing():
    with pytest.raises(JSONInputError, match="exceeds the limit of 10"):
        parse_limited(b"[" + b"1," * 10 + b"1]", max_bytes=10)
    with pytest.raises(JSONInputError, match="exceeds the limit of 10"):
        parse_with_positions(b"[" + b"1," * 10 + b"1]", max_bytes=10)
    with pytest.raises(JSONInputError, match="not UTF-8"):
        parse_limited("[1]".encode("utf-16"))


def test_numbers_stay_exact_and_never_float():
    assert parse_limited(b'{"a": 0.1, "b": 10}') == {"a": Decimal("0.1"), "b": 10}
    assert parse_with_positions('{"a": 0.1}').value == {"a": Decimal("0.1")}
