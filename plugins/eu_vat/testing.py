"""A local VIES stand-in for tests: serves the real WSDL and answers SOAP as VIES does.

It listens on 127.0.0.1 with a port chosen by the system, answers ``checkVat`` and
``checkVatApprox`` with document/literal SOAP 1.1 bodies, and reports failures as SOAP
faults whose faultstring carries the code, with HTTP 500, like the real service. Numbers
follow the official test service's map (``TEST_NUMBER_MAP``: 100 valid, 200 invalid,
201 INVALID_INPUT, ... 601 MS_MAX_CONCURRENT_REQ_TIME); tests add real-looking numbers
with :meth:`ViesStandIn.set_outcome`. Plugin authors can use it too.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree
from praho.plugins.eu_vat.rates import EU_MEMBER_STATES
from praho.plugins.eu_vat.vies import WSDL_PATH

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TYPES_NS = "urn:ec.europa.eu:taxud:vies:services:checkVat:types"
VALID = "VALID"
INVALID = "INVALID"
# The official test service (checkVatTestService) maps these numbers to outcomes.
TEST_NUMBER_MAP = {
    "100": VALID,
    "200": INVALID,
    "201": "INVALID_INPUT",
    "300": "SERVICE_UNAVAILABLE",
    "301": "MS_UNAVAILABLE",
    "302": "TIMEOUT",
    "400": "VAT_BLOCKED",
    "401": "IP_BLOCKED",
    "500": "GLOBAL_MAX_CONCURRENT_REQ",
    "501": "GLOBAL_MAX_CONCURRENT_REQ_TIME",
    "600": "MS_MAX_CONCURRENT_REQ",
    "601": "MS_MAX_CONCURRENT_REQ_TIME",
}
FAULT_CODES = sorted({o for o in TEST_NUMBER_MAP.values() if o not in (VALID, INVALID)})
VIES_COUNTRY_CODES = (EU_MEMBER_STATES - {"GR"}) | {"EL", "XI"}
_SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_blank_text=True
)
BRUSSELS = ZoneInfo("Europe/Brussels")


@dataclass
class StandInTrader:
    """Name and address the stand-in returns for a valid number."""

    name: str = "TEST TRADER SRL"
    address: str = "STR. EXEMPLU 1\n010011 BUCURESTI"


@dataclass
class ViesStandIn:
    """The running stand-in: ``url`` is the service address, ``wsdl_url`` its WSDL."""

    host: str = "127.0.0.1"
    outcomes: dict[str, str] = field(default_factory=dict)
    traders: dict[str, StandInTrader] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    # Seconds to wait before answering (to exercise client timeouts).
    delay: float = 0.0
    # When set, (status, content type, body) answered to every POST instead of SOAP.
    http_error: tuple[int, str, bytes] | None = None
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # --- control -------------------------------------------------------------

    def start(self) -> ViesStandIn:
        """Listen on a free port and serve in a background thread."""
        handler = type("ViesHandler", (_Handler,), {"standin": self})
        self._server = ThreadingHTTPServer((self.host, 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        """The endpoint address (what the real WSDL's soap:address points to)."""
        assert self._server is not None, "stand-in not started"
        host, port = str(self._server.server_address[0]), int(self._server.server_address[1])
        return f"http://{host}:{port}/taxation_customs/vies/services/checkVatService"

    @property
    def wsdl_url(self) -> str:
        """Where the stand-in serves its WSDL."""
        return f"{self.url}?wsdl"

    def set_outcome(
        self, vat_id: str, outcome: str, *, trader: StandInTrader | None = None
    ) -> None:
        """Answer ``outcome`` (VALID, INVALID or a fault code) for a full id such as DE136695976."""
        self.outcomes[vat_id.upper()] = outcome
        if trader is not None:
            self.traders[vat_id.upper()] = trader

    def calls_for(self, vat_id: str) -> int:
        """How many requests asked about ``vat_id``."""
        return sum(1 for r in self.requests if r["countryCode"] + r["vatNumber"] == vat_id.upper())

    # --- behaviour -----------------------------------------------------------

    def outcome_for(self, country_code: str, vat_number: str) -> str:
        """The configured or official-map outcome; unknown well-formed numbers are invalid."""
        if country_code not in VIES_COUNTRY_CODES or not vat_number:
            return "INVALID_INPUT"
        full = f"{country_code}{vat_number}".upper()
        if full in self.outcomes:
            return self.outcomes[full]
        return TEST_NUMBER_MAP.get(vat_number, INVALID)


def _envelope(body_child: etree._Element) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"env": SOAP_ENV})
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Header")
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    body.append(body_child)
    return bytes(etree.tostring(envelope, xml_declaration=False, encoding="UTF-8"))


