"""The VIES client: the European Commission's checkVatService, spoken through zeep.

The WSDL is the Commission's own (shipped as package data, ``checkVatService.wsdl``); only
the endpoint address and the timeout come from settings, so tests point the client at a
local stand-in that answers as the real service does. Every way VIES can fail (a SOAP
fault such as MS_UNAVAILABLE, an HTTP error page, a timeout, a refused connection, an
unreadable answer) becomes :class:`ViesUnavailable`: a failure means "could not verify",
never "invalid". An invalid number is an answer (``valid`` false), not an error.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import requests
import zeep
import zeep.exceptions
from praho.core.errors import PrahoError
from zeep.transports import Transport

WSDL_PATH = Path(__file__).resolve().parent / "checkVatService.wsdl"
BINDING = "{urn:ec.europa.eu:taxud:vies:services:checkVat}checkVatBinding"
# Fault strings the service documents (WSDL and the EC technical information page);
# SERVER_BUSY is the older service's name for the concurrency faults.
KNOWN_FAULTS = frozenset(
    {
        "INVALID_INPUT",
        "INVALID_REQUESTER_INFO",
        "SERVICE_UNAVAILABLE",
        "MS_UNAVAILABLE",
        "TIMEOUT",
        "VAT_BLOCKED",
        "IP_BLOCKED",
        "GLOBAL_MAX_CONCURRENT_REQ",
        "GLOBAL_MAX_CONCURRENT_REQ_TIME",
        "MS_MAX_CONCURRENT_REQ",
        "MS_MAX_CONCURRENT_REQ_TIME",
        "SERVER_BUSY",
    }
)
# Our own codes for failures that never reached a SOAP answer.
NETWORK_TIMEOUT = "NETWORK_TIMEOUT"
NETWORK_ERROR = "NETWORK_ERROR"
BAD_RESPONSE = "BAD_RESPONSE"
UNKNOWN_FAULT = "UNKNOWN_FAULT"
_FAULT_CODE = re.compile(r"[A-Z][A-Z_]{2,39}")
# VIES writes "---" where a member state does not disclose name or address.
_UNDISCLOSED = {"", "---"}


class ViesUnavailable(PrahoError):
    """VIES could not answer; ``fault_code`` says why. Never a verdict on the number."""

    http_status = 503
    code = "vies_unavailable"

    def __init__(self, fault_code: str, detail: str) -> None:
        super().__init__(f"VIES could not verify the VAT number: {fault_code} ({detail})")
        self.fault_code = fault_code
        self.detail = detail


@dataclass(frozen=True)
class ViesAnswer:
    """What VIES answered for one number."""

    country_code: str
    vat_number: str
    valid: bool
    request_date: date | None
    name: str | None
    address: str | None
    # Consultation number; only checkVatApprox with a requester returns one.
    request_identifier: str | None


MAX_ANSWER_BYTES = 256 * 1024  # a VIES answer is about 1 KB


class _BoundedTransport(Transport):  # type: ignore[misc]
    """zeep's transport, reading at most ``MAX_ANSWER_BYTES`` of an answer (input from
    outside: a broken or hostile endpoint must not fill the worker's memory)."""

    def post(self, address: str, message: bytes, headers: dict[str, str]) -> requests.Response:
        response = self.session.post(
            address, data=message, headers=headers, timeout=self.operation_timeout, stream=True
        )
        body = bytearray()
        for chunk in response.iter_content(chunk_size=64 * 1024):
            body += chunk
            if len(body) > MAX_ANSWER_BYTES:
                response.close()
                raise ViesUnavailable(BAD_RESPONSE, f"answer larger than {MAX_ANSWER_BYTES} bytes")
        response._content = bytes(body)
        response._content_consumed = True
        return response


def _disclosed(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return None if text in _UNDISCLOSED else text


class ViesClient:
    """One configured connection to VIES (endpoint URL and timeout in seconds)."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        transport = _BoundedTransport(timeout=timeout, operation_timeout=timeout)
        settings = zeep.Settings(
            strict=True,
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
            xml_huge_tree=False,
        )
        self._client = zeep.Client(str(WSDL_PATH), transport=transport, settings=settings)
        self._service = self._client.create_service(BINDING, url)

    def check(
        self, country_code: str, vat_number: str, *, requester: tuple[str, str] | None = None
    ) -> ViesAnswer:
        """Ask VIES about one number; with a requester (our own VAT id) VIES also returns a
        consultation number, the proof of the check a tax audit asks for.

        If VIES refuses the requester (INVALID_REQUESTER_INFO: our own number mistyped in
        the settings), the customer is still checked without one rather than failing.
        """
        try:
            return self._check(country_code, vat_number, requester)
        except ViesUnavailable as failure:
            if requester and failure.fault_code == "INVALID_REQUESTER_INFO":
                return self._check(country_code, vat_number, None)
            raise

    def _check(
        self, country_code: str, vat_number: str, requester: tuple[str, str] | None
    ) -> ViesAnswer:
        try:
            if requester:
                result = self._service.checkVatApprox(
                    countryCode=country_code,
                    vatNumber=vat_number,
                    requesterCountryCode=requester[0],
                    requesterVatNumber=requester[1],
                )
                name, address = result.traderName, result.traderAddress
                identifier = _disclosed(result.requestIdentifier)
            else:
                result = self._service.checkVat(countryCode=country_code, vatNumber=vat_number)
                name, address, identifier = result.name, result.address, None
        except zeep.exceptions.Fault as fault:
            text = (fault.message or "").strip()
            if text in KNOWN_FAULTS:
                raise ViesUnavailable(text, "SOAP fault from VIES") from None
            if _FAULT_CODE.fullmatch(text):
                raise ViesUnavailable(text, "SOAP fault not documented by VIES") from None
            raise ViesUnavailable(
                UNKNOWN_FAULT, f"answer was not a VIES result: {text[:100]!r}"
            ) from None
        except zeep.exceptions.TransportError as error:
            raise ViesUnavailable(
                f"HTTP_{error.status_code}",
                "VIES answered without a SOAP envelope (error page or empty body)",
            ) from None
        except requests.Timeout:
            raise ViesUnavailable(NETWORK_TIMEOUT, f"no answer within {self.timeout:g} s") from None
        except requests.RequestException as error:
            raise ViesUnavailable(NETWORK_ERROR, type(error).__name__) from None
        except (zeep.exceptions.Error, ValueError) as error:
            raise ViesUnavailable(
                BAD_RESPONSE, f"unreadable answer: {type(error).__name__}"
            ) from None
        if result.valid is None:
            raise ViesUnavailable(BAD_RESPONSE, "answer without a 'valid' element")
        return ViesAnswer(
            country_code=str(result.countryCode or country_code),
            vat_number=str(result.vatNumber or vat_number),
            valid=bool(result.valid),
            request_date=result.requestDate if isinstance(result.requestDate, date) else None,
            name=_disclosed(name),
            address=_disclosed(address),
            request_identifier=identifier,
        )


_clients: dict[tuple[str, float], ViesClient] = {}
_clients_lock = threading.Lock()


def client_for(url: str, timeout: float) -> ViesClient:
    """A shared client per (URL, timeout): the WSDL is parsed once per process."""
    key = (url, float(timeout))
    with _clients_lock:
        if key not in _clients:
            _clients[key] = ViesClient(url, timeout)
        return _clients[key]
