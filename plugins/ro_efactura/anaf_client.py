"""The one module that talks to ANAF: OAuth2 at logincert.anaf.ro and the e-Factura REST API.

Every call maps ANAF's answers onto typed results and typed errors:

- :class:`AnafUnavailable`: nothing happened at ANAF (connection refused, connect
  timeout, 503, 429 as :class:`AnafRateLimited`); the same call may be made again.
- :class:`AnafOutcomeUnknown`: an upload left and its answer was lost (read timeout,
  reset connection, 500/502/504). Never upload again blindly: list the messages.
- :class:`AnafRejected`: ANAF answered with an error (ExecutionStatus="1", an
  ``Errors`` element, a JSON ``eroare``, HTTP 400).
- :class:`AnafAuthError`: 401/403, or the token endpoint refused the grant.

Tokens and the client secret are never logged; URLs logged here carry no secrets.

ANAF's answers are input from outside: bodies are read up to a size limit, XML goes
through :func:`praho.core.xmlinput.parse_untrusted_xml` (no entities, no DTD, no
network), JSON through :func:`praho.core.jsoninput.parse_limited`, the response zip
through :func:`praho.core.xmlinput.read_untrusted_zip` (zip-bomb limits), and every
value kept from an answer is checked (indexes are digits) or cleaned
(:func:`praho.core.validation.external_text`) before it reaches the database or a log.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import requests
from lxml import etree
from praho.core.jsoninput import JSONInputError, parse_limited
from praho.core.validation import external_text
from praho.core.xmlinput import (
    UntrustedXMLError,
    UntrustedZipError,
    ZipLimits,
    parse_untrusted_xml,
    read_untrusted_zip,
)
from praho.plugins.ro_efactura.errors import (
    AnafAuthError,
    AnafError,
    AnafOutcomeUnknown,
    AnafRateLimited,
    AnafRejected,
    AnafUnavailable,
)
from praho.plugins.ro_efactura.settings import EfacturaSettings
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

log = logging.getLogger("praho.efactura.anaf")

REFRESH_TOKEN_LIFETIME = timedelta(days=365)
DEFAULT_ACCESS_LIFETIME = timedelta(days=90)
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
QUOTA_MARKERS = ("s-au facut deja", "limita", "depasit")
# The list endpoints' "error" for an empty list: "Nu exista mesaje in ultimele N zile",
# "Nu exista mesaje in intervalul selectat".
NO_MESSAGES = "nu exista mesaje"
# listaMesajePaginatieFactura refuses a startTime older than 60 days and an endTime in
# the future; the margin keeps a window computed a moment before the request valid.
MAX_LIST_AGE = timedelta(days=60) - timedelta(minutes=5)
STATE_OK, STATE_NOK, STATE_PROCESSING = "ok", "nok", "in prelucrare"
STATE_NOT_TAKEN = "XML cu erori nepreluat de sistem"
# Limits for ANAF's answers: headers and JSON lists are small; a response zip holds one
# invoice (at most the 10 MB upload limit) and the Ministry's signature.
MAX_ANSWER_BYTES = 2 * 1024 * 1024
MAX_ARCHIVE_BYTES = 24 * 1024 * 1024
ARCHIVE_LIMITS = ZipLimits(max_bytes=MAX_ARCHIVE_BYTES, max_entries=8,
                           max_entry_bytes=12 * 1024 * 1024, max_total_bytes=24 * 1024 * 1024)
MAX_ERRORS = 200
MAX_MESSAGES = 10_000
MAX_TOKEN_LENGTH = 16 * 1024
_ANAF_ID = re.compile(r"\d{1,40}")


@dataclass(frozen=True)
class TokenSet:
    """An access token and its refresh token with their expiry instants."""

    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime

    def __repr__(self) -> str:
        return (
            f"TokenSet(access until {self.access_expires_at}, "
            f"refresh until {self.refresh_expires_at})"
        )


@dataclass(frozen=True)
class UploadReceipt:
    """ANAF accepted the file for processing under ``index`` (index_incarcare)."""

    index: str
    date_response: str | None = None


@dataclass(frozen=True)
class MessageStatus:
    """The answer of stareMesaj: ``state`` is ok, nok, in prelucrare, ... or None on error."""

    state: str | None
    download_id: str | None = None
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SpvMessage:
    """One entry of listaMesajeFactura."""

    id: str
    upload_index: str
    kind: str
    created: str
    cif: str
    details: str


@dataclass(frozen=True)
class ResponseArchive:
    """The zip of descarcare: the invoice (ok) or ANAF's error list (nok), plus the signature."""

    raw: bytes
    files: dict[str, bytes]
    errors: list[str]

    @property
    def signature(self) -> bytes | None:
        """The Ministry of Finance's XMLDSig file (its name contains "semnatura")."""
        return next(
            (data for name, data in self.files.items() if "semnatura" in name.lower()), None
        )

    @property
    def document(self) -> bytes | None:
        """The invoice or error XML (the file that is not the signature)."""
        return next(
            (data for name, data in self.files.items() if "semnatura" not in name.lower()), None
        )


