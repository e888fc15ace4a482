"""A local Virtualmin stand-in: ``/virtual-server/remote.cgi`` over real HTTPS, in a thread.

It keeps domain state and answers like Virtualmin's remote API does: HTTP 401 from
Webmin for bad credentials; a plain-text ``ERROR: ...`` line for a request remote.cgi
cannot start; with ``json=1`` a JSON object ``{"command", "status": "success"|"failure",
"output" | "data" | "error" + "full_error"}`` (``list-*`` with ``multiline`` gives ``data``
entries ``{"name", "values": {key: [value, ...]}}``, keys lower-cased with spaces as
underscores). Error lines are Virtualmin's own ("Virtual server x does not exist",
"... is already disabled", "You are already hosting this domain").

The certificate comes from a test CA made with ``cryptography`` at test time
(:func:`make_test_pki`). ``slow_seconds`` makes the next ``slow_calls`` answers late
(the command still runs, as on a real server whose answer is lost); ``fail_5xx`` makes
the next calls answer HTTP 500.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REMOTE_PATH = "/virtual-server/remote.cgi"


@dataclass(frozen=True)
class TestPki:
    """Paths of a test CA and of a server certificate it signed for 127.0.0.1/localhost."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_test_pki(directory: Path, label: str = "PRAHO test CA") -> TestPki:
    """Generate a CA and a server certificate (EC P-256, valid one day) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder().subject_name(_name(label)).issuer_name(_name(label))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name("virtualmin.test")).issuer_name(_name(label))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = TestPki(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    pki.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.server_key.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return pki


@dataclass
class Domain:
    """One virtual server on the stand-in."""

    name: str
    id: str
    username: str
    description: str
    plan: str
    template: str
    disabled: bool = False
    disabled_why: str = ""


@dataclass
class VirtualminStandIn:
    """State and controls of the fake server; start it with :meth:`start`."""

    pki: TestPki
    user: str = "praho-api"
    password: str = "stand-in-password"
    plans: set[str] = field(default_factory=lambda: {"Basic", "Pro"})
    domains: dict[str, Domain] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    auth_failures: int = 0
    slow_seconds: float = 0.0
    slow_calls: int = 0
    fail_5xx: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next_id: int = 17000000000000
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL (``https://127.0.0.1:<port>``) to configure as the server's url."""
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def reset(self) -> None:
        """Forget domains, calls and faults (between tests)."""
        with self.lock:
            self.domains.clear()
            self.calls.clear()
            self.auth_failures = 0
            self.slow_seconds, self.slow_calls, self.fail_5xx = 0.0, 0, 0

    def add_domain(self, name: str, *, description: str = "", disabled: bool = False,
                   plan: str = "Basic") -> Domain:
        """Put a domain on the server directly (someone created it by hand)."""
        with self.lock:
            self._next_id += 1
            domain = Domain(name, str(self._next_id), name.split(".")[0][:16], description, plan,
                            "Default Settings", disabled)
            self.domains[name] = domain
            return domain

    def programs_called(self) -> list[str]:
        """The ``program`` of every authenticated call, in order."""
        return [program for program, _params in self.calls]

    def start(self) -> VirtualminStandIn:
        """Listen on 127.0.0.1 (a free port) with TLS, serving in a daemon thread."""
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path, _, query = self.path.partition("?")
                self._handle(path, query)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                self._handle(self.path.partition("?")[0], body)

            def _handle(self, path: str, form: str) -> None:
                if path != REMOTE_PATH:
                    self._send(404, "text/html", "<h1>Error - Document follows</h1>")
                    return
                if not standin.authorized(self.headers.get("Authorization")):
                    self._send(401, "text/html", "<h1>Error - 401 Unauthorized</h1>",
                               {"WWW-Authenticate": 'Basic realm="Webmin Server"'})
                    return
                params: dict[str, list[str]] = {}
                for key, value in parse_qsl(form, keep_blank_values=True):
                    params.setdefault(key, []).append(value)
                status, body, delay = standin.answer(params)
                if delay:
                    time.sleep(delay)
                self._send(status, "text/plain", body)

            def _send(self, status: int, ctype: str, body: str,
                      headers: dict[str, str] | None = None) -> None:
                data = body.encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    return  # the client gave up (timeout): nothing to answer

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.pki.server_cert), str(self.pki.server_key))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.handle_error = lambda *_a: None  # type: ignore[method-assign]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- the remote API ---------------------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        """HTTP basic auth against the configured user and password."""
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if header == f"Basic {expected}":
            return True
        with self.lock:
            self.auth_failures += 1
        return False

    def answer(self, params: dict[str, list[str]]) -> tuple[int, str, float]:
        """(HTTP status, body, seconds to wait before answering) for one authorized call."""
        program = (params.get("program") or [""])[0]
        with self.lock:
            self.calls.append((program, params))
            delay = 0.0
            if self.slow_calls > 0:
                self.slow_calls -= 1
                delay = self.slow_seconds
            if self.fail_5xx > 0:
                self.fail_5xx -= 1
                return 500, "Internal Server Error", delay
            if not program:
                return 200, "This CGI is designed to be invoked by other programs\n", delay
            handler = getattr(self, "_" + program.replace("-", "_"), None)
            if handler is None:
                return 200, f"ERROR: Program {program} does not exist\n", delay
            flags = {k: v for k, v in params.items() if k not in ("program", "json")}
            try:
                output, data = handler(flags)
            except CommandError as failure:
                body = self._format(program, params, failure.message, failed=True)
                return 200, body, delay
            return 200, self._format(program, params, output, data=data), delay

    def _format(self, program: str, params: dict[str, list[str]], output: str,
                data: list[dict[str, Any]] | None = None, failed: bool = False) -> str:
        if "json" not in params:
            return output + f"\nExit status: {1 if failed else 0}\n"
        answer: dict[str, Any] = {"command": program, "status": "failure" if failed else "success"}
        if failed:
            answer["error"] = next(line for line in output.splitlines() if line.strip())
            answer["full_error"] = output
        elif data is not None:
            answer["data"] = data
        else:
            answer["output"] = output
        return json.dumps(answer)

    def _domain(self, flags: dict[str, list[str]]) -> Domain:
        name = (flags.get("domain") or [""])[0].lower()
        if not name:
            raise CommandError("No domain specified")
        domain = self.domains.get(name)
        if domain is None:
            raise CommandError(f"Virtual server {name} does not exist")
        return domain

    def _list_domains(self, flags: dict[str, list[str]]) -> tuple[str, list[dict[str, Any]] | None]:
        names = [n.lower() for n in flags.get("domain", [])]
        for name in names:
            if name not in self.domains:
                raise CommandError(f"Virtual server {name} does not exist")
        chosen = [self.domains[n] for n in names] if names else list(self.domains.values())
        if "multiline" not in flags:
            lines = [f"{d.name:<30} {d.username:<15} {d.description}" for d in chosen]
            return "\n".join(lines) + "\n", None
        data = []
        for d in chosen:
            values = {"id": [d.id], "type": ["Top-level server"], "description": [d.description],
                      "template": [d.template], "plan": [d.plan], "username": [d.username],
                      "created_on": ["Wed Nov 25 10:00:00 2026"]}
            if d.disabled:
                values["disabled"] = [f"Manually ({d.disabled_why})" if d.disabled_why
                                      else "Manually"]
            data.append({"name": d.name, "values": values})
        return "", data

    def _create_domain(self, flags: dict[str, list[str]]) -> tuple[str, None]:
        name = (flags.get("domain") or [""])[0].lower()
        if not name:
            raise CommandError("Missing --domain parameter")
        if not (flags.get("pass") or [""])[0]:
            raise CommandError("Missing --pass parameter")
        if name in self.domains:
            raise CommandError("You are already hosting this domain")
        plan = (flags.get("plan") or ["Basic"])[0]
        if plan not in self.plans:
            raise CommandError(f"Plan {plan} does not exist")
        self._next_id += 1
        username = (flags.get("user") or [name.split(".")[0][:16]])[0]
        self.domains[name] = Domain(name, str(self._next_id), username,
                                    (flags.get("desc") or [""])[0], plan,
                                    (flags.get("template") or ["Default Settings"])[0])
        return (f"Beginning server creation ..\n\nCreating virtual server {name} ..\n"
                ".. done\n\nAll done!\n"), None

    def _disable_domain(self, flags: dict[str, list[str]]) -> tuple[str, None]:
        domain = self._domain(flags)
        if domain.disabled:
            raise CommandError(f"Virtual server {domain.name} is already disabled")
        domain.disabled, domain.disabled_why = True, (flags.get("why") or [""])[0]
        return f"Disabling virtual server {domain.name} ..\n\n.. done\n\nAll done!\n", None

    def _enable_domain(self, flags: dict[str, list[str]]) -> tuple[str, None]:
        domain = self._domain(flags)
        if not domain.disabled:
            raise CommandError(f"Virtual server {domain.name} is not disabled")
        domain.disabled, domain.disabled_why = False, ""
        return f"Enabling virtual server {domain.name} ..\n\n.. done\n\nAll done!\n", None

    def _delete_domain(self, flags: dict[str, list[str]]) -> tuple[str, None]:
        domain = self._domain(flags)
        del self.domains[domain.name]
        return f"Deleting virtual server {domain.name} ..\n.. done\n\nAll done!\n", None


class CommandError(Exception):
    """A command's usage/validation error; remote.cgi reports its first line as ``error``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
