"""A local ANAF stand-in speaking the real contract (../shared/efactura/anaf-api).

OAuth2 token endpoint (HTTP Basic client credentials, authorization_code and
refresh_token grants), upload/uploadb2c (XML header with ExecutionStatus and
index_incarcare), stareMesaj (stare ok / nok / in prelucrare), listaMesajeFactura and
listaMesajePaginatieFactura (JSON; the simple list refuses more than 500 messages, the
paginated one serves 500 per page), descarcare (zip with the invoice or error XML and a
"semnatura" file; at most 10 per message per day, limiteApeluriAPI.txt) and the public
validare endpoint. ``faults`` injects 5xx, 429, timeouts and lost answers; ``received``
holds invoices suppliers sent to the CUI ("FACTURA PRIMITA" messages).
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

CLIENT_ID, CLIENT_SECRET = "praho-client", "praho-secret"
GOOD_CODE = "good-code"
UPLOAD_NS = "mfp:anaf:dgti:spv:respUploadFisier:v1"
STATUS_NS = "mfp:anaf:dgti:efactura:stareMesajFactura:v1"
ERRORS_NS = "mfp:anaf:dgti:efactura:mesajEroriFactuta:v1"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
BUCHAREST = ZoneInfo("Europe/Bucharest")
PAGE_SIZE = 500  # listamesaje.html: numar_total_inregistrari_per_pagina
DOWNLOADS_PER_MESSAGE_PER_DAY = 10  # limiteApeluriAPI.txt, /descarcare
TOO_MANY_FOR_SIMPLE_LIST = (
    "Lista de mesaje este mai mare decat numarul de 500 elemente permise in pagina. "
    "Folositi endpoint-ul cu paginatie."
)


@dataclass
class Upload:
    """One file ANAF received."""

    index: str
    path: str
    params: dict[str, str]
    body: bytes
    outcome: str
    polls_left: int
    created: datetime
    download_id: str | None = None


@dataclass
class Received:
    """An invoice a supplier sent to the CUI: a "FACTURA PRIMITA" message."""

    id: str
    upload_index: str
    created: datetime


@dataclass
class StandIn:
    """State of the fake ANAF; tests set ``outcome``, ``processing_polls`` and ``faults``."""

    outcome: str = "ok"  # ok | nok | not_taken
    processing_polls: int = 1
    access_lifetime: timedelta = timedelta(days=90)
    faults: dict[str, list[str]] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    access_tokens: dict[str, datetime] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    token_grants: list[str] = field(default_factory=list)
    slow_seconds: float = 3.0
    received: list[Received] = field(default_factory=list)
    # (download id, Bucharest date) -> descarcare calls served that day.
    downloads: dict[tuple[str, str], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 5000

    def next_id(self) -> str:
        with self.lock:
            self._counter += 1
            return str(self._counter)

    def fault(self, endpoint: str) -> str | None:
        with self.lock:
            queue = self.faults.get(endpoint) or []
            return queue.pop(0) if queue else None

    def issue_tokens(self) -> dict[str, Any]:
        access, refresh = f"access-{self.next_id()}", f"refresh-{self.next_id()}"
        self.access_tokens[access] = datetime.now(UTC) + self.access_lifetime
        self.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "refresh_token": refresh,
            "expires_in": int(self.access_lifetime.total_seconds()),
        }

    def receive_invoices(self, count: int, *, at: datetime) -> None:
        """``count`` supplier invoices arrive in SPV at ``at`` (UTC)."""
        for _ in range(count):
            self.received.append(Received(self.next_id(), self.next_id(), at))

    def revoke_access_tokens(self) -> None:
        """Every access token ANAF knows becomes invalid (HTTP 401 until refreshed)."""
        self.access_tokens.clear()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _header(namespace: str, attrs: dict[str, str], errors: list[str] = ()) -> bytes:  # type: ignore[assignment]
    attributes = "".join(f' {k}="{v}"' for k, v in attrs.items())
    if not errors:
        return (XML_HEAD + f'<header xmlns="{namespace}"{attributes}/>').encode()
    children = "".join(f'\n    <Errors errorMessage="{e}"/>' for e in errors)
    return (XML_HEAD + f'<header xmlns="{namespace}"{attributes}>{children}\n</header>').encode()


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        return

    @property
    def anaf(self) -> StandIn:
        return self.server.anaf  # type: ignore[no-any-return]

    def _send(self, status: int, body: bytes, content_type: str = "application/xml") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _authorized(self) -> bool:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        expires = self.anaf.access_tokens.get(token)
        if expires is None or expires <= datetime.now(UTC):
            self._json(
                401,
                {
                    "timestamp": "",
                    "status": 401,
                    "error": "Unauthorized",
                    "message": "token invalid",
                },
            )
            return False
        return True

    def _faulted(self, endpoint: str) -> str | None:
        fault = self.anaf.fault(endpoint)
        if fault in ("500", "502", "503", "504"):
            self._json(int(fault), {"status": int(fault), "error": "Server Error"})
        elif fault == "429":
            self.send_response(429)
            self.send_header("Retry-After", "30")
            self.send_header("Content-Length", "0")
            self.end_headers()
        return fault

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.anaf.requests.append(("POST", url.path, params))
        if url.path.endswith("/token"):
            return self._token(body)
        if url.path.endswith("/upload") or url.path.endswith("/uploadb2c"):
            return self._upload(url.path, params, body)
        if "/validare/" in url.path:
            ok = b"CIUS-RO:1.0.1" in body
            return self._json(
                200,
                {
                    "stare": "ok" if ok else "nok",
                    "trace_id": "t-1",
                    **({} if ok else {"Messages": [{"message": "E: [BR-RO-001]"}]}),
                },
            )
        self._json(404, {"status": 404})

    def _token(self, body: bytes) -> None:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected}":
            return self._json(401, {"error": "invalid_client"})
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        self.anaf.token_grants.append(form.get("grant_type", ""))
        if form.get("grant_type") == "authorization_code" and form.get("code") == GOOD_CODE:
            return self._json(200, self.anaf.issue_tokens())
        if (
            form.get("grant_type") == "refresh_token"
            and form.get("refresh_token") in self.anaf.refresh_tokens
        ):
            return self._json(200, self.anaf.issue_tokens())
        self._json(400, {"error": "invalid_grant", "error_description": "token expired or revoked"})

    def _upload(self, path: str, params: dict[str, str], body: bytes) -> None:
        fault = self._faulted("upload")
        if fault and fault not in ("timeout", "lost"):
            return
        if not self._authorized():
            return
        errors = []
        if params.get("standard") not in {"UBL", "CN", "CII", "RASP"}:
            errors.append(
                "Valorile acceptate pentru parametrul standard sunt UBL, CN, CII sau RASP"
            )
        if not params.get("cif", "").isdigit():
            errors.append(f"CIF introdus= {params.get('cif')} nu este un numar")
        if params.get("cif") == "99999999":
            errors.append("Nu aveti drept in SPV pentru CIF=99999999")
        stamp = datetime.now(ZoneInfo("Europe/Bucharest")).strftime("%Y%m%d%H%M")
        if errors:
            return self._send(
                200, _header(UPLOAD_NS, {"dateResponse": stamp, "ExecutionStatus": "1"}, errors)
            )
        upload = Upload(
            self.anaf.next_id(),
            path,
            params,
            body,
            self.anaf.outcome,
            self.anaf.processing_polls,
            datetime.now(UTC),
        )
        if fault != "lost":
            with self.anaf.lock:
                self.anaf.uploads.append(upload)
        if fault in ("timeout", "lost"):
            time.sleep(self.anaf.slow_seconds)  # the client gives up: the answer is lost
        self._send(
            200,
            _header(
                UPLOAD_NS,
                {"dateResponse": stamp, "ExecutionStatus": "0", "index_incarcare": upload.index},
            ),
        )

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.anaf.requests.append(("GET", url.path, params))
        endpoint = url.path.rsplit("/", 1)[-1]
        if self._faulted(endpoint) in ("500", "502", "503", "504", "429") or not self._authorized():
            return
        if endpoint == "stareMesaj":
            return self._status(params.get("id_incarcare", ""))
        if endpoint in ("listaMesajeFactura", "listaMesajePaginatieFactura"):
            return self._list(params)
        if endpoint == "descarcare":
            return self._download(params.get("id", ""))
        self._json(404, {"status": 404})

    def _find(self, **match: str) -> Upload | None:
        return next(
            (u for u in self.anaf.uploads if all(getattr(u, k) == v for k, v in match.items())),
            None,
        )

    def _status(self, index: str) -> None:
        upload = self._find(index=index)
        if upload is None:
            return self._send(
                200, _header(STATUS_NS, {}, [f"Nu exista factura cu id_incarcare= {index}"])
            )
        if upload.polls_left > 0:
            upload.polls_left -= 1
            return self._send(200, _header(STATUS_NS, {"stare": "in prelucrare"}))
        if upload.outcome == "not_taken":
            return self._send(
                200, _header(STATUS_NS, {"stare": "XML cu erori nepreluat de sistem"})
            )
        upload.download_id = upload.download_id or self.anaf.next_id()
        self._send(
            200, _header(STATUS_NS, {"stare": upload.outcome, "id_descarcare": upload.download_id})
        )

    def _list(self, params: dict[str, str]) -> None:
        paginated = urlparse(self.path).path.endswith("listaMesajePaginatieFactura")
        required = ("startTime", "endTime", "cif", "pagina") if paginated else ("zile", "cif")
        if any(not params.get(name) for name in required):
            names = " si ".join((", ".join(required[:-1]), required[-1]))
            return self._json(
                400,
                {
                    "timestamp": datetime.now(BUCHAREST).strftime("%d-%m-%Y %H:%M:%S"),
                    "status": 400,
                    "error": "Bad Request",
                    "message": f"Parametrii {names} sunt obligatorii",
                },
            )
        if not params["cif"].isdigit():
            return self._list_error(f"CIF introdus= {params['cif']} nu este un numar")
        now = datetime.now(UTC)
        if paginated:
            window = self._window(params, now)
            if isinstance(window, str):
                return self._list_error(window)
            start, end = window
        else:
            if not params["zile"].isdigit():
                return self._list_error(
                    f"Numarul de zile introdus= {params['zile']} nu este un numar intreg"
                )
            if not 1 <= int(params["zile"]) <= 60:
                return self._list_error("Numarul de zile trebuie sa fie intre 1 si 60")
            start, end = now - timedelta(days=int(params["zile"])), now
        messages = [
            m for created, m in self._messages(params["cif"]) if start <= created <= end
        ]
        if not messages:
            where = (
                "in intervalul selectat" if paginated else f"in ultimele {params['zile']} zile"
            )
            return self._list_error(f"Nu exista mesaje {where}")
        if not paginated:
            if len(messages) > PAGE_SIZE:
                return self._list_error(TOO_MANY_FOR_SIMPLE_LIST)
            return self._json(
                200,
                {
                    "mesaje": messages,
                    "serial": "1234AA456",
                    "cui": params["cif"],
                    "titlu": f"Lista Mesaje disponibile din ultimele {params['zile']} zile",
                },
            )
        if not params["pagina"].isdigit():
            return self._list_error(
                f"pagina = {params['pagina']} nu este un numar sau nu are o valoare "
                "acceptata de sistem"
            )
        page, total_pages = int(params["pagina"]), -(-len(messages) // PAGE_SIZE)
        if page > total_pages:
            return self._list_error(
                f"Pagina solicitata {page} este mai mare decat numarul toatal de pagini "
                f"{total_pages}"
            )
        shown = messages[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        stamp = "%d-%m-%Y %H:%M:%S"
        self._json(
            200,
            {
                "mesaje": shown,
                "numar_inregistrari_in_pagina": len(shown),
                "numar_total_inregistrari_per_pagina": PAGE_SIZE,
                "numar_total_inregistrari": len(messages),
                "numar_total_pagini": total_pages,
                "index_pagina_curenta": page,
                "serial": "1234AA456",
                "cui": params["cif"],
                "titlu": f"Lista Mesaje disponibile din intervalul "
                f"{start.astimezone(BUCHAREST).strftime(stamp)} - "
                f"{end.astimezone(BUCHAREST).strftime(stamp)}",
            },
        )

    def _list_error(self, message: str) -> None:
        self._json(200, {"eroare": message, "titlu": "Lista Mesaje"})

    @staticmethod
    def _window(params: dict[str, str], now: datetime) -> tuple[datetime, datetime] | str:
        """startTime/endTime (Unix ms) checked as ANAF does, or ANAF's error text."""
        for name in ("startTime", "endTime"):
            if not params[name].isdigit():
                return (
                    f"{name} = {params[name]} nu este un numar sau nu are o valoare acceptata "
                    "de sistem"
                )
        start = datetime.fromtimestamp(int(params["startTime"]) / 1000, UTC)
        end = datetime.fromtimestamp(int(params["endTime"]) / 1000, UTC)
        shown = "%d-%m-%Y %H:%M:%S"
        if start < now - timedelta(days=60):
            return (
                f"startTime = {start.astimezone(BUCHAREST).strftime(shown)} nu poate fi mai "
                "vechi de 60 de zile fata de momentul requestului"
            )
        if end <= start:
            return (
                f"endTime = {end.astimezone(BUCHAREST).strftime(shown)} nu poate fi <= "
                f"startTime = {start.astimezone(BUCHAREST).strftime(shown)}"
            )
        if end > now:
            return (
                f"endTime = {end.astimezone(BUCHAREST).strftime(shown)} nu poate in viitor "
                "fata de momentul requestului"
            )
        return start, end

    def _messages(self, cif: str) -> list[tuple[datetime, dict[str, str]]]:
        """Every message of the CUI, oldest first, with its creation instant."""
        listed = []
        for upload in self.anaf.uploads:
            if upload.outcome not in ("ok", "nok"):
                continue
            upload.download_id = upload.download_id or self.anaf.next_id()
            listed.append(
                (
                    upload.created,
                    {
                        "data_creare": upload.created.astimezone(BUCHAREST).strftime(
                            "%Y%m%d%H%M"
                        ),
                        "cif": cif,
                        "id_solicitare": upload.index,
                        "detalii": f"Factura cu id_incarcare={upload.index} "
                        f"emisa de cif_emitent={cif}",
                        "tip": "FACTURA TRIMISA" if upload.outcome == "ok" else "ERORI FACTURA",
                        "id": upload.download_id,
                    },
                )
            )
        for received in self.anaf.received:
            listed.append(
                (
                    received.created,
                    {
                        "data_creare": received.created.astimezone(BUCHAREST).strftime(
                            "%Y%m%d%H%M"
                        ),
                        "cif": cif,
                        "id_solicitare": received.upload_index,
                        "detalii": f"Factura cu id_incarcare={received.upload_index} emisa de "
                        f"cif_emitent=8000000000 pentru cif_beneficiar={cif}",
                        "tip": "FACTURA PRIMITA",
                        "id": received.id,
                    },
                )
            )
        listed.sort(key=lambda entry: entry[0])
        return listed

    def _download(self, download_id: str) -> None:
        upload = self._find(download_id=download_id)
        if upload is None:
            return self._json(
                200,
                {
                    "eroare": f"Pentru id={download_id} nu exista inregistrata nici o factura",
                    "titlu": "Descarcare mesaj",
                },
            )
        day = (download_id, datetime.now(BUCHAREST).date().isoformat())
        with self.anaf.lock:
            served = self.anaf.downloads.get(day, 0)
            if served < DOWNLOADS_PER_MESSAGE_PER_DAY:
                self.anaf.downloads[day] = served + 1
        if served >= DOWNLOADS_PER_MESSAGE_PER_DAY:
            return self._json(
                200,
                {
                    "eroare": f"S-au facut deja {DOWNLOADS_PER_MESSAGE_PER_DAY} descarcari de "
                    "mesaj in cursul zilei",
                    "titlu": "Descarcare mesaj",
                },
            )
        if upload.outcome == "ok":
            content = upload.body
        else:
            content = (
                XML_HEAD + f'<header xmlns="{ERRORS_NS}" Index_incarcare="{upload.index}" '
                f'Cif_emitent="{upload.params.get("cif")}">\n'
                '  <Error errorMessage="E: validari globale SCHEMATRON eroare: '
                "[BR-RO-120]-Identificatorul "
                'cumparatorului trebuie sa fie inscris"/>\n'
                '  <Error errorMessage="E: R_BT_32_cui: Cui vanzator incorect"/>\n</header>'
            ).encode()
        signature = (
            XML_HEAD + '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">'
            "<SignatureValue>c2lnbmF0dXJl</SignatureValue></Signature>"
        ).encode()
        self._send(
            200,
            _zip({f"{upload.index}.xml": content, f"semnatura_{upload.index}.xml": signature}),
            "application/zip",
        )


class AnafStandIn:
    """Start/stop the stand-in on 127.0.0.1 with a free port."""

    def __init__(self) -> None:
        self.state = StandIn()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.anaf = self.state  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>"""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def settings(self, token_key: str, **overrides: Any) -> dict[str, Any]:
        """Plugin settings pointing every URL at the stand-in."""
        return {
            "environment": "test",
            "api_url": f"{self.base_url}/test/FCTEL/rest",
            "oauth_url": f"{self.base_url}/anaf-oauth2/v1",
            "validate_url": f"{self.base_url}/prod/FCTEL/rest",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": "https://billing.example.ro/efactura/callback",
            "token_key": token_key,
            "timeout_seconds": 1.0,
            **overrides,
        }

    def __enter__(self) -> AnafStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
