"""Usage alerts: thresholds per subscription and meter, fired once per period.

After a batch of events is stored, the alerts of the (subscription, meter) pairs it
touched are checked against the current period's quantity (the period the customer is
in, billed in arrears at the next renewal). An alert that is reached is recorded in
``usage_alert_firings``, unique per (alert, period start): that row is what makes it
fire once, even when two batches cross the threshold at the same moment. Firing queues
an e-mail (key per alert and period) and calls the ``usage_threshold_reached`` hook.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError, ValidationFailed
from praho.core.models.customers import Customer
from praho.core.models.subscriptions import Subscription
from praho.core.services.bulk_sql import ids_in
from praho.core.services.mail import queue_email
from praho.core.services.subscription_state import has_implementations, hooks
from praho.plugins.usage_metering.aggregation import period_quantity, window_of
from praho.plugins.usage_metering.meters import charges_for_prices
from praho.plugins.usage_metering.models import Meter, UsageAlert, UsageAlertFiring
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


def add_usage_alert(
    session: Session,
    *,
    subscription: Subscription,
    meter: Meter,
    quantity: Any = None,
    percent: Any = None,
    email: str | None = None,
    now: datetime | None = None,
) -> UsageAlert:
    """Alert when the period's quantity reaches ``quantity`` or ``percent`` of included units."""
    errors = v.Collector()
    if (quantity is None) == (percent is None):
        errors.errors.append(FieldError("threshold", "give quantity or percent, not both"))
    if quantity is not None:
        quantity = errors.check(
            v.decimal,
            "quantity",
            quantity,
            places=6,
            minimum=Decimal("0.000001"),
            maximum=v.MAX_QUANTITY,
        )
    if percent is not None:
        percent = errors.check(
            v.decimal,
            "percent",
            percent,
            places=4,
            minimum=Decimal("0.0001"),
            maximum=Decimal(10000),
        )
    if email is not None:
        email = errors.check(v.email, "email", email)
    errors.raise_if_any()
    if percent is not None and _included_units(session, subscription, meter) is None:
        raise ValidationFailed(
            [
                FieldError(
                    "percent",
                    f"subscription {subscription.id} has no included units of {meter.code}",
                )
            ]
        )
    alert = UsageAlert(
        subscription_id=subscription.id,
        meter_id=meter.id,
        threshold_quantity=quantity,
        threshold_percent=percent,
        email=email,
        active=True,
        created_at=resolve_now(now),
    )
    session.add(alert)
    session.flush()
    return alert


def _included_units(session: Session, subscription: Subscription, meter: Meter) -> Decimal | None:
    for charge in charges_for_prices(session, [i.price_id for i in subscription.active_items]):
        if charge.meter_id == meter.id and charge.included_units:
            return charge.included_units
    return None


def threshold_of(
    session: Session, alert: UsageAlert, subscription: Subscription, meter: Meter
) -> Decimal | None:
    """The alert's threshold as a quantity (None when its percent has nothing to apply to)."""
    if alert.threshold_quantity is not None:
        return alert.threshold_quantity
    included = _included_units(session, subscription, meter)
    if included is None or alert.threshold_percent is None:
        return None
    return included * alert.threshold_percent / 100


def check_alerts(
    session: Session, touched: Iterable[tuple[int, int]], *, now: datetime | None = None
) -> list[UsageAlertFiring]:
    """Fire the alerts reached by the (subscription id, meter id) pairs just written."""
    pairs = set(touched)
    if not pairs:
        return []
    moment = resolve_now(now)
    subscription_ids = sorted({sub for sub, _ in pairs})
    alerts = [
        a
        for a in session.execute(
            select(UsageAlert).where(
                UsageAlert.active.is_(True),
                ids_in(session, UsageAlert.subscription_id, subscription_ids),
            )
        ).scalars()
        if (a.subscription_id, a.meter_id) in pairs
    ]
    fired = []
    for alert in alerts:
        firing = _check_one(session, alert, moment)
        if firing is not None:
            fired.append(firing)
    return fired


def _check_one(session: Session, alert: UsageAlert, now: datetime) -> UsageAlertFiring | None:
    subscription = session.get(Subscription, alert.subscription_id)
    meter = session.get(Meter, alert.meter_id)
    assert subscription is not None and meter is not None
    start, end = subscription.current_period_start, subscription.current_period_end
    already = session.execute(
        select(UsageAlertFiring.id).where(
            UsageAlertFiring.alert_id == alert.id, UsageAlertFiring.period_start == start
        )
    ).first()
    if already is not None:
        return None
    threshold = threshold_of(session, alert, subscription, meter)
    if threshold is None:
        return None
    _raw, quantity = period_quantity(session, meter, subscription.id, *window_of(start, end))
    if quantity < threshold:
        return None
    firing = UsageAlertFiring(
        alert_id=alert.id,
        period_start=start,
        period_end=end,
        threshold=threshold,
        quantity=quantity,
        fired_at=now,
    )
    try:
        with session.begin_nested():
            session.add(firing)
            session.flush()
    except IntegrityError:
        # Another batch crossed the same threshold at the same moment and fired it.
        return None
    customer = session.get(Customer, subscription.customer_id)
    assert customer is not None
    queue_email(
        session,
        to=alert.email or customer.email,
        template="usage_threshold",
        language=customer.language if customer.language in ("ro", "en") else "ro",
        key=f"usage-alert-{alert.id}-{start.isoformat()}",
        related=("subscription", subscription.id),
        now=now,
        context={
            "customer": customer.legal_name,
            "subscription_id": subscription.id,
            "meter": meter.name_en if customer.language == "en" and meter.name_en else meter.name,
            "unit": meter.unit,
            "quantity": format(quantity.normalize(), "f"),
            "threshold": format(threshold.normalize(), "f"),
            "percent": None
            if alert.threshold_percent is None
            else format(alert.threshold_percent.normalize(), "f"),
            "period_start": start.strftime("%d.%m.%Y"),
            "period_end": (end - timedelta(days=1)).strftime("%d.%m.%Y"),
        },
    )
    if has_implementations("usage_threshold_reached"):
        hooks().usage_threshold_reached(
            session=session,
            subscription=subscription,
            meter=meter,
            alert=alert,
            quantity=quantity,
            threshold=threshold,
            period_start=start,
            period_end=end,
        )
    return firing
