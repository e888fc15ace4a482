"""OAuth tokens at rest: AES-256-GCM, a key per CUI derived from PRAHO_EFACTURA_TOKEN_KEY.

The master key comes only from the environment (32 random bytes, base64). Each CUI's
tokens are sealed with a key derived from it by HKDF (info = environment and CUI) and
the CUI as associated data, so a row copied onto another CUI does not decrypt. Tokens
are refreshed ``refresh_margin`` before the access token expires and are never logged.
"""

from __future__ import annotations

import base64
import binascii
import os
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from praho.core.db import is_postgres
from praho.plugins.ro_efactura.anaf_client import AnafClient, TokenSet
from praho.plugins.ro_efactura.errors import AnafAuthError
from praho.plugins.ro_efactura.models import EfacturaToken
from praho.plugins.ro_efactura.settings import EfacturaSettings
from sqlalchemy import select
from sqlalchemy.orm import Session

NONCE_BYTES = 12


def _master_key(settings: EfacturaSettings) -> bytes:
    if not settings.token_key:
        raise AnafAuthError(
            "PRAHO_EFACTURA_TOKEN_KEY is not set; generate one with "
            "python -c 'import os,base64;print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
        )
    try:
        key = base64.urlsafe_b64decode(
            settings.token_key.encode() + b"=" * (-len(settings.token_key) % 4)
        )
    except (binascii.Error, ValueError):
        raise AnafAuthError("PRAHO_EFACTURA_TOKEN_KEY is not base64") from None
    if len(key) < 32:
        raise AnafAuthError("PRAHO_EFACTURA_TOKEN_KEY must decode to at least 32 bytes")
    return key


def _cipher(settings: EfacturaSettings, cui: str) -> AESGCM:
    info = f"praho-efactura-token:{settings.environment}:{cui}".encode()
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        _master_key(settings)
    )
    return AESGCM(derived)


def seal(settings: EfacturaSettings, cui: str, secret: str) -> bytes:
    """Encrypt a token for one CUI: nonce || ciphertext+tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _cipher(settings, cui).encrypt(nonce, secret.encode(), cui.encode())


def unseal(settings: EfacturaSettings, cui: str, sealed: bytes) -> str:
    """Decrypt a token sealed by :func:`seal` for the same CUI and environment."""
    try:
        plain = _cipher(settings, cui).decrypt(
            sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], cui.encode()
        )
    except InvalidTag:
        raise AnafAuthError(
            f"the stored ANAF token of CUI {cui} does not decrypt with the "
            "current PRAHO_EFACTURA_TOKEN_KEY; authorize again"
        ) from None
    return plain.decode()


def store_tokens(
    session: Session, cui: str, tokens: TokenSet, *, settings: EfacturaSettings, now: datetime
) -> EfacturaToken:
    """Save (or replace) the tokens of a CUI in the configured environment."""
    row = _row(session, cui, settings, lock=True)
    if row is None:
        row = EfacturaToken(cui=cui, environment=settings.environment, created_at=now)
        session.add(row)
    row.access_token_enc = seal(settings, cui, tokens.access_token)
    row.refresh_token_enc = seal(settings, cui, tokens.refresh_token)
    row.access_expires_at = tokens.access_expires_at
    row.refresh_expires_at = tokens.refresh_expires_at
    row.updated_at = now
    session.flush()
    return row


def access_token_for(
    session: Session,
    cui: str,
    *,
    client: AnafClient,
    settings: EfacturaSettings,
    now: datetime,
    force_refresh: bool = False,
) -> str:
    """A valid access token for ``cui``, refreshed first when it expires within the margin."""
    row = _row(session, cui, settings, lock=True)
    if row is None:
        raise AnafAuthError(
            f"no ANAF OAuth token for CUI {cui} ({settings.environment}); "
            "authorize with `praho efactura authorize`"
        )
    if not force_refresh and row.access_expires_at - settings.refresh_margin > now:
        return unseal(settings, cui, row.access_token_enc)
    if row.refresh_expires_at <= now:
        raise AnafAuthError(
            f"the ANAF refresh token of CUI {cui} expired on "
            f"{row.refresh_expires_at:%Y-%m-%d}; authorize again"
        )
    fresh = client.refresh_tokens(unseal(settings, cui, row.refresh_token_enc), now=now)
    store_tokens(session, cui, fresh, settings=settings, now=now)
    return fresh.access_token


def token_status(session: Session, settings: EfacturaSettings) -> list[EfacturaToken]:
    """Every stored token row of the configured environment (no secrets decrypted)."""
    query = select(EfacturaToken).where(EfacturaToken.environment == settings.environment)
    return list(session.execute(query.order_by(EfacturaToken.cui)).scalars())


def _row(
    session: Session, cui: str, settings: EfacturaSettings, *, lock: bool
) -> EfacturaToken | None:
    query = select(EfacturaToken).where(
        EfacturaToken.cui == cui, EfacturaToken.environment == settings.environment
    )
    if lock and is_postgres(session):
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()
