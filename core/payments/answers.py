"""Reading gateways' answers defensively: a result we keep is storable, or the outcome is unknown.

A gateway's answer is input like any other. :func:`readable_answer` wraps the code that
turns an answer into a :class:`GatewayResult`: if the answer has the wrong shape (a list
where an object was expected, text where a number was, a missing id), the call may still
have acted at the gateway, so the only honest result is :class:`OutcomeUnknown` (settled
later by asking), never a decline and never a success. :func:`checked_result` then proves
every field the core stores is within bounds: amounts and fees through
``v.amount_minor``, currencies through ``v.currency``, references and codes as bounded
text without control characters, timestamps as aware datetimes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from decimal import DecimalException
from typing import Any, TypeVar

from praho.core import validation as v
from praho.core.errors import PrahoError
from praho.core.payments.gateway import GatewayError, GatewayResult, OutcomeUnknown

T = TypeVar("T")
_REFERENCE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:")
# What misreading a hostile answer raises; anything else is a bug and must surface.
_UNREADABLE = (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError,
               DecimalException, RecursionError, PrahoError)


@contextmanager
def readable_answer(gateway: str, operation: str) -> Iterator[None]:
    """Turn a failure to read an answer into :class:`OutcomeUnknown` (never a crash)."""
    try:
        yield
    except GatewayError:
        raise
    except _UNREADABLE as exc:
        raise OutcomeUnknown(
            f"{gateway} {operation}: unreadable answer ({type(exc).__name__}); settle by asking",
            code="unreadable_answer",
        ) from None


def read_answer(gateway: str, operation: str, build: Callable[[], T]) -> T:
    """``build()`` inside :func:`readable_answer`; a GatewayResult also goes through
    :func:`checked_result`."""
    with readable_answer(gateway, operation):
        result = build()
        if isinstance(result, GatewayResult):
            return checked_result(result)  # type: ignore[return-value]
        return result


def answer_reader(gateway: str, operation: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate a function that reads an answer: it returns checked results or raises
    :class:`OutcomeUnknown` (see :func:`read_answer`)."""

    def decorate(function: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            return read_answer(gateway, operation, lambda: function(*args, **kwargs))

        return wrapper

    return decorate


def reference(field: str, value: Any, *, required: bool = False) -> str | None:
    """A gateway id (``pi_...``, ``5O190127TN364715T``): 1-255 of letters, digits, ``_-.:``."""
    if value is None and not required:
        return None
    if type(value) is not str or not 0 < len(value) <= 255 \
            or not _REFERENCE_CHARS.issuperset(value):
        raise ValueError(f"{field}: not a gateway reference")
    return value


def checked_result(result: GatewayResult) -> GatewayResult:
    """``result`` with every stored field checked (ValueError/FieldError when one is unusable)."""
    amount = (None if result.amount_minor is None
              else v.amount_minor("amount_minor", result.amount_minor))
    fee = None if result.fee_minor is None else v.amount_minor("fee_minor", result.fee_minor)
    currency = None if result.currency is None else v.currency("currency", result.currency)
    if result.created_at is not None and (not isinstance(result.created_at, datetime)
                                          or result.created_at.tzinfo is None):
        raise ValueError("created_at: not an aware datetime")
    _check_storable(result.raw, depth=0)
    return replace(
        result,
        gateway_reference=reference("gateway_reference", result.gateway_reference),
        amount_minor=amount,
        fee_minor=fee,
        currency=currency,
        error_code=(None if result.error_code is None
                    else v.external_text(result.error_code, max_length=80)),
        error_message=(None if result.error_message is None
                       else v.external_text(result.error_message)),
        hard_decline=bool(result.hard_decline),
    )


def _check_storable(value: Any, *, depth: int) -> None:
    """The redacted answer kept on the attempt must be storable JSON (PostgreSQL jsonb)."""
    if depth > 32:
        raise ValueError("raw: nested too deeply")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("raw: NaN or infinity")
    if isinstance(value, str):
        if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
            raise ValueError("raw: NUL or lone surrogate in text")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(str(key), depth=depth + 1)
            _check_storable(item, depth=depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_storable(item, depth=depth + 1)