@dataclass(frozen=True)
class RemoteValidation:
    """ANAF's own validator's verdict."""

    ok: bool
    messages: list[str]
    trace_id: str | None = None


class AnafClient:
    """ANAF's OAuth2 and e-Factura endpoints at the configured base URLs and timeout."""

    def __init__(self, settings: EfacturaSettings, http: requests.Session | None = None) -> None:
        self.settings = settings
        self.http = http or requests.Session()
        self.http.headers.setdefault("User-Agent", "PRAHO-Billing e-Factura")

    # --- OAuth2 -----------------------------------------------------------

    def authorize_url(self, state: str | None = None) -> str:
        """Where a person with the company's qualified certificate authorizes PRAHO (once)."""
        if not self.settings.client_id or not self.settings.redirect_uri:
            raise AnafAuthError(
                "set PRAHO_EFACTURA_CLIENT_ID and PRAHO_EFACTURA_REDIRECT_URI "
                "(from ANAF's OAuth application registration) first"
            )
        params = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": self.settings.redirect_uri,
            "token_content_type": "jwt",
        }
        if state:
            params["state"] = state
        return f"{self.settings.oauth_url.rstrip('/')}/authorize?{urlencode(params)}"

    def exchange_code(self, code: str, *, now: datetime) -> TokenSet:
        """Trade the authorization code from the redirect for access and refresh tokens."""
        return self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.settings.redirect_uri or "",
                "token_content_type": "jwt",
            },
            now=now,
        )

    def refresh_tokens(self, refresh_token: str, *, now: datetime) -> TokenSet:
        """A new access token (and refresh token) from a refresh token."""
        return self._token_request(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "token_content_type": "jwt",
            },
            now=now,
        )

    def _token_request(self, form: dict[str, str], *, now: datetime) -> TokenSet:
        if not self.settings.client_id or not self.settings.client_secret:
            raise AnafAuthError(
                "PRAHO_EFACTURA_CLIENT_ID and PRAHO_EFACTURA_CLIENT_SECRET are not set"
            )
        url = f"{self.settings.oauth_url.rstrip('/')}/token"
        try:
            response = self.http.post(
                url,
                data=form,
                timeout=self.settings.timeout_seconds,
                auth=(self.settings.client_id, self.settings.client_secret),
                stream=True,
            )
            _read_limited(response, MAX_ANSWER_BYTES, "token", AnafUnavailable)
        except requests.RequestException as exc:
            raise AnafUnavailable(
                f"ANAF token endpoint unreachable: {type(exc).__name__}"
            ) from None
        if response.status_code == 429:
            raise AnafRateLimited("ANAF token endpoint: too many requests", _retry_after(response))
        if response.status_code >= 500:
            raise AnafUnavailable(f"ANAF token endpoint answered HTTP {response.status_code}")
        body = _json(response)
        if response.status_code != 200 or "access_token" not in body:
            reason = _text(
                body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
            )
            raise AnafAuthError(
                f"ANAF refused the {form['grant_type']} grant: {reason}; "
                "authorize again with `praho efactura authorize`"
            )
        access_token = _token(body.get("access_token"), "access_token")
        refresh_token = (
            _token(body["refresh_token"], "refresh_token")
            if body.get("refresh_token")
            else form.get("refresh_token", "")
        )
        lifetime = _lifetime(body.get("expires_in"), DEFAULT_ACCESS_LIFETIME)
        refresh_lifetime = _lifetime(body.get("refresh_token_expires_in"), REFRESH_TOKEN_LIFETIME)
        return TokenSet(
            access_token=access_token,
            refresh_token=refresh_token,
            access_expires_at=now + lifetime,
            refresh_expires_at=now + refresh_lifetime,
        )

    # --- e-Factura --------------------------------------------------------

    def upload(
        self,
        xml: bytes,
        *,
        token: str,
        cif: str,
        standard: str,
        b2c: bool = False,
        extern: bool = False,
        self_billed: bool = False,
    ) -> UploadReceipt:
        """POST upload (or uploadb2c). Raises AnafOutcomeUnknown when the answer was lost."""
        if standard not in {"UBL", "CN"}:
            raise ValueError(f"standard must be UBL or CN, not {standard!r}")
        if len(xml) > MAX_UPLOAD_BYTES:
            raise AnafRejected("the XML is larger than ANAF's 10 MB upload limit")
        params = {"standard": standard, "cif": _numeric_cif(cif)}
        if extern:
            params["extern"] = "DA"
        if self_billed:
            params["autofactura"] = "DA"
        url = f"{self.settings.base_url}/{'uploadb2c' if b2c else 'upload'}"
        try:
            response = self.http.post(
                url,
                params=params,
                data=xml,
                headers=self._auth(token) | {"Content-Type": "text/plain"},
                timeout=self.settings.timeout_seconds,
                stream=True,
            )
            # The file has left: an answer we cannot read leaves the outcome unknown.
            _read_limited(response, MAX_ANSWER_BYTES, "upload", AnafOutcomeUnknown)
        except requests.RequestException as exc:
            if _never_connected(exc):
                raise AnafUnavailable(f"ANAF upload unreachable: {type(exc).__name__}") from None
            raise AnafOutcomeUnknown(
                f"ANAF upload sent but no answer ({type(exc).__name__}); the outcome is unknown"
            ) from None
        if response.status_code in (500, 502, 504):
            raise AnafOutcomeUnknown(
                f"ANAF upload answered HTTP {response.status_code} after the "
                "file was sent; the outcome is unknown"
            )
        self._raise_for_refusal(response, "upload")
        try:
            header = _xml(response, "upload")
        except AnafRejected as unreadable:
            raise AnafOutcomeUnknown(
                f"{unreadable.message}; the file was sent, so the outcome is unknown"
            ) from None
        errors = _error_messages(header)
        if header.get("ExecutionStatus") != "0" or not header.get("index_incarcare"):
            raise AnafRejected(
                "ANAF refused the upload: " + "; ".join(errors or ["no index returned"]), errors
            )
        index = header.get("index_incarcare", "")
        if not _ANAF_ID.fullmatch(index):
            raise AnafOutcomeUnknown(
                f"ANAF accepted the upload with an unreadable index {_text(index, 60)!r}; "
                "the outcome is unknown"
            )
        date_response = header.get("dateResponse")
        return UploadReceipt(
            index=index, date_response=_text(date_response, 40) if date_response else None
        )

    def message_status(self, upload_index: str, *, token: str) -> MessageStatus:
        """GET stareMesaj for an upload index."""
        response = self._get("stareMesaj", {"id_incarcare": upload_index}, token)
        header = _xml(response, "stareMesaj")
        errors = _error_messages(header)
        if errors and any(marker in e.lower() for e in errors for marker in QUOTA_MARKERS):
            raise AnafRateLimited("ANAF stareMesaj daily limit: " + "; ".join(errors))
        state = header.get("stare")
        download_id = header.get("id_descarcare")
        if download_id is not None and not _ANAF_ID.fullmatch(download_id):
            raise AnafRejected(
                f"ANAF stareMesaj returned an unreadable download id {_text(download_id, 60)!r}"
            )
        return MessageStatus(
            state=_text(state, 100) if state is not None else None,
            download_id=download_id,
            errors=errors,
        )

    def list_messages(
        self, cif: str, *, token: str, days: int, kind_filter: str | None = None
    ) -> list[SpvMessage]:
        """GET listaMesajeFactura for the last ``days`` (1-60) days."""
        params = {"zile": str(max(1, min(60, days))), "cif": _numeric_cif(cif)}
        if kind_filter:
            params["filtru"] = kind_filter
        response = self._get("listaMesajeFactura", params, token)
        if str(_json(response).get("eroare", "")).lower().startswith(NO_MESSAGES):
            return []
        body = _json_or_error(response, "listaMesajeFactura")
        return _messages(body, "listaMesajeFactura")

    def list_messages_page(
        self,
        cif: str,
        *,
        token: str,
        start: datetime,
        end: datetime,
        page: int = 1,
        kind_filter: str | None = None,
    ) -> tuple[list[SpvMessage], int]:
        """GET listaMesajePaginatieFactura (Unix milliseconds); returns (messages, pages)."""
        params = {
            "startTime": str(int(start.timestamp() * 1000)),
            "endTime": str(int(end.timestamp() * 1000)),
            "cif": _numeric_cif(cif),
            "pagina": str(page),
        }
        if kind_filter:
            params["filtru"] = kind_filter
        response = self._get("listaMesajePaginatieFactura", params, token)
        if str(_json(response).get("eroare", "")).lower().startswith(NO_MESSAGES):
            return [], 1
        body = _json_or_error(response, "listaMesajePaginatieFactura")
        pages = body.get("numar_total_pagini") or 1
        if isinstance(pages, bool) or not isinstance(pages, int) or not 1 <= pages <= MAX_MESSAGES:
            raise AnafRejected(
                f"ANAF listaMesajePaginatieFactura: numar_total_pagini {_text(pages, 40)!r} "
                "is not a page count"
            )
        return _messages(body, "listaMesajePaginatieFactura"), pages

    def list_messages_between(
        self,
        cif: str,
        *,
        token: str,
        start: datetime,
        end: datetime,
        kind_filter: str | None = None,
    ) -> list[SpvMessage]:
        """Every message from ``start`` to ``end``: all pages of listaMesajePaginatieFactura.

        The simple list answers only an error once the window holds more than 500
        messages, which a busy CUI reaches in days; the paginated list has no such limit
        and a larger daily quota (100,000 calls per CUI against 1,500). The window is
        narrowed to what ANAF accepts: at most 60 days back, not past our clock's now.
        """
        wall = datetime.now(UTC)
        start, end = max(start, wall - MAX_LIST_AGE), min(end, wall)
        if end <= start:
            return []
        messages, pages = self.list_messages_page(
            cif, token=token, start=start, end=end, kind_filter=kind_filter
        )
        for page in range(2, pages + 1):
            more, _ = self.list_messages_page(
                cif, token=token, start=start, end=end, page=page, kind_filter=kind_filter
            )
            messages += more
            if len(messages) >= MAX_MESSAGES * 10:
                raise AnafRejected(
                    f"ANAF listaMesajePaginatieFactura: more than {len(messages)} messages "
                    "between the upload and now; settle this document from SPV by hand"
                )
        return messages

    def download(self, download_id: str, *, token: str) -> ResponseArchive:
        """GET descarcare: the response zip (errors come back as JSON with HTTP 200)."""
        response = self._get("descarcare", {"id": download_id}, token, limit=MAX_ARCHIVE_BYTES)
        if not response.content.startswith(b"PK"):
            _json_or_error(response, "descarcare")
            raise AnafRejected("ANAF descarcare returned something other than a zip")
        return parse_archive(response.content)

    def validate(self, xml: bytes, *, standard: str = "FACT1") -> RemoteValidation:
        """ANAF's public validator (validare/FACT1 or validare/FCN); needs no token."""
        url = f"{self.settings.validate_url.rstrip('/')}/validare/{standard}"
        try:
            response = self.http.post(
                url,
                data=xml,
                headers={"Content-Type": "text/plain"},
                timeout=self.settings.timeout_seconds,
                stream=True,
            )
            _read_limited(response, MAX_ANSWER_BYTES, "validare", AnafUnavailable)
        except requests.RequestException as exc:
            raise AnafUnavailable(f"ANAF validator unreachable: {type(exc).__name__}") from None
        self._raise_for_refusal(response, "validare")
        body = _json(response)
        entries = body.get("Messages") or []
        if not isinstance(entries, list):
            raise AnafRejected("ANAF validare: Messages is not a list")
        messages = [
            _text(m.get("message", "") if isinstance(m, dict) else m, 1000)
            for m in entries[:MAX_ERRORS]
        ]
        trace_id = body.get("trace_id")
        return RemoteValidation(
            ok=body.get("stare") == "ok",
            messages=messages,
            trace_id=_text(trace_id, 100) if trace_id is not None else None,
        )

    # --- plumbing ---------------------------------------------------------

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def _get(
        self, endpoint: str, params: dict[str, str], token: str, *, limit: int = MAX_ANSWER_BYTES
    ) -> requests.Response:
        url = f"{self.settings.base_url}/{endpoint}"
        try:
            response = self.http.get(
                url,
                params=params,
                headers=self._auth(token),
                timeout=self.settings.timeout_seconds,
                stream=True,
            )
            _read_limited(response, limit, endpoint, AnafRejected)
        except requests.RequestException as exc:
            raise AnafUnavailable(f"ANAF {endpoint} unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise AnafUnavailable(f"ANAF {endpoint} answered HTTP {response.status_code}")
        self._raise_for_refusal(response, endpoint)
        return response

    @staticmethod
    def _raise_for_refusal(response: requests.Response, endpoint: str) -> None:
        status = response.status_code
        if status == 429:
            raise AnafRateLimited(
                f"ANAF {endpoint}: too many requests (HTTP 429)", _retry_after(response)
            )
        if status == 503:
            raise AnafUnavailable(f"ANAF {endpoint} answered HTTP 503")
        if status in (401, 403):
            raise AnafAuthError(f"ANAF {endpoint} refused the token (HTTP {status})")
        if status == 400:
            body = _json(response)
            raise AnafRejected(f"ANAF {endpoint}: {_text(body.get('message') or 'bad request')}")
        if status != 200:
            raise AnafUnavailable(f"ANAF {endpoint} answered HTTP {status}")


def parse_archive(raw: bytes) -> ResponseArchive:
    """Open a descarcare zip (within zip-bomb limits) and read ANAF's error list if any."""
    try:
        files = read_untrusted_zip(raw, limits=ARCHIVE_LIMITS, what="ANAF's response archive")
    except UntrustedZipError as error:
        raise AnafRejected(error.message) from None
    errors: list[str] = []
    for name, data in files.items():
        if "semnatura" in name.lower():
            continue
        try:
            root = parse_untrusted_xml(data, max_bytes=ARCHIVE_LIMITS.max_entry_bytes,
                                       what=f"ANAF archive entry {name!r}")
        except UntrustedXMLError:
            continue
        if "mesajEroriFactuta" in (etree.QName(root).namespace or ""):
            errors += [_text(e.get("errorMessage", ""), 1000) for e in root.iter("{*}Error")]
    return ResponseArchive(raw=raw, files=files, errors=errors[:MAX_ERRORS])


def _read_limited(
    response: requests.Response, limit: int, endpoint: str, error: type[AnafError]
) -> None:
    """Read a streamed answer, refusing more than ``limit`` bytes; requests then serves
    ``.content`` and ``.json()`` from what was read."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise error(f"ANAF {endpoint} answered {declared} bytes; the limit is {limit}")
    body = bytearray()
    for chunk in response.iter_content(chunk_size=64 * 1024):
        body += chunk
        if len(body) > limit:
            response.close()
            raise error(f"ANAF {endpoint} answered more than {limit} bytes")
    response._content = bytes(body)
    response._content_consumed = True


def _never_connected(exc: requests.RequestException) -> bool:
    """True when the request provably never reached ANAF (refused, DNS, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


def _numeric_cif(cif: str) -> str:
    digits = cif.upper().removeprefix("RO").strip()
    if not digits.isdigit():
        raise ValueError(f"CIF {cif!r} is not numeric")
    return digits


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = parse_limited(response.content, max_bytes=MAX_ARCHIVE_BYTES)
    except JSONInputError:
        return {}
    return body if isinstance(body, dict) else {}


def _json_or_error(response: requests.Response, endpoint: str) -> dict[str, Any]:
    body = _json(response)
    if not body:
        raise AnafRejected(f"ANAF {endpoint} answered something that is not JSON")
    if body.get("eroare"):
        message = _text(body["eroare"], 1000)
        if any(marker in message.lower() for marker in QUOTA_MARKERS):
            raise AnafRateLimited(f"ANAF {endpoint}: {message}")
        raise AnafRejected(f"ANAF {endpoint}: {message}", [message])
    return body


def _xml(response: requests.Response, endpoint: str) -> etree._Element:
    try:
        return parse_untrusted_xml(
            response.content, max_bytes=MAX_ANSWER_BYTES, what=f"ANAF {endpoint} answer"
        )
    except UntrustedXMLError as error:
        raise AnafRejected(
            f"ANAF {endpoint} answered something that is not usable XML ({error.message})"
        ) from None


def _error_messages(header: etree._Element) -> list[str]:
    return [
        _text(e.get("errorMessage", ""), 1000) for e in header.iter("{*}Errors")
    ][:MAX_ERRORS]


def _text(value: Any, max_length: int = 500) -> str:
    """A value from ANAF made safe to store and log (no control characters, bounded)."""
    return external_text(value, max_length=max_length)


def _token(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TOKEN_LENGTH \
            or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise AnafAuthError(f"ANAF's token endpoint returned an unusable {name}")
    return value


def _lifetime(value: Any, default: timedelta) -> timedelta:
    """``expires_in`` seconds from ANAF (a number or a numeric string), else the default."""
    if value is None or value == "":
        return default
    if isinstance(value, Decimal):
        if not value.is_finite() or value.adjusted() > 10 or value != value.to_integral_value():
            raise AnafAuthError("ANAF's token endpoint returned an unusable lifetime")
        value = int(value)
    text = str(value).strip()
    if not text.isdigit() or len(text) > 10:
        raise AnafAuthError(
            f"ANAF's token endpoint returned an unusable lifetime {_text(text, 40)!r}"
        )
    return timedelta(seconds=int(text))


def _messages(body: dict[str, Any], endpoint: str) -> list[SpvMessage]:
    entries = body.get("mesaje") or []
    if not isinstance(entries, list) or not all(isinstance(m, dict) for m in entries):
        raise AnafRejected(f"ANAF {endpoint}: mesaje is not a list of messages")
    return [_message(m) for m in entries[:MAX_MESSAGES]]


def _message(entry: dict[str, Any]) -> SpvMessage:
    return SpvMessage(
        id=_text(entry.get("id", ""), 40),
        upload_index=_text(entry.get("id_solicitare", ""), 40),
        kind=_text(entry.get("tip", ""), 100),
        created=_text(entry.get("data_creare", ""), 40),
        cif=_text(entry.get("cif", ""), 20),
        details=_text(entry.get("detalii", ""), 1000),
    )
