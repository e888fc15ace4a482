"""Typed errors. Each carries a reason a person can act on; HTTP/CLI layers map them."""

from __future__ import annotations

from collections.abc import Iterable


class PrahoError(Exception):
    """Base of every expected error; ``http_status`` tells web layers what to answer."""

    http_status = 400
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FieldError(PrahoError):
    """One field failed validation; ``field`` is a dotted path such as ``lines[2].quantity``."""

    code = "invalid"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ValidationFailed(PrahoError):
    """Several field errors at once, so a form or an import can show them all."""

    code = "validation_failed"

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(e.message for e in self.errors) or "invalid input")

    def prefixed(self, prefix: str) -> ValidationFailed:
        """The same errors with every field path prefixed (``customers[3].``)."""
        return ValidationFailed(FieldError(f"{prefix}{e.field}", e.reason) for e in self.errors)


class NotFound(PrahoError):
    """The object asked for does not exist."""

    http_status = 404
    code = "not_found"


class InvalidTransition(PrahoError):
    """A state machine refused a move (e.g. voiding a paid invoice)."""

    http_status = 409
    code = "invalid_transition"


class DocumentLocked(PrahoError):
    """Someone tried to change or delete an issued fiscal document."""

    http_status = 409
    code = "document_locked"


class LedgerError(PrahoError):
    """An unbalanced or otherwise invalid journal entry."""

    code = "ledger_error"


class AppendOnlyViolation(PrahoError):
    """An update or delete of an append-only record (journal, audit)."""

    http_status = 409
    code = "append_only"


class TaxDecisionError(PrahoError):
    """No tax decision could be made for a line (missing rate, unknown regime)."""

    code = "tax_decision"


class TaxDecisionPending(TaxDecisionError):
    """The decision must wait (VIES unavailable and the policy says wait)."""

    http_status = 503
    code = "tax_decision_pending"


class ExchangeRateUnavailable(PrahoError):
    """No usable exchange rate for a currency on a date."""

    http_status = 503
    code = "exchange_rate_unavailable"


class PluginError(PrahoError):
    """A plugin is missing, misconfigured, or depends on a plugin that is not loaded."""

    code = "plugin_error"


class IdempotencyConflict(PrahoError):
    """The same idempotency key was used with different parameters."""

    http_status = 409
    code = "idempotency_conflict"
