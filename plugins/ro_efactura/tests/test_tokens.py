"""Tokens at rest: encrypted per CUI, never shown; settings never print secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from praho.plugins.ro_efactura.anaf_client import TokenSet
from praho.plugins.ro_efactura.errors import AnafAuthError
from praho.plugins.ro_efactura.settings import EfacturaSettings, parse_settings
from praho.plugins.ro_efactura.tests.conftest import TOKEN_KEY
from praho.plugins.ro_efactura.tokens import seal, store_tokens, unseal

SETTINGS = EfacturaSettings(token_key=TOKEN_KEY, client_secret="very-secret")
NOW = datetime(2026, 3, 2, tzinfo=UTC)


def test_sealed_token_is_bound_to_its_cui():
    sealed = seal(SETTINGS, "14399840", "access-abc")
    assert b"access-abc" not in sealed
    assert unseal(SETTINGS, "14399840", sealed) == "access-abc"
    with pytest.raises(AnafAuthError, match="does not decrypt"):
        unseal(SETTINGS, "18547290", sealed)
    with pytest.raises(AnafAuthError, match="does not decrypt"):
        unseal(EfacturaSettings(token_key=TOKEN_KEY, environment="prod"), "14399840", sealed)


def test_missing_or_short_key_is_a_clear_error():
    with pytest.raises(AnafAuthError, match="PRAHO_EFACTURA_TOKEN_KEY is not set"):
        seal(EfacturaSettings(), "1", "x")
    with pytest.raises(AnafAuthError, match="at least 32 bytes"):
        seal(EfacturaSettings(token_key="c2hvcnQ"), "1", "x")


def test_secrets_never_appear_in_reprs(praho_session):
    tokens = TokenSet(
        "access-secret", "refresh-secret", NOW + timedelta(days=90), NOW + timedelta(days=365)
    )
    row = store_tokens(praho_session, "14399840", tokens, settings=SETTINGS, now=NOW)
    for text in (repr(tokens), repr(row), repr(SETTINGS)):
        assert "secret" not in text.replace("client_secret=***", "")


def test_settings_are_parsed_and_checked():
    parsed = parse_settings(
        {
            "environment": "prod",
            "timeout_seconds": "12.5",
            "report_foreign_buyers": "true",
            "api_url": None,
        }
    )
    assert parsed.base_url == "https://api.anaf.ro/prod/FCTEL/rest"
    assert parsed.timeout_seconds == 12.5 and parsed.report_foreign_buyers
    from praho.core.errors import PluginError

    with pytest.raises(PluginError, match="'test' or 'prod'"):
        parse_settings({"environment": "staging"})
    with pytest.raises(PluginError, match="unknown settings"):
        parse_settings({"enviroment": "test"})