def soap_fault(faultstring: str) -> bytes:
    """A SOAP 1.1 fault as VIES sends it (faultcode env:Server, the code in faultstring)."""
    fault = etree.Element(f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = "env:Server"
    etree.SubElement(fault, "faultstring").text = faultstring
    return _envelope(fault)


def _request_date() -> str:
    now = datetime.now(BRUSSELS)
    offset = now.strftime("%z")
    return f"{now.date().isoformat()}{offset[:3]}:{offset[3:]}"


def _response(operation: str, fields: dict[str, str], outcome: str, trader: StandInTrader) -> bytes:
    valid = outcome == VALID
    response = etree.Element(f"{{{TYPES_NS}}}{operation}Response", nsmap={"ns2": TYPES_NS})

    def add(name: str, text: str) -> None:
        etree.SubElement(response, f"{{{TYPES_NS}}}{name}").text = text

    add("countryCode", fields["countryCode"])
    add("vatNumber", fields["vatNumber"])
    add("requestDate", _request_date())
    add("valid", "true" if valid else "false")
    if operation == "checkVat":
        add("name", trader.name if valid else "---")
        add("address", trader.address if valid else "---")
    else:
        add("traderName", trader.name if valid else "---")
        add("traderAddress", trader.address if valid else "---")
        alphabet = string.ascii_letters + string.digits
        add("requestIdentifier", "WAPI" + "".join(secrets.choice(alphabet) for _ in range(12)))
    return _envelope(response)


class _Handler(BaseHTTPRequestHandler):
    standin: ViesStandIn

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep test output quiet."""

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if "wsdl" not in (self.path.split("?", 1) + [""])[1].lower():
            self._send(404, "text/plain", b"not found")
            return
        wsdl = WSDL_PATH.read_bytes().replace(
            b"http://ec.europa.eu/taxation_customs/vies/services/checkVatService",
            self.standin.url.encode(),
        )
        self._send(200, "text/xml; charset=UTF-8", wsdl)

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        standin = self.standin
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if standin.delay:
            time.sleep(standin.delay)
        if standin.http_error is not None:
            status, content_type, body = standin.http_error
            self._send(status, content_type, body)
            return
        try:
            root = etree.fromstring(raw, _SAFE_PARSER)
            body = root.find(f"{{{SOAP_ENV}}}Body")
            request = body[0] if body is not None and len(body) else None
        except etree.XMLSyntaxError:
            request = None
        if request is None or etree.QName(request).localname not in ("checkVat", "checkVatApprox"):
            self._send(500, "text/xml; charset=UTF-8", soap_fault("INVALID_INPUT"))
            return
        operation = etree.QName(request).localname
        fields = {etree.QName(child).localname: (child.text or "").strip() for child in request}
        fields.setdefault("countryCode", "")
        fields.setdefault("vatNumber", "")
        standin.requests.append({"operation": operation, **fields})
        outcome = standin.outcome_for(fields["countryCode"], fields["vatNumber"])
        requester_country = fields.get("requesterCountryCode")
        if (
            operation == "checkVatApprox"
            and requester_country
            and requester_country not in VIES_COUNTRY_CODES
        ):
            outcome = "INVALID_REQUESTER_INFO"
        if outcome not in (VALID, INVALID):
            self._send(500, "text/xml; charset=UTF-8", soap_fault(outcome))
            return
        trader = standin.traders.get(
            f"{fields['countryCode']}{fields['vatNumber']}".upper(), StandInTrader()
        )
        self._send(200, "text/xml; charset=UTF-8", _response(operation, fields, outcome, trader))


def write_manifest(directory: Any, plugins: dict[str, dict[str, Any]]) -> Any:
    """Write a plugin_manifest.toml loading the named built-in plugins with these settings.

    ``plugins`` maps a plugin name (``eu_vat``, ``bnr_rates``) to its settings; values are
    text, numbers or booleans. Returns the file's path for ``PLUGIN_MANIFEST``.
    """
    from pathlib import Path

    def toml_value(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'

    parts = []
    for name, settings in plugins.items():
        parts.append(f'[[plugin]]\nname = "{name}"\nmodule = "praho.plugins.{name}"\n')
        if settings:
            parts.append(
                "[plugin.settings]\n"
                + "".join(f"{key} = {toml_value(value)}\n" for key, value in settings.items())
            )
    path = Path(directory) / "plugin_manifest.toml"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
