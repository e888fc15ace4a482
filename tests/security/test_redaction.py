"""Secrets never reach a log line, a traceback or a stored payload copy."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from praho.core.redaction import (
    REDACTED,
    REDACTED_PAN,
    REDACTOR,
    RedactingFilter,
    redact_payload,
    redact_text,
    secret_values,
)
from praho.core.testing import fuzz_settings, fuzz_tried

# Built by concatenation so the repository scan never sees a realistic key in this file.
STRIPE_KEY = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIK2LhUUBe"
CLIENT_SECRET = "pi_3Ma8Tx2eZvKYlo2C" + "_secret_" + "fGkqL0kC9V3uLlQ"
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N"
VISA = "4242 4242 4242 4242"


@pytest.mark.parametrize("text,leaked,kept", [
    (f"charging with {STRIPE_KEY}", STRIPE_KEY, "sk_live_"),
    (f"verify {WEBHOOK_SECRET} failed", WEBHOOK_SECRET, "whsec_"),
    (f"intent {CLIENT_SECRET}", "fGkqL0kC9V3uLlQ", "pi_3Ma8Tx2eZvKYlo2C"),
    ("Authorization: Bearer abc.def-ghi_jkl~mno", "abc.def-ghi_jkl~mno", "Bearer"),
    (f"token {JWT}", JWT, "token"),
    ("postgresql+psycopg://praho:" + "Tr0ub4dor@db:5432/praho", "Tr0ub4dor", "praho:"),
    ('{"client_secret": "abc123def456", "amount": 100}', "abc123def456", '"amount": 100'),
    ("password=hunter2hunter2&user=x", "hunter2hunter2", "user=x"),
    (f"card {VISA} declined", VISA, "declined"),
    ("card 4242-4242-4242-4242", "4242-4242-4242-4242", "card"),
    ("-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
     "MIIEp", "PRIVATE KEY"),
])
def test_secret_shapes_are_redacted(text, leaked, kept):
    redacted = redact_text(text)
    assert leaked not in redacted and kept in redacted
    assert REDACTED in redacted or REDACTED_PAN in redacted or "REDACTED" in redacted


@pytest.mark.parametrize("text", [
    "invoice PRH-2026-000123 issued for 1.234,56 RON",
    "upload index 5001234567, CUI 14399840, CNP-less customer",
    "listaMesaje startTime=1700000000000 endTime=1700086400000",  # timestamps, not cards
    "IBAN RO49AAAA1B31007593840000",
])
def test_ordinary_text_is_left_alone(text):
    assert redact_text(text) == text


def test_registered_secret_values_are_redacted_anywhere():
    REDACTOR.add_secret("correct-horse-battery-staple")
    REDACTOR.add_secret("short")  # too short to redact safely: ignored
    assert redact_text("the key is correct-horse-battery-staple!") == f"the key is {REDACTED}!"
    assert redact_text("a short word") == "a short word"


def test_secret_values_found_in_settings():
    found = secret_values({"SECRET_KEY": "flask-secret-value", "SESSION_COOKIE_SECURE": "yes",
                           "BROKER_URL": "redis://:broker-pass@redis:6379/0",
                           "EFACTURA": {"client_secret": "anaf-secret-value", "api_url": "x"}})
    assert set(found) == {"flask-secret-value", "broker-pass", "anaf-secret-value"}


def test_every_log_record_is_redacted_after_create_app(praho_app, caplog):
    """create_app installed the redacting record factory; the app's own secret is known."""
    logger = logging.getLogger("praho.test.redaction")
    secret_key = praho_app.config["SECRET_KEY"]
    with caplog.at_level(logging.INFO, logger="praho.test.redaction"):
        logger.info("config %s and key %s", secret_key, STRIPE_KEY)
        try:
            raise RuntimeError(f"gateway refused {STRIPE_KEY} for card {VISA}")
        except RuntimeError:
            logger.exception("payment failed with %s", WEBHOOK_SECRET)
    text = caplog.text
    for leaked in (secret_key, STRIPE_KEY, WEBHOOK_SECRET, VISA):
        assert leaked not in text
    assert "payment failed" in text and "RuntimeError" in text


def test_filter_for_outside_handlers():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key=%s", (STRIPE_KEY,), None)
    assert RedactingFilter().filter(record) is True
    assert STRIPE_KEY not in record.getMessage()


