"""PayPal deliveries through /webhooks/paypal: every adversarial case changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from praho.core.models import AuditEvent, Dispute, WebhookEvent
from praho.core.models.disputes import DisputeStatus
from praho.plugins.paypal_gateway.testing import CERT_NAME
from sqlalchemy import func, select


def dispute_body(event_id="WH-DISPUTE-1", kind="CUSTOMER.DISPUTE.CREATED", outcome=None):
    resource = {
        "dispute_id": "PP-D-1001",
        "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
        "status": "OPEN",
        "dispute_amount": {"currency_code": "EUR", "value": "50.00"},
        "disputed_transactions": [{"seller_transaction_id": "CAP0000000000007"}],
    }
    if outcome:
        resource.update(status="RESOLVED", dispute_outcome={"outcome_code": outcome})
    return json.dumps(
        {
            "id": event_id,
            "event_version": "1.0",
            "create_time": "2026-11-25T09:00:00Z",
            "resource_type": "dispute",
            "event_type": kind,
            "summary": "A dispute",
            "resource": resource,
        }
    ).encode()


def counts(database):
    with database.transaction() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(m))
            for m in (WebhookEvent, Dispute, AuditEvent)
        )


def post(app, body, headers):
    return app.test_client().post("/webhooks/paypal", data=body, headers=headers)


def test_signed_delivery_is_applied_once(praho_app, praho_committing, paypal_standin):
    body = dispute_body()
    assert post(praho_app, body, paypal_standin.sign_delivery(body)).json["status"] == "received"
    assert counts(praho_committing)[:2] == (1, 1)  # applied (Celery is eager in tests)
    again = post(
        praho_app, body, paypal_standin.sign_delivery(body)
    )  # PayPal's retry: new transmission
    assert again.status_code == 200 and again.json["duplicate"] is True
    resolved = dispute_body("WH-DISPUTE-2", "CUSTOMER.DISPUTE.RESOLVED", "RESOLVED_SELLER_FAVOUR")
    assert post(praho_app, resolved, paypal_standin.sign_delivery(resolved)).status_code == 200
    with praho_committing.transaction() as session:
        dispute = session.execute(select(Dispute)).scalar_one()
        assert (dispute.status, dispute.amount_minor, dispute.payment_reference) == (
            DisputeStatus.WON,
            5000,
            "CAP0000000000007",
        )
    assert counts(praho_committing)[:2] == (2, 1)
    assert paypal_standin.cert_fetches == 1  # cached after the first verification


def _tampered(standin, case):
    body = dispute_body()
    headers = standin.sign_delivery(body)
    now = datetime.now(UTC)
    cert = standin.cert_url()
    url_tricks = {
        "cert over http": cert.replace("https://", "http://"),
        "cert on another host": cert.replace(standin.pki.tls_host, "api.paypal.com.evil.test"),
        "cert host with port": cert.replace(standin.pki.tls_host, standin.pki.tls_host + ":443"),
        "cert url with userinfo": cert.replace("https://", "https://api.sandbox.paypal.com@"),
        "cert path outside certs": cert.replace("/v1/notifications/certs/", "/v1/other/"),
        "cert path traversal": cert.replace(CERT_NAME, "../../oauth2/token"),
        "cert url with query": cert + "?x=1",
        "cert url percent-encoded": cert.replace("certs/", "certs%2F"),
        "cert redirect": standin.cert_url("redirect"),
        "cert missing at host": standin.cert_url("CERT-unknown"),
    }
    if case in url_tricks:
        return body, {**headers, "PAYPAL-CERT-URL": url_tricks[case]}, 400
    if case.startswith("cert "):
        name = f"CERT-{case.split()[1]}"
        chain, key = standin.pki.variant(case.split()[1])
        standin.certs[name] = chain
        return body, standin.sign_delivery(body, key=key, cert_url=standin.cert_url(name)), 400
    other = dispute_body(event_id="WH-OTHER")
    return {
        "missing headers": (body, {"Content-Type": "application/json"}, 400),
        "bad signature": (
            body,
            {
                **headers,
                "PAYPAL-TRANSMISSION-SIG": standin.sign_delivery(other)["PAYPAL-TRANSMISSION-SIG"],
            },
            400,
        ),
        "signature not base64": (body, {**headers, "PAYPAL-TRANSMISSION-SIG": "***"}, 400),
        "crc mismatch (body changed)": (body.replace(b"50.00", b"5.00"), headers, 400),
        "re-serialised body": (json.dumps(json.loads(body), indent=1).encode(), headers, 400),
        "other webhook id": (
            body,
            standin.sign_delivery(body, webhook_id="8PT597110X687430LKGECATA"),
            400,
        ),
        "wrong algorithm": (body, {**headers, "PAYPAL-AUTH-ALGO": "SHA1withRSA"}, 400),
        "stale": (body, standin.sign_delivery(body, when=now - timedelta(seconds=181)), 400),
        "future": (body, standin.sign_delivery(body, when=now + timedelta(seconds=181)), 400),
        "bad time": (body, {**headers, "PAYPAL-TRANSMISSION-TIME": "yesterday"}, 400),
        "signed non-JSON": (b"not json", standin.sign_delivery(b"not json"), 400),
        "signed JSON without resource": (
            b'{"id": "x", "event_type": "y"}',
            standin.sign_delivery(b'{"id": "x", "event_type": "y"}'),
            400,
        ),
        "oversized": (body + b" " * 300_000, standin.sign_delivery(body + b" " * 300_000), 413),
    }[case]


CASES = [
    "missing headers",
    "bad signature",
    "signature not base64",
    "crc mismatch (body changed)",
    "re-serialised body",
    "other webhook id",
    "wrong algorithm",
    "stale",
    "future",
    "bad time",
    "signed non-JSON",
    "signed JSON without resource",
    "oversized",
    "cert over http",
    "cert on another host",
    "cert host with port",
    "cert url with userinfo",
    "cert path outside certs",
    "cert path traversal",
    "cert url with query",
    "cert url percent-encoded",
    "cert redirect",
    "cert missing at host",
    "cert expired",
    "cert future",
    "cert wrong_cn",
    "cert self_signed",
    "cert other_ca",
]


@pytest.mark.parametrize("case", CASES)
def test_adversarial_deliveries_change_nothing(praho_app, praho_committing, paypal_standin, case):
    body, headers, status = _tampered(paypal_standin, case)
    before = counts(praho_committing)
    answer = post(praho_app, body, headers)
    assert answer.status_code == status, answer.json
    assert answer.json["error"] == "rejected"
    assert counts(praho_committing) == before


def test_no_webhook_id_refuses_everything(praho_app, praho_committing, paypal_standin):
    from praho.plugins.paypal_gateway.settings import EXTENSION_KEY, parse_settings

    praho_app.extensions[EXTENSION_KEY] = parse_settings(paypal_standin.settings())
    body = dispute_body()
    before = counts(praho_committing)
    answer = post(praho_app, body, paypal_standin.sign_delivery(body))
    assert answer.status_code == 503 and "PRAHO_PAYPAL_WEBHOOK_ID" in answer.json["message"]
    assert counts(praho_committing) == before


class TestOnlineVerification:
    @pytest.fixture
    def paypal_verification(self):
        return "online"

    def test_verified_by_paypal(self, praho_app, praho_committing, paypal_standin):
        body = dispute_body()
        answer = post(praho_app, body, paypal_standin.sign_delivery(body))
        assert answer.status_code == 200 and answer.json["status"] == "received"
        assert counts(praho_committing)[:2] == (1, 1)
        assert paypal_standin.requests[-1][1] == "/v1/notifications/verify-webhook-signature"
        assert paypal_standin.cert_fetches == 0

    @pytest.mark.parametrize(
        "case", ["bad signature", "other webhook id", "stale", "signed non-JSON"]
    )
    def test_refused(self, praho_app, praho_committing, paypal_standin, case):
        body, headers, status = _tampered(paypal_standin, case)
        before = counts(praho_committing)
        assert post(praho_app, body, headers).status_code == status
        assert counts(praho_committing) == before

    def test_verify_api_down_is_503(self, praho_app, praho_committing, paypal_standin):
        body = dispute_body()
        headers = paypal_standin.sign_delivery(body)
        paypal_standin.fail_next(status=500)
        before = counts(praho_committing)
        answer = post(praho_app, body, headers)
        assert answer.status_code == 503 and counts(praho_committing) == before
