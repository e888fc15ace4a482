"""An unknown charge is given up only after its gateway's own waiting time.

A gateway that cannot look a request up by our key (PayPal) learns the answer from its
webhook, which may come days later; charging again after an hour could charge twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from praho.core.hookspecs import hookimpl
from praho.core.services.payment_attempts import UNKNOWN_GIVE_UP, give_up_after
from praho.core.services.payments import add_payment_method, charge_invoice, settle_unknown_attempts
from praho.core.testing import DEFAULT_NOW, StaticTestPlugin
from praho.plugins.fake_gateway.gateway import FakeGateway
from praho.plugins.paypal_gateway.gateway import PayPalGateway

NOW = DEFAULT_NOW


@dataclass
class WebhookOnlyGateway(FakeGateway):
    """The fake gateway under another id, answering late like PayPal (a third party's)."""

    id: str = "fake_late"
    unknown_give_up: timedelta = timedelta(days=4)


class Registers:
    gateway = WebhookOnlyGateway()

    @hookimpl
    def register_payment_gateways(self):
        return [self.gateway]


@pytest.fixture
def praho_plugins():
    return [("static_test", StaticTestPlugin()), ("late_gateway", Registers())]


def test_a_gateway_sets_its_own_waiting_time_never_shorter_than_the_default():
    assert give_up_after(PayPalGateway()) == timedelta(days=4)
    assert give_up_after(FakeGateway()) == UNKNOWN_GIVE_UP
    assert give_up_after(WebhookOnlyGateway(unknown_give_up=timedelta(minutes=1))) == (
        UNKNOWN_GIVE_UP
    )


def test_an_unknown_charge_waits_for_the_gateway_before_it_is_given_up(
    praho_factory, praho_session
):
    customer = praho_factory.customer()
    add_payment_method(praho_session, customer=customer, gateway_id="fake_late",
                       setup_reference="tok_timeout_lost")
    invoice = praho_factory.invoice(customer, [("Web Hosting", "1", "100.00")], now=NOW)
    attempt = charge_invoice(praho_session, invoice, now=NOW)
    assert attempt.status == "unknown"
    # Two hours (past the default hour): still waiting for this gateway's answer.
    report = settle_unknown_attempts(praho_session, now=NOW + timedelta(hours=2))
    assert (report.still_open, report.given_up, attempt.status) == (1, 0, "unknown")
    report = settle_unknown_attempts(praho_session, now=NOW + timedelta(days=4, minutes=1))
    assert report.given_up == 1
    assert (attempt.status, attempt.error_code) == ("error", "outcome_lost")
