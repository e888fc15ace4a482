"""Usage alerts: once per period, by e-mail and through the usage_threshold_reached hook."""

from __future__ import annotations

from datetime import timedelta

import pytest
from praho.core.errors import ValidationFailed
from praho.core.hookspecs import hookimpl
from praho.core.models.mail import EmailMessage
from praho.core.services.billing import bill_subscriptions
from praho.core.testing import StaticTestPlugin, at
from praho.plugins.usage_metering import record_usage_events
from praho.plugins.usage_metering.alerts import add_usage_alert
from praho.plugins.usage_metering.models import UsageAlert, UsageAlertFiring
from praho.plugins.usage_metering.tests.conftest import DURING, RENEWAL
from sqlalchemy import func, select


class ThresholdRecorder:
    """Records every usage_threshold_reached call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    @hookimpl
    def usage_threshold_reached(
        self, subscription, meter, alert, quantity, threshold, period_start, period_end
    ):
        self.calls.append(
            (subscription.id, meter.code, alert.id, quantity, threshold, period_start, period_end)
        )


@pytest.fixture
def recorder():
    return ThresholdRecorder()


@pytest.fixture
def praho_plugins(recorder):
    return [("static_test", StaticTestPlugin()), ("threshold_recorder", recorder)]


def messages(session):
    return (
        session.execute(
            select(EmailMessage)
            .where(EmailMessage.template == "usage_threshold")
            .order_by(EmailMessage.id)
        )
        .scalars()
        .all()
    )


def test_hook_usage_threshold_reached(praho_session, metered, recorder):
    alert = add_usage_alert(
        praho_session,
        subscription=metered.subscription,
        meter=metered.storage,
        percent="80",
        now=DURING,
    )
    # 10 GB included: 80% is 8 GB. 7 GB does not reach it.
    record_usage_events(praho_session, [metered.event("a", "7")], now=DURING)
    assert recorder.calls == []
    record_usage_events(praho_session, [metered.event("b", "0.5")], now=DURING)
    # 7.5 rounds up to 8 (the meter rounds up to whole GB): reached.
    sub = metered.subscription
    assert recorder.calls == [
        (sub.id, "storage_gb", alert.id, 8, 8, sub.current_period_start, sub.current_period_end)
    ]
    record_usage_events(praho_session, [metered.event("c", "50")], now=DURING)
    assert len(recorder.calls) == 1, "fires once per period"
    [mail] = messages(praho_session)
    assert mail.to_address == metered.customer.email
    assert mail.subject.startswith("Alertă de consum")
    assert "80% din unitățile incluse" in mail.body_text


def test_alert_fires_again_in_the_next_period(praho_session, metered, recorder):
    add_usage_alert(
        praho_session,
        subscription=metered.subscription,
        meter=metered.mailboxes,
        quantity="3",
        email="ops@example.ro",
        now=DURING,
    )
    record_usage_events(praho_session, [metered.event("m1", 4, meter="mailboxes")], now=DURING)
    bill_subscriptions(praho_session, [metered.subscription.id], now=RENEWAL)
    march = at("2026-03-03")
    record_usage_events(
        praho_session,
        [metered.event("m2", 5, meter="mailboxes", when=march)],
        now=march + timedelta(hours=1),
    )
    firings = (
        praho_session.execute(select(UsageAlertFiring.period_start).order_by(UsageAlertFiring.id))
        .scalars()
        .all()
    )
    assert [str(d) for d in firings] == ["2026-01-31", "2026-02-28"]
    assert [m.to_address for m in messages(praho_session)] == ["ops@example.ro"] * 2
    assert len(recorder.calls) == 2


def test_bad_alert_changes_nothing(praho_session, metered):
    for kwargs in (
        {},
        {"quantity": "1", "percent": "5"},
        {"quantity": "-1"},
        {"percent": "80", "email": "not-an-email"},
    ):
        with pytest.raises(ValidationFailed):
            add_usage_alert(
                praho_session,
                subscription=metered.subscription,
                meter=metered.storage,
                now=DURING,
                **kwargs,
            )
    assert praho_session.execute(select(func.count()).select_from(UsageAlert)).scalar() == 0
