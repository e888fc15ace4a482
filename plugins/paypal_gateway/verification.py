"""PayPal webhook signatures, checked offline (certificate, CRC32, RSA-SHA256) or online.

Offline, the signed message is ``f"{transmission_id}|{transmission_time}|{webhook_id}|{crc32}"``
with the CRC32 of the raw body, verified with RSA PKCS#1 v1.5 / SHA-256 against the public
key of the certificate at ``PAYPAL-CERT-URL``. That URL is attacker-supplied, so it is
fetched only when it is https on an allow-listed PayPal host, with no userinfo, no port,
no query and a path under ``/v1/notifications/certs/``; redirects are not followed. The
certificate must chain to the configured CA bundle, be within its validity dates and have
a CN ending in ``.paypal.com``. Verified certificates are cached by URL.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import socket
import ssl
import threading
import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from praho.core.webhooks.source import WebhookRejected
from praho.plugins.paypal_gateway.settings import PayPalSettings

CERT_PATH_PREFIX = "/v1/notifications/certs/"
MAX_CERT_BYTES = 64 * 1024
_CACHE: dict[tuple[str, str | None], x509.Certificate] = {}
_CACHE_LOCK = threading.Lock()


def check_cert_url(url: str, allowed_hosts: tuple[str, ...]) -> str:
    """The URL's host when the URL passes the allow-list; WebhookRejected otherwise."""
    if not url or len(url) > 2048 or any(c in url for c in "\\%@\r\n\t ") or not url.isascii():
        raise WebhookRejected("PAYPAL-CERT-URL is missing or has forbidden characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookRejected("PAYPAL-CERT-URL is not a valid URL") from None
    host = (parts.hostname or "").lower()
    if parts.scheme != "https":
        raise WebhookRejected("PAYPAL-CERT-URL must be https")
    if parts.username is not None or parts.password is not None or port is not None:
        raise WebhookRejected("PAYPAL-CERT-URL must not carry userinfo or a port")
    if host not in allowed_hosts or parts.netloc.lower() != host:
        raise WebhookRejected(f"PAYPAL-CERT-URL host {host!r} is not an allowed PayPal host")
    if (
        not parts.path.startswith(CERT_PATH_PREFIX)
        or parts.query
        or parts.fragment
        or "/." in parts.path
        or "//" in parts.path[1:]
    ):
        raise WebhookRejected("PAYPAL-CERT-URL path is not a PayPal certificate path")
    return host


class _ResolvedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to ``host`` (SNI and certificate name) through another address (tests' stand-in)."""

    def __init__(
        self, host: str, address: tuple[str, int], *, context: ssl.SSLContext, timeout: float
    ) -> None:
        super().__init__(host, 443, context=context, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection(self._address, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _download(url: str, host: str, settings: PayPalSettings) -> bytes:
    context = ssl.create_default_context(cafile=settings.ca_bundle)
    target = next(
        ((address, port) for name, address, port in settings.cert_resolve if name == host),
        (host, 443),
    )
    connection = _ResolvedHTTPSConnection(
        host, target, context=context, timeout=settings.timeout_seconds
    )
    try:
        connection.request(
            "GET", urlsplit(url).path, headers={"Accept": "application/x-pem-file, */*"}
        )
        response = connection.getresponse()
        if response.status != 200:
            raise WebhookRejected(
                f"PAYPAL-CERT-URL answered HTTP {response.status} (redirects are not followed)"
            )
        body = response.read(MAX_CERT_BYTES + 1)
    except (OSError, http.client.HTTPException) as exc:
        raise WebhookRejected(
            f"PAYPAL-CERT-URL could not be fetched: {type(exc).__name__}", http_status=503
        ) from None
    finally:
        connection.close()
    if len(body) > MAX_CERT_BYTES:
        raise WebhookRejected("PAYPAL-CERT-URL answer is too large")
    return body


def _trust_anchors(settings: PayPalSettings) -> list[x509.Certificate]:
    path = settings.ca_bundle or ssl.get_default_verify_paths().cafile
    if not path:
        raise WebhookRejected("no CA bundle configured for PayPal certificates", http_status=503)
    with open(path, "rb") as handle:
        return x509.load_pem_x509_certificates(handle.read())


def check_certificate_chain(
    chain: list[x509.Certificate], anchors: list[x509.Certificate], now: datetime
) -> x509.Certificate:
    """The leaf of ``chain`` once it is proven to chain to an anchor, in date, for *.paypal.com."""
    if not chain:
        raise WebhookRejected("PAYPAL-CERT-URL holds no certificate")
    for cert in chain:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise WebhookRejected("PayPal signing certificate chain is expired or not yet valid")
    leaf = chain[0]
    names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names or not str(names[0].value).lower().endswith(".paypal.com"):
        raise WebhookRejected("PayPal signing certificate CN does not end in .paypal.com")
    try:
        for cert, issuer in zip(chain, chain[1:], strict=False):
            _is_ca(issuer)
            cert.verify_directly_issued_by(issuer)
        top = chain[-1]
        for anchor in anchors:
            if (
                anchor.subject == top.issuer
                and anchor.not_valid_before_utc <= now <= anchor.not_valid_after_utc
            ):
                _is_ca(anchor)
                top.verify_directly_issued_by(anchor)
                return leaf
            if anchor == top:
                return leaf
    except (ValueError, TypeError, InvalidSignature):
        raise WebhookRejected("PayPal signing certificate chain does not verify") from None
    raise WebhookRejected("PayPal signing certificate does not chain to a trusted CA")


def _is_ca(cert: x509.Certificate) -> None:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise ValueError("issuer without basic constraints") from None
    if not constraints.ca:
        raise ValueError("issuer is not a CA")


def signing_certificate(url: str, settings: PayPalSettings, now: datetime) -> x509.Certificate:
    """The verified certificate at ``url`` (cached per URL and CA bundle)."""
    host = check_cert_url(url, settings.cert_hosts)
    key = (url, settings.ca_bundle)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None and cached.not_valid_before_utc <= now <= cached.not_valid_after_utc:
        return cached
    try:
        chain = x509.load_pem_x509_certificates(_download(url, host, settings))
    except ValueError:
        raise WebhookRejected("PAYPAL-CERT-URL does not hold PEM certificates") from None
    leaf = check_certificate_chain(chain, _trust_anchors(settings), now)
    with _CACHE_LOCK:
        _CACHE[key] = leaf
    return leaf


def clear_certificate_cache() -> None:
    """Forget every verified certificate (tests; or after changing the CA bundle)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def signed_message(
    transmission_id: str, transmission_time: str, webhook_id: str, body: bytes
) -> bytes:
    """What PayPal signs: ids, time and the CRC32 of the raw body, joined by ``|``."""
    crc = zlib.crc32(body) & 0xFFFFFFFF
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}".encode()


def verify_offline(
    headers: Mapping[str, str], body: bytes, settings: PayPalSettings, now: datetime
) -> None:
    """Check the RSA-SHA256 signature with the certificate the delivery points to."""
    if (headers.get("PAYPAL-AUTH-ALGO") or "") != "SHA256withRSA":
        raise WebhookRejected("PAYPAL-AUTH-ALGO must be SHA256withRSA")
    try:
        signature = base64.b64decode(headers.get("PAYPAL-TRANSMISSION-SIG") or "", validate=True)
    except (binascii.Error, ValueError):
        raise WebhookRejected("PAYPAL-TRANSMISSION-SIG is not base64") from None
    if not signature:
        raise WebhookRejected("PAYPAL-TRANSMISSION-SIG is missing")
    certificate = signing_certificate(headers.get("PAYPAL-CERT-URL") or "", settings, now)
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise WebhookRejected("PayPal signing certificate has no RSA key")
    message = signed_message(
        headers["PAYPAL-TRANSMISSION-ID"],
        headers["PAYPAL-TRANSMISSION-TIME"],
        settings.webhook_id or "",
        body,
    )
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise WebhookRejected("PAYPAL-TRANSMISSION-SIG does not match the body") from None


def verify_online(
    headers: Mapping[str, str], event: dict[str, Any], settings: PayPalSettings
) -> None:
    """Ask PayPal's verify API; anything but SUCCESS is refused (its outage: 503, retried)."""
    from praho.core.payments.gateway import GatewayError
    from praho.plugins.paypal_gateway import paypal_api

    request = {
        "auth_algo": headers.get("PAYPAL-AUTH-ALGO") or "",
        "cert_url": headers.get("PAYPAL-CERT-URL") or "",
        "transmission_id": headers.get("PAYPAL-TRANSMISSION-ID") or "",
        "transmission_sig": headers.get("PAYPAL-TRANSMISSION-SIG") or "",
        "transmission_time": headers.get("PAYPAL-TRANSMISSION-TIME") or "",
        "webhook_id": settings.webhook_id or "",
        "webhook_event": event,
    }
    try:
        answer = paypal_api.verify_webhook_signature(settings, request)
    except (GatewayError, Exception) as exc:  # noqa: BLE001 - any failure means "not verified now"
        raise WebhookRejected(
            f"PayPal verify API unavailable ({type(exc).__name__})", http_status=503
        ) from None
    if answer.status != 200 or answer.body.get("verification_status") != "SUCCESS":
        raise WebhookRejected("PayPal verify API says the signature is not valid")
