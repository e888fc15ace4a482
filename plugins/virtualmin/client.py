"""The one place that talks to Virtualmin: ``/virtual-server/remote.cgi`` over HTTPS.

Every call is a POST (so a new account's password never sits in a URL or an access log)
with HTTP basic auth, ``program=<command>`` and ``json=1``. Virtualmin answers HTTP 200
with ``{"command", "status": "success"|"failure", "output" | "data" | "error"}``; a
request it cannot even start (unknown program, user without remote API rights) is a
plain-text ``ERROR: ...`` line; a bad password is HTTP 401 from Webmin itself.

Errors are typed by what the caller should do: :class:`VirtualminUnavailable` (network,
timeout, 5xx) is worth retrying; :class:`VirtualminAuthFailed`, :class:`VirtualminTLSError`
and :class:`VirtualminProtocolError` need a person; :class:`VirtualminCommandFailed`
carries Virtualmin's own error line so the caller can tell "already disabled" (success
for us) from a real failure. TLS verification is always on; ``ca_bundle`` adds trust.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests
from praho.core.errors import PrahoError
from praho.plugins.virtualmin.settings import ServerConfig

REMOTE_PATH = "/virtual-server/remote.cgi"
USER_AGENT = "PRAHO-Billing/1 (+provisioning)"
MAX_BODY_BYTES = 20_000_000


class VirtualminError(PrahoError):
    """Base of every failure talking to a Virtualmin server."""

    code = "virtualmin_error"
    retryable = False
    http_status_code: int | None = None


class VirtualminUnavailable(VirtualminError):
    """No usable answer this time (connection refused, timeout, HTTP 5xx): retry later."""

    code = "virtualmin_unavailable"
    retryable = True


class VirtualminAuthFailed(VirtualminError):
    """The server refused our credentials (HTTP 401/403): fix the configuration."""

    code = "virtualmin_auth_failed"


class VirtualminTLSError(VirtualminError):
    """The server's certificate is not trusted (set ``ca_bundle``); never bypassed."""

    code = "virtualmin_tls_error"


class VirtualminProtocolError(VirtualminError):
    """An answer that is not Virtualmin's JSON (``ERROR:`` line, HTML, garbage)."""

    code = "virtualmin_protocol_error"


class VirtualminCommandFailed(VirtualminError):
    """The command ran and failed; ``error`` is Virtualmin's first error line."""

    code = "virtualmin_command_failed"

    def __init__(self, command: str, error: str) -> None:
        super().__init__(f"{command}: {error}")
        self.command = command
        self.error = error


@dataclass(frozen=True)
class DomainInfo:
    """One virtual server as ``list-domains --multiline`` describes it."""

    name: str
    disabled: bool
    description: str = ""
    username: str = ""
    plan: str = ""
    values: dict[str, list[str]] = field(default_factory=dict, repr=False)


class VirtualminClient:
    """Calls one configured server; one instance per server, no state between calls."""

    def __init__(self, server: ServerConfig) -> None:
        self.server = server
        self.endpoint = server.url + REMOTE_PATH

    def call(self, program: str, params: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """Run ``program`` with ``params`` (an empty value is a bare ``--flag``); the JSON."""
        body = [("program", program), ("json", "1"), *(params or [])]
        where = f"Virtualmin {self.server.name} ({program})"
        try:
            response = requests.post(
                self.endpoint,
                data=body,
                auth=(self.server.user, self.server.password),
                timeout=self.server.timeout_seconds,
                verify=self.server.ca_bundle or True,
                allow_redirects=False,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json, text/plain"},
            )
        except requests.exceptions.SSLError as error:
            raise VirtualminTLSError(
                f"{where}: TLS certificate not trusted ({_reason(error)}); "
                "set ca_bundle to the server's CA or certificate"
            ) from None
        except requests.Timeout:
            raise VirtualminUnavailable(
                f"{where}: no answer within {self.server.timeout_seconds:g} s"
            ) from None
        except requests.RequestException as error:
            raise VirtualminUnavailable(f"{where}: {type(error).__name__}") from None
        return self._parse(response, program, where)

    def _parse(self, response: requests.Response, program: str, where: str) -> dict[str, Any]:
        status = response.status_code
        if status in (401, 403):
            failure = VirtualminAuthFailed(
                f"{where}: HTTP {status}, the server refused user {self.server.user!r}"
            )
            failure.http_status_code = status
            raise failure
        if status >= 500:
            failure_5xx = VirtualminUnavailable(f"{where}: HTTP {status}")
            failure_5xx.http_status_code = status
            raise failure_5xx
        text = response.content[:MAX_BODY_BYTES].decode("utf-8", errors="replace")
        if status != 200:
            raise VirtualminProtocolError(f"{where}: HTTP {status}")
        if text.startswith("ERROR:"):
            raise VirtualminProtocolError(f"{where}: {text.splitlines()[0][:300]}")
        try:
            answer = json.loads(text)
        except ValueError:
            raise VirtualminProtocolError(f"{where}: the answer is not JSON") from None
        if not isinstance(answer, dict) or answer.get("status") not in ("success", "failure"):
            raise VirtualminProtocolError(f"{where}: the answer has no success/failure status")
        if answer["status"] == "failure":
            error = str(answer.get("error") or answer.get("full_error") or "failed").strip()
            raise VirtualminCommandFailed(program, error[:400])
        return answer

    # --- the commands the plugin uses -------------------------------------------------

    def list_domains(self, domain: str | None = None) -> list[DomainInfo]:
        """Every top-level virtual server (or just ``domain``), with its disabled flag."""
        params = [("multiline", ""), ("toplevel", "")]
        if domain:
            params.append(("domain", domain))
        answer = self.call("list-domains", params)
        domains = []
        for entry in answer.get("data") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
                continue
            values = {str(k): [str(v) for v in vs] for k, vs in entry["values"].items()
                      if isinstance(vs, list)}
            domains.append(DomainInfo(
                name=str(entry.get("name", "")).lower(),
                disabled=bool(values.get("disabled")),
                description=_first(values, "description"),
                username=_first(values, "username"),
                plan=_first(values, "plan"),
                values=values,
            ))
        return domains

    def create_domain(self, domain: str, *, password: str, description: str, plan: str,
                      template: str = "", username: str = "") -> None:
        """Create a top-level virtual server with the plan's features and limits."""
        params = [("domain", domain), ("pass", password), ("desc", description),
                  ("plan", plan), ("features-from-plan", ""), ("limits-from-plan", "")]
        if template:
            params.append(("template", template))
        if username:
            params.append(("user", username))
        self.call("create-domain", params)

    def disable_domain(self, domain: str, *, why: str) -> None:
        """Disable (suspend) a virtual server."""
        self.call("disable-domain", [("domain", domain), ("why", why)])

    def enable_domain(self, domain: str) -> None:
        """Enable a disabled virtual server."""
        self.call("enable-domain", [("domain", domain)])

    def delete_domain(self, domain: str) -> None:
        """Delete a virtual server and everything in it."""
        self.call("delete-domain", [("domain", domain)])


def _first(values: dict[str, list[str]], key: str) -> str:
    found = values.get(key) or [""]
    return found[0]


def _reason(error: Exception) -> str:
    text = str(error)
    for marker in ("CERTIFICATE_VERIFY_FAILED", "hostname mismatch", "self-signed", "self signed"):
        if marker.lower() in text.lower():
            return marker
    return type(error).__name__
