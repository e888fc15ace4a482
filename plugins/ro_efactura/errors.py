"""Typed errors of the e-Factura plugin; each says what a person can do about it."""

from __future__ import annotations

from praho.core.errors import InvalidTransition, PrahoError


class EfacturaError(PrahoError):
    """Base of the plugin's expected errors."""

    code = "efactura_error"


class NotReportable(EfacturaError):
    """The document cannot be expressed as an e-Factura (a draft, a proforma)."""

    http_status = 409
    code = "efactura_not_reportable"


class DocumentInvalid(EfacturaError):
    """The rendered XML failed XSD or schematron validation; it is never uploaded."""

    http_status = 422
    code = "efactura_invalid"

    def __init__(self, message: str, problems: list[object] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class SubmissionTransitionError(InvalidTransition):
    """The submission state machine refused a move."""


class AnafError(EfacturaError):
    """ANAF answered with an error, or could not be reached."""

    http_status = 502
    code = "anaf_error"


class AnafUnavailable(AnafError):
    """A 5xx, a refused connection or a timeout before the request left: safe to retry."""

    http_status = 503
    code = "anaf_unavailable"


class AnafOutcomeUnknown(AnafError):
    """The request left but no answer came back: ANAF may or may not have the upload."""

    http_status = 504
    code = "anaf_outcome_unknown"


class AnafRateLimited(AnafUnavailable):
    """HTTP 429 or a daily quota message: wait before calling again."""

    code = "anaf_rate_limited"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AnafAuthError(AnafError):
    """No usable OAuth token (missing, expired beyond refresh, or refused with 401/403)."""

    http_status = 401
    code = "anaf_auth"


class AnafRejected(AnafError):
    """ANAF refused the request itself (ExecutionStatus=1, an Errors element, a JSON eroare)."""

    http_status = 422
    code = "anaf_rejected"

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = list(errors or [])
