"""Typed errors of the grandfathering plugin."""

from __future__ import annotations

from praho.core.errors import PrahoError


class LockConflict(PrahoError):
    """A lock for the same customer, price and subscription is already in force."""

    http_status = 409
    code = "price_lock_conflict"


class LockNotActive(PrahoError):
    """The lock was revoked or has expired; it can no longer be changed."""

    http_status = 409
    code = "price_lock_not_active"
