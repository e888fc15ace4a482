"""Price locks (grant, change, revoke, conflicts, bad input), CLI, beat entry and task."""

from __future__ import annotations

from datetime import date

import pytest
from praho.core.errors import ValidationFailed
from praho.core.models import AuditEvent, EmailMessage, Subscription
from praho.core.services.catalog import add_price_version
from praho.core.tasks import build_beat_schedule
from praho.core.testing import PrahoFactory, at
from praho.plugins.grandfathering.errors import LockConflict, LockNotActive
from praho.plugins.grandfathering.locks import change_lock, grant_lock, revoke_lock
from praho.plugins.grandfathering.models import PriceLock, PriceMigration, PriceNotice
from praho.plugins.grandfathering.settings import parse_settings
from praho.plugins.grandfathering.tasks import run_price_migrations
from sqlalchemy import func, select


def _counts(session):
    return tuple(
        session.execute(select(func.count(model.id))).scalar_one()
        for model in (PriceLock, AuditEvent, PriceNotice, EmailMessage)
    )


def test_grant_change_revoke_are_audited(praho_factory, praho_session):
    price = praho_factory.price()
    customer = praho_factory.customer()
    lock = grant_lock(
        praho_session,
        customer=customer,
        price=price,
        unit_amount_minor=4500,
        reason="contract 2024/17",
        expires_on=date(2026, 12, 31),
        now=at("2026-03-01"),
    )
    with pytest.raises(LockConflict):
        grant_lock(
            praho_session,
            customer=customer,
            price=price,
            unit_amount_minor=4000,
            reason="again",
            now=at("2026-03-02"),
        )
    change_lock(
        praho_session, lock, reason="extended", expires_on=date(2027, 6, 30), now=at("2026-03-03")
    )
    revoke_lock(praho_session, lock, reason="contract ended", now=at("2026-03-04"))
    with pytest.raises(LockNotActive):
        change_lock(
            praho_session, lock, reason="too late", unit_amount_minor=1, now=at("2026-03-05")
        )
    events = (
        praho_session.execute(
            select(AuditEvent).where(AuditEvent.object_type == "price_lock").order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    assert [e.action for e in events] == [
        "price_lock.granted",
        "price_lock.changed",
        "price_lock.revoked",
    ]
    assert events[1].data["before"]["expires_on"] == "2026-12-31"
    assert events[1].data["after"]["expires_on"] == "2027-06-30"
    assert events[0].amount_minor == 4500 and events[0].data["reason"] == "contract 2024/17"


def test_bad_lock_input_is_refused_and_writes_nothing(praho_factory, praho_session):
    price = praho_factory.price()
    euro = praho_factory.price(currency="EUR")
    customer, other = praho_factory.customer(), praho_factory.customer()
    theirs = praho_factory.subscription(price, other)
    before = _counts(praho_session)
    with pytest.raises(ValidationFailed) as failed:
        grant_lock(
            praho_session,
            customer=customer,
            price=price,
            unit_amount_minor=-5,
            reason="",
            expires_on=date(2026, 1, 1),
            now=at("2026-03-01"),
        )
    assert {e.field for e in failed.value.errors} == {"unit_amount_minor", "reason", "expires_on"}
    with pytest.raises(ValidationFailed, match="belongs to another customer"):
        grant_lock(
            praho_session,
            customer=customer,
            price=price,
            unit_amount_minor=100,
            reason="x",
            subscription=theirs,
            now=at("2026-03-01"),
        )
    with pytest.raises(ValidationFailed, match="no item on"):
        grant_lock(
            praho_session,
            customer=other,
            price=euro,
            unit_amount_minor=100,
            reason="x",
            subscription=theirs,
            now=at("2026-03-01"),
        )
    assert _counts(praho_session) == before


def test_a_cheaper_catalog_beats_a_lock(praho_factory, praho_session):
    from praho.plugins.grandfathering.testing import Clock, renewals

    price = praho_factory.price()
    customer = praho_factory.customer()
    subscription = praho_factory.subscription(price, customer, start="2026-01-31")
    grant_lock(
        praho_session,
        customer=customer,
        price=price,
        unit_amount_minor=4800,
        reason="promise",
        now=at("2026-02-01"),
    )
    add_price_version(
        praho_session,
        price,
        unit_amount_minor=4000,
        effective_from=date(2026, 3, 1),
        now=at("2026-02-01"),
    )
    Clock(praho_session).run("2026-02-01", "2026-03-31")
    assert [r[1] for r in renewals(praho_session, subscription)] == [5000, 4800, 4000]


def test_settings_are_parsed_and_refused_with_names():
    assert parse_settings({"notice_days": "45"}).notice_days == 45
    from praho.core.errors import PluginError

    with pytest.raises(PluginError, match="notice_days"):
        parse_settings({"notice_days": "soon"})
    with pytest.raises(PluginError, match="unknown settings"):
        parse_settings({"noticedays": 3})


def test_cli_dry_run_lists_and_changes_nothing_then_migrate_does(praho_committing, praho_app):
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        price = factory.price(code="HOST-PRO-M")
        customer = factory.customer(code="ACME")
        subscription_id = factory.subscription(price, customer, start="2026-01-31").id
        add_price_version(
            session,
            price,
            unit_amount_minor=6000,
            effective_from=date(2026, 3, 1),
            now=at("2026-02-10"),
        )
    runner = praho_app.test_cli_runner()
    dry = runner.invoke(args=["pricelocks", "migrate", "--date", "2026-03-01", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would notify: subscription {subscription_id}" in dry.output
    assert "(dry run, nothing changed)" in dry.output
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count(PriceNotice.id))).scalar_one() == 0
    done = runner.invoke(args=["pricelocks", "migrate", "--date", "2026-03-01"])
    assert done.exit_code == 0 and f"notify: subscription {subscription_id}" in done.output
    again = runner.invoke(args=["pricelocks", "migrate", "--date", "2026-03-01"])
    assert again.output.strip() == "0 actions"
    granted = runner.invoke(
        args=[
            "pricelocks",
            "grant",
            "--customer",
            "ACME",
            "--price",
            "HOST-PRO-M",
            "--amount",
            "5000",
            "--reason",
            "goodwill",
            "--expires",
            "2027-01-01",
        ]
    )
    assert granted.exit_code == 0 and "at 5000 RON, until 2027-01-01" in granted.output
    bad = runner.invoke(
        args=[
            "pricelocks",
            "grant",
            "--customer",
            "ACME",
            "--price",
            "HOST-PRO-M",
            "--amount",
            "5000",
            "--reason",
            "twice",
        ]
    )
    assert bad.exit_code == 1 and "already keeps ACME" in bad.output
    listed = runner.invoke(args=["pricelocks", "list"])
    assert "goodwill [by cli:praho-cli]" in listed.output
    with praho_committing.transaction() as session:
        assert session.get(Subscription, subscription_id) is not None
        assert session.execute(select(PriceMigration.status)).scalar_one() == "notified"


def test_beat_entry_and_task(praho_committing, praho_app):
    schedule = build_beat_schedule(praho_app)
    assert (
        schedule["grandfathering-price-migrations"]["task"]
        == "praho.plugins.grandfathering.run_price_migrations"
    )
    assert run_price_migrations.delay().get() == {}