def test_payload_copies_are_redacted():
    payload = {
        "id": "evt_1", "type": "payment_intent.succeeded",
        "data": {"object": {
            "id": "pi_3Ma8Tx2eZvKYlo2C", "amount": 4900, "client_secret": CLIENT_SECRET,
            "payment_method_details": {"card": {"last4": "4242", "cvc_check": "pass",
                                                "number": VISA, "cvc": "123"}},
            "customer_ip": "203.0.113.9", "metadata": {"invoice": "PRH-2026-1"},
            "charges": [{"receipt_url": f"https://x?token={JWT}"}],
        }},
    }
    copy = redact_payload(payload)
    text = repr(copy)
    for leaked in (CLIENT_SECRET, VISA, "203.0.113.9", JWT, "'123'"):
        assert leaked not in text
    card = copy["data"]["object"]["payment_method_details"]["card"]
    assert card["last4"] == "4242" and card["cvc"] == REDACTED and card["number"] == REDACTED_PAN
    assert copy["data"]["object"]["metadata"] == {"invoice": "PRH-2026-1"}
    assert payload["data"]["object"]["client_secret"] == CLIENT_SECRET  # input untouched
    assert redact_payload({"token_type": "bearer"}, keep=["token_type"]) == {"token_type": "bearer"}


@fuzz_settings(factor=5)
@given(prefix=st.text(max_size=30), suffix=st.text(max_size=30),
       secret=st.sampled_from([STRIPE_KEY, WEBHOOK_SECRET, JWT, VISA, CLIENT_SECRET]))
def test_secrets_never_survive_redaction_whatever_surrounds_them(prefix, suffix, secret):
    fuzz_tried("redaction: secrets in arbitrary text")
    assert secret not in redact_text(f"{prefix} {secret} {suffix}")
    assert secret not in repr(redact_payload({"note": f"{prefix} {secret}", "list": [secret]}))


# Pieces that sit near the edges of the patterns: the quick check must never skip a text
# that full redaction would change.
_FRAGMENTS = [STRIPE_KEY, WEBHOOK_SECRET, JWT, VISA, CLIENT_SECRET, "rk_test_abcdef123",
              "Bearer ", "basic\t", "DIGEST ", "token=", "api-key: ", "Private_Key=",
              "https://user:pw0rd@host", "-----BEGIN EC " + "PRIVATE KEY-----", "A21AA",
              "4000 0566 5566 5556", "5555-5555-5555-4444", "1234567890123", "42424242",
              '"secret": "', "passwd:", " ", "-", ",", "\n", "x", "_"]


@fuzz_settings(factor=5)
@given(pieces=st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=12)),
                       max_size=8))
def test_quick_check_never_skips_what_full_redaction_would_change(pieces):
    fuzz_tried("redaction: quick check agrees with full redaction")
    text = "".join(pieces)
    assert REDACTOR.redact(text) == REDACTOR.redact_fully(text)


def test_quick_check_lets_ordinary_payload_strings_through_unchanged():
    ordinary = ["dp_1Nk2x3", "warning_needs_response", "ron", "fraudulent", "evt_123",
                "2026-12-05T10:00:00Z", "PRH-2026-000123"]
    for text in ordinary:
        assert REDACTOR.redact(text) == text == REDACTOR.redact_fully(text)


def test_a_string_remembered_as_clean_is_redacted_once_it_holds_a_new_secret():
    from praho.core.redaction import Redactor

    redactor = Redactor()
    text = "order note ABCD1234EFGH"
    assert redactor.redact(text) == text  # clean, and now remembered as clean
    assert redactor.redact(text) == text
    redactor.add_secret("ABCD1234EFGH")
    assert redactor.redact(text) == f"order note {REDACTED}"


def test_field_verdicts_remembered_without_keep_do_not_override_keep():
    assert redact_payload({"token_type": "bearer"}) == {"token_type": REDACTED}
    assert redact_payload({"token_type": "bearer"}, keep=["token_type"]) == {
        "token_type": "bearer"}
    assert redact_payload({"Token_Type": "bearer", "note": "x"}) == {
        "Token_Type": REDACTED, "note": "x"}


def test_containers_nested_past_the_limit_are_replaced_whole():
    deep: object = {"leaf": "value"}
    for _ in range(70):
        deep = {"next": deep}
    walked = redact_payload(deep)
    for _ in range(64):
        walked = walked["next"]
    assert walked == {"next": REDACTED}
