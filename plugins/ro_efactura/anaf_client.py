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
"""

from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from lxml import etree
from praho.plugins.ro_efactura.errors import (
    AnafAuthError,
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
# listaMesajeFactura's "error" for an empty list: "Nu exista mesaje in ultimele N zile".
NO_MESSAGES = "nu exista mesaje"
STATE_OK, STATE_NOK, STATE_PROCESSING = "ok", "nok", "in prelucrare"
STATE_NOT_TAKEN = "XML cu erori nepreluat de sistem"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


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
            )
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
            reason = (
                body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
            )
            raise AnafAuthError(
                f"ANAF refused the {form['grant_type']} grant: {reason}; "
                "authorize again with `praho efactura authorize`"
            )
        lifetime = timedelta(
            seconds=int(body.get("expires_in") or DEFAULT_ACCESS_LIFETIME.total_seconds())
        )
        refresh_lifetime = (
            timedelta(seconds=int(body["refresh_token_expires_in"]))
            if body.get("refresh_token_expires_in")
            else REFRESH_TOKEN_LIFETIME
        )
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token") or form.get("refresh_token", ""),
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
            )
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
        header = _xml(response, "upload")
        errors = _error_messages(header)
        if header.get("ExecutionStatus") != "0" or not header.get("index_incarcare"):
            raise AnafRejected(
                "ANAF refused the upload: " + "; ".join(errors or ["no index returned"]), errors
            )
        return UploadReceipt(
            index=header.get("index_incarcare", ""), date_response=header.get("dateResponse")
        )

    def message_status(self, upload_index: str, *, token: str) -> MessageStatus:
        """GET stareMesaj for an upload index."""
        response = self._get("stareMesaj", {"id_incarcare": upload_index}, token)
        header = _xml(response, "stareMesaj")
        errors = _error_messages(header)
        if errors and any(marker in e.lower() for e in errors for marker in QUOTA_MARKERS):
            raise AnafRateLimited("ANAF stareMesaj daily limit: " + "; ".join(errors))
        return MessageStatus(
            state=header.get("stare"), download_id=header.get("id_descarcare"), errors=errors
        )

    def list_messages(
        self, cif: str, *, token: str, days: int, kind_filter: str | None = None
    ) -> list[SpvMessage]:
        """GET listaMesajeFactura for the last ``days`` (1-60) days."""
        params = {"zile": str(max(1, min(60, days))), "cif": _numeric_cif(cif)}
        if kind_filter:
            params["filtru"] = kind_filter
        response = self._get("listaMesajeFactura", params, token)
        if _json(response).get("eroare", "").lower().startswith(NO_MESSAGES):
            return []
        body = _json_or_error(response, "listaMesajeFactura")
        return [_message(m) for m in body.get("mesaje") or []]

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
        body = _json_or_error(
            self._get("listaMesajePaginatieFactura", params, token), "listaMesajePaginatieFactura"
        )
        return [_message(m) for m in body.get("mesaje") or []], int(
            body.get("numar_total_pagini") or 1
        )

    def download(self, download_id: str, *, token: str) -> ResponseArchive:
        """GET descarcare: the response zip (errors come back as JSON with HTTP 200)."""
        response = self._get("descarcare", {"id": download_id}, token)
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
            )
        except requests.RequestException as exc:
            raise AnafUnavailable(f"ANAF validator unreachable: {type(exc).__name__}") from None
        self._raise_for_refusal(response, "validare")
        body = _json(response)
        messages = [m.get("message", "") for m in body.get("Messages") or []]
        return RemoteValidation(
            ok=body.get("stare") == "ok", messages=messages, trace_id=body.get("trace_id")
        )

    # --- plumbing ---------------------------------------------------------

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def _get(self, endpoint: str, params: dict[str, str], token: str) -> requests.Response:
        url = f"{self.settings.base_url}/{endpoint}"
        try:
            response = self.http.get(
                url, params=params, headers=self._auth(token), timeout=self.settings.timeout_seconds
            )
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
            raise AnafRejected(f"ANAF {endpoint}: {body.get('message') or 'bad request'}")
        if status != 200:
            raise AnafUnavailable(f"ANAF {endpoint} answered HTTP {status}")


def parse_archive(raw: bytes) -> ResponseArchive:
    """Open a descarcare zip and read ANAF's error list when it holds one."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            files = {
                info.filename: archive.read(info)
                for info in archive.infolist()
                if not info.is_dir()
            }
    except zipfile.BadZipFile:
        raise AnafRejected("ANAF's response archive is not a valid zip") from None
    errors: list[str] = []
    for name, data in files.items():
        if "semnatura" in name.lower():
            continue
        try:
            root = etree.fromstring(data, parser=_PARSER)
        except etree.XMLSyntaxError:
            continue
        if "mesajEroriFactuta" in (etree.QName(root).namespace or ""):
            errors += [e.get("errorMessage", "") for e in root.iter("{*}Error")]
    return ResponseArchive(raw=raw, files=files, errors=errors)


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
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _json_or_error(response: requests.Response, endpoint: str) -> dict[str, Any]:
    body = _json(response)
    if not body:
        raise AnafRejected(f"ANAF {endpoint} answered something that is not JSON")
    if body.get("eroare"):
        message = str(body["eroare"])
        if any(marker in message.lower() for marker in QUOTA_MARKERS):
            raise AnafRateLimited(f"ANAF {endpoint}: {message}")
        raise AnafRejected(f"ANAF {endpoint}: {message}", [message])
    return body


def _xml(response: requests.Response, endpoint: str) -> etree._Element:
    try:
        return etree.fromstring(response.content, parser=_PARSER)
    except etree.XMLSyntaxError:
        raise AnafRejected(f"ANAF {endpoint} answered something that is not XML") from None


def _error_messages(header: etree._Element) -> list[str]:
    return [e.get("errorMessage", "") for e in header.iter("{*}Errors")]


def _message(entry: dict[str, Any]) -> SpvMessage:
    return SpvMessage(
        id=str(entry.get("id", "")),
        upload_index=str(entry.get("id_solicitare", "")),
        kind=str(entry.get("tip", "")),
        created=str(entry.get("data_creare", "")),
        cif=str(entry.get("cif", "")),
        details=str(entry.get("detalii", "")),
    )
