"""A throw-away certificate authority for tests of PayPal webhook verification.

Builds, with ``cryptography``, a root CA, a PayPal-like signing certificate
(CN ``messageverificationcerts.paypal.com``), a TLS certificate for the certificate host,
and the bad variants tests need (expired, wrong CN, self-signed, signed by another CA).
"""

from __future__ import annotations

import base64
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

SIGNING_CN = "messageverificationcerts.paypal.com"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PRAHO Test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def issue(
    subject_cn: str,
    key: rsa.RSAPrivateKey,
    *,
    issuer: x509.Certificate | None = None,
    issuer_key: rsa.RSAPrivateKey | None = None,
    ca: bool = False,
    dns: list[str] | None = None,
    not_before: datetime | None = None,
    days: int = 365,
) -> x509.Certificate:
    """A certificate for ``key``; self-signed when no issuer is given."""
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject_cn))
        .issuer_name(issuer.subject if issuer else _name(subject_cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if dns:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False
        )
    return builder.sign(issuer_key or key, hashes.SHA256())


def pem(*certs: x509.Certificate) -> bytes:
    """Certificates as one PEM bundle."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass
class TestPKI:
    """A root CA with a signing leaf and a TLS certificate for ``tls_host``."""

    __test__ = False  # not a pytest test class
    tls_host: str = "api.sandbox.paypal.com"
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="praho-pki-")))

    def __post_init__(self) -> None:
        self.ca_key = _key()
        self.ca = issue("PRAHO Test Root CA", self.ca_key, ca=True, days=3650)
        self.signing_key = _key()
        self.signing_cert = issue(
            SIGNING_CN, self.signing_key, issuer=self.ca, issuer_key=self.ca_key
        )
        self.tls_key = _key()
        self.tls_cert = issue(
            self.tls_host, self.tls_key, issuer=self.ca, issuer_key=self.ca_key, dns=[self.tls_host]
        )
        self.ca_file = self.directory / "ca.pem"
        self.ca_file.write_bytes(pem(self.ca))
        self.tls_cert_file = self.directory / "tls.pem"
        self.tls_cert_file.write_bytes(pem(self.tls_cert))
        self.tls_key_file = self.directory / "tls.key"
        self.tls_key_file.write_bytes(
            self.tls_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def variant(self, kind: str) -> tuple[bytes, rsa.RSAPrivateKey]:
        """A (PEM chain, signing key) pair: ``good``, ``expired``, ``future``, ``wrong_cn``,
        ``self_signed`` or ``other_ca``."""
        key = _key()
        if kind == "good":
            return pem(self.signing_cert, self.ca), self.signing_key
        if kind == "expired":
            cert = issue(
                SIGNING_CN,
                key,
                issuer=self.ca,
                issuer_key=self.ca_key,
                not_before=datetime.now(UTC) - timedelta(days=400),
                days=30,
            )
        elif kind == "future":
            cert = issue(
                SIGNING_CN,
                key,
                issuer=self.ca,
                issuer_key=self.ca_key,
                not_before=datetime.now(UTC) + timedelta(days=10),
            )
        elif kind == "wrong_cn":
            cert = issue(
                "messageverificationcerts.paypal.com.evil.test",
                key,
                issuer=self.ca,
                issuer_key=self.ca_key,
            )
        elif kind == "self_signed":
            cert = issue(SIGNING_CN, key)
        elif kind == "other_ca":
            other_key = _key()
            other = issue("PRAHO Test Root CA", other_key, ca=True)  # same name, other key
            cert = issue(SIGNING_CN, key, issuer=other, issuer_key=other_key)
            return pem(cert, other), key
        else:
            raise ValueError(f"unknown certificate variant {kind!r}")
        return pem(cert), key


def sign_message(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """RSA PKCS#1 v1.5 / SHA-256 signature, base64 (PAYPAL-TRANSMISSION-SIG)."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def new_transmission_id() -> str:
    """A transmission id shaped like PayPal's."""
    return str(uuid.uuid1())
