"""Subscription lifecycle -> Virtualmin, through real service calls and the HTTPS stand-in."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from praho.core.clock import utcnow
from praho.core.models.audit import ActorType, AuditEvent
from praho.core.models.catalog import Product
from praho.core.models.subscriptions import Subscription, SubscriptionStatus
from praho.core.services import subscriptions as subs
from praho.core.services.audit import Actor
from praho.core.services.subscription_state import get_subscription, hooks
from praho.core.testing import PrahoFactory, at
from praho.plugins.virtualmin import runner
from praho.plugins.virtualmin.actions import list_failed_actions, retry_action
from praho.plugins.virtualmin.models import (
    AccountState,
    ActionKind,
    ActionStatus,
    VirtualminAccount,
    VirtualminAction,
    VirtualminAttempt,
)
from praho.plugins.virtualmin.settings import current_settings
from sqlalchemy import func, select

_SERIAL = itertools.count(1)


def hosting(database, domain: str, *, code: str = "HOST-PRO", start: str = "2026-03-01") -> int:
    """A subscription to a product whose code maps (or not) to a Virtualmin plan; its id."""
    serial = next(_SERIAL)
    with database.transaction() as session:
        factory = PrahoFactory(session)
        product = session.execute(select(Product).where(Product.code == code)).scalar_one_or_none()
        product = product or factory.product(code=code)
        price = factory.price(product, code=f"{code}-{domain}-{serial}")
        subscription = factory.subscription(price, start=start,
                                            attributes={"domain": domain})
        return subscription.id


def actions(database, subscription_id: int) -> list[VirtualminAction]:
    with database.transaction() as session:
        rows = session.execute(
            select(VirtualminAction).where(VirtualminAction.subscription_id == subscription_id)
            .order_by(VirtualminAction.id)).scalars().all()
        session.expunge_all()
        return list(rows)


def account(database, subscription_id: int) -> VirtualminAccount:
    with database.transaction() as session:
        row = session.execute(select(VirtualminAccount).where(
            VirtualminAccount.subscription_id == subscription_id)).scalar_one()
        session.expunge(row)
        return row


def change(database, subscription_id: int, service, **kwargs) -> None:
    with database.transaction() as session:
        service(session, get_subscription(session, subscription_id), **kwargs)


def test_activation_creates_the_account_with_its_plan_and_marker(praho_committing, standin):
    sub_id = hosting(praho_committing, "client-one.ro")

    domain = standin.domains["client-one.ro"]
    assert (domain.plan, domain.description, domain.disabled) == (
        "Pro", f"PRAHO subscription {sub_id}", False)
    [create] = actions(praho_committing, sub_id)
    assert (create.kind, create.status, create.attempts) == (ActionKind.CREATE,
                                                             ActionStatus.SUCCEEDED, 1)
    assert account(praho_committing, sub_id).confirmed_state == AccountState.ENABLED
    # The password went in the POST body, never in the URL the server logs.
    program, params = standin.calls[0]
    assert program == "create-domain" and params["pass"][0]


def test_subscription_without_a_mapped_plan_is_not_provisioned(praho_committing, standin):
    sub_id = hosting(praho_committing, "mail-only.ro", code="MAIL-BASIC")

    assert actions(praho_committing, sub_id) == []
    assert standin.calls == []


def test_suspend_reactivate_terminate_follow_the_subscription(praho_committing, standin):
    sub_id = hosting(praho_committing, "client-two.ro")

    change(praho_committing, sub_id, subs.suspend_subscription, reason="non_payment",
           now=at("2026-03-20", 10))
    assert standin.domains["client-two.ro"].disabled
    assert "in billing" in standin.domains["client-two.ro"].disabled_why

    change(praho_committing, sub_id, subs.reactivate_after_payment, now=at("2026-03-21", 10))
    assert not standin.domains["client-two.ro"].disabled

    # Terminated now (wall clock): the deletion waits for the grace period from this instant.
    terminated_at = utcnow()
    change(praho_committing, sub_id, subs.terminate_subscription, reason="abuse",
           now=terminated_at)
    assert standin.domains["client-two.ro"].disabled
    delete = actions(praho_committing, sub_id)[-1]
    assert (delete.kind, delete.status) == (ActionKind.DELETE, ActionStatus.PENDING)
    assert delete.next_attempt_at == terminated_at + timedelta(days=14)

    settings = current_settings()
    runner.run_due(praho_committing, settings=settings, now=terminated_at + timedelta(days=13))
    assert "client-two.ro" in standin.domains  # still within the grace period
    runner.run_due(praho_committing, settings=settings, now=terminated_at + timedelta(days=14))
    assert "client-two.ro" not in standin.domains
    assert [(a.kind, a.status) for a in actions(praho_committing, sub_id)] == [
        (ActionKind.CREATE, ActionStatus.SUCCEEDED), (ActionKind.DISABLE, ActionStatus.SUCCEEDED),
        (ActionKind.ENABLE, ActionStatus.SUCCEEDED), (ActionKind.DISABLE, ActionStatus.SUCCEEDED),
        (ActionKind.DELETE, ActionStatus.SUCCEEDED)]
    assert account(praho_committing, sub_id).confirmed_state == AccountState.DELETED
    assert standin.programs_called() == [
        "create-domain", "disable-domain", "enable-domain", "disable-domain",
        "list-domains", "delete-domain"]


def test_same_hook_twice_records_one_action_and_calls_once(praho_committing, standin):
    sub_id = hosting(praho_committing, "twice.ro")
    with praho_committing.transaction() as session:
        subscription = subs.suspend_subscription(
            session, get_subscription(session, sub_id), reason="manual", now=at("2026-03-10"))
        hooks().subscription_suspended(session=session, subscription=subscription, reason="manual")
    with praho_committing.transaction() as session:
        subscription = get_subscription(session, sub_id)
        hooks().subscription_suspended(session=session, subscription=subscription, reason="manual")

    disables = [a for a in actions(praho_committing, sub_id) if a.kind == ActionKind.DISABLE]
    assert len(disables) == 1 and disables[0].status == ActionStatus.SUCCEEDED
    assert standin.programs_called().count("disable-domain") == 1


def test_timeout_is_retried_with_backoff_and_the_lost_answer_is_idempotent(
        praho_committing, standin):
    sub_id = hosting(praho_committing, "slow.ro")
    standin.slow_seconds, standin.slow_calls = 1.5, 1

    change(praho_committing, sub_id, subs.suspend_subscription, reason="non_payment",
           now=at("2026-03-20", 10))

    disable = actions(praho_committing, sub_id)[-1]
    assert (disable.status, disable.attempts) == (ActionStatus.PENDING, 1)
    assert "no answer within 0.5 s" in disable.last_error
    # The server did disable it; only the answer was lost.
    assert standin.domains["slow.ro"].disabled

    settings = current_settings()
    too_early = disable.next_attempt_at - timedelta(seconds=1)
    assert runner.run_due(praho_committing, settings=settings, now=too_early) == 0
    runner.run_due(praho_committing, settings=settings, now=disable.next_attempt_at)

    disable = actions(praho_committing, sub_id)[-1]
    assert (disable.status, disable.last_error) == (ActionStatus.SUCCEEDED, None)
    with praho_committing.transaction() as session:
        outcomes = session.execute(select(VirtualminAttempt.outcome).where(
            VirtualminAttempt.action_id == disable.id).order_by(VirtualminAttempt.number)
        ).scalars().all()
    assert outcomes == ["retry", "succeeded"]
    assert standin.programs_called().count("disable-domain") == 2


def test_server_errors_exhaust_the_attempts_then_a_person_retries(praho_committing, standin,
                                                                   app_cli):
    sub_id = hosting(praho_committing, "flaky.ro")
    standin.fail_5xx = 10
    change(praho_committing, sub_id, subs.suspend_subscription, reason="non_payment",
           now=at("2026-03-20", 10))
    settings = current_settings()
    delays = []
    while (pending := actions(praho_committing, sub_id)[-1]).status == ActionStatus.PENDING:
        delays.append(pending.next_attempt_at - pending.updated_at)
        runner.run_due(praho_committing, settings=settings, now=pending.next_attempt_at)
    assert delays == [timedelta(seconds=60), timedelta(seconds=120)]  # exponential backoff

    disable = actions(praho_committing, sub_id)[-1]
    assert (disable.status, disable.attempts) == (ActionStatus.FAILED, settings.max_attempts)
    assert "HTTP 500" in disable.last_error
    with praho_committing.transaction() as session:
        assert [a.id for a in list_failed_actions(session)] == [disable.id]
    assert not standin.domains["flaky.ro"].disabled

    standin.fail_5xx = 0
    result = app_cli.invoke(args=["virtualmin", "retry", str(disable.id)])
    assert result.exit_code == 0, result.output
    assert f"action {disable.id}: succeeded" in result.output
    assert standin.domains["flaky.ro"].disabled
    with praho_committing.transaction() as session:
        assert list_failed_actions(session) == []


def test_auth_failure_is_recorded_as_failed_and_not_retried(praho_committing, standin, app_cli):
    sub_id = hosting(praho_committing, "locked.ro")
    standin.password = "rotated-on-the-server"

    change(praho_committing, sub_id, subs.suspend_subscription, reason="non_payment",
           now=at("2026-03-20", 10))
    disable = actions(praho_committing, sub_id)[-1]
    assert disable.status == ActionStatus.FAILED and disable.attempts == 1
    assert "HTTP 401" in disable.last_error and "rotated" not in disable.last_error
    runner.run_due(praho_committing, settings=current_settings(), now=at("2026-05-01"))
    assert standin.auth_failures == 1

    with praho_committing.transaction() as session:
        status = get_subscription(session, sub_id).status
    assert status == SubscriptionStatus.SUSPENDED  # billing went on regardless

    listed = app_cli.invoke(args=["virtualmin", "failed"])
    assert f"{disable.id}  disable locked.ro on default (subscription {sub_id}): " in listed.output
    assert "HTTP 401" in listed.output

    standin.password = "stand-in-password"
    with praho_committing.transaction() as session:
        retry_action(session, disable.id, actor=Actor(ActorType.USER, "ops@praho.test"))
    assert actions(praho_committing, sub_id)[-1].status == ActionStatus.SUCCEEDED
    assert standin.domains["locked.ro"].disabled
    with praho_committing.transaction() as session:
        audit = session.execute(select(AuditEvent).where(
            AuditEvent.action == "virtualmin.action_retried")).scalar_one()
        assert (audit.object_id, audit.actor_id) == (str(disable.id), "ops@praho.test")
    assert app_cli.invoke(args=["virtualmin", "failed"]).output.strip() == (
        "no failed Virtualmin actions")


def test_retry_refuses_an_action_that_did_not_fail(praho_committing, standin):
    from praho.core.errors import InvalidTransition

    sub_id = hosting(praho_committing, "fine.ro")
    [create] = actions(praho_committing, sub_id)
    with pytest.raises(InvalidTransition), praho_committing.transaction() as session:
        retry_action(session, create.id)
    assert actions(praho_committing, sub_id)[0].status == ActionStatus.SUCCEEDED


def test_unknown_domain_fails_disable_but_delete_counts_as_done(praho_committing, standin):
    sub_id = hosting(praho_committing, "vanished.ro")
    standin.domains.pop("vanished.ro")

    change(praho_committing, sub_id, subs.suspend_subscription, reason="non_payment",
           now=at("2026-03-20", 10))
    disable = actions(praho_committing, sub_id)[-1]
    assert disable.status == ActionStatus.FAILED
    assert "Virtual server vanished.ro does not exist" in disable.last_error

    change(praho_committing, sub_id, subs.terminate_subscription, reason="non_payment",
           now=at("2026-03-25", 10))
    runner.run_due(praho_committing, settings=current_settings(), now=at("2026-05-01"))
    delete = actions(praho_committing, sub_id)[-1]
    assert (delete.kind, delete.status) == (ActionKind.DELETE, ActionStatus.SUCCEEDED)
    assert "delete-domain" not in standin.programs_called()


def test_existing_domain_is_adopted_only_with_our_marker(praho_committing, standin):
    standin.add_domain("taken.ro", description="someone else's site")
    sub_id = hosting(praho_committing, "taken.ro")
    [create] = actions(praho_committing, sub_id)
    assert create.status == ActionStatus.FAILED
    assert "already exists on the server and is not ours" in create.last_error

    # A create whose answer was lost is ours: retried, it succeeds without a second domain.
    standin.slow_seconds, standin.slow_calls = 1.5, 1
    other = hosting(praho_committing, "lost-answer.ro")
    runner.run_due(praho_committing, settings=current_settings(), now=at("2026-12-31"))
    assert actions(praho_committing, other)[0].status == ActionStatus.SUCCEEDED
    assert standin.domains["lost-answer.ro"].description == f"PRAHO subscription {other}"


def test_delete_refuses_a_domain_that_is_not_ours(praho_committing, standin):
    sub_id = hosting(praho_committing, "swapped.ro")
    standin.domains["swapped.ro"].description = "re-created by hand for another customer"
    change(praho_committing, sub_id, subs.terminate_subscription, reason="abuse",
           now=at("2026-03-25", 10))
    runner.run_due(praho_committing, settings=current_settings(), now=at("2026-05-01"))

    delete = actions(praho_committing, sub_id)[-1]
    assert delete.status == ActionStatus.FAILED and "refusing to delete" in delete.last_error
    assert "swapped.ro" in standin.domains


def test_missing_domain_attribute_is_a_visible_failure_not_a_billing_error(
        praho_committing, standin):
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        subscription = factory.subscription(factory.price(factory.product(code="HOST-PRO")),
                                            start="2026-03-01")
        sub_id = subscription.id
    [create] = actions(praho_committing, sub_id)
    assert create.status == ActionStatus.FAILED and "'domain'" in create.last_error
    with praho_committing.transaction() as session:
        assert session.get(Subscription, sub_id).status == SubscriptionStatus.ACTIVE
        assert session.execute(select(func.count()).select_from(VirtualminAccount)).scalar() == 0
    assert standin.calls == []


def test_second_live_subscription_for_a_domain_is_a_visible_failure(praho_committing, standin):
    first = hosting(praho_committing, "shared.ro")
    second = hosting(praho_committing, "shared.ro")

    [create] = actions(praho_committing, second)
    assert create.status == ActionStatus.FAILED
    assert f"already provisioned on default for subscription {first}" in create.last_error
    assert standin.programs_called() == ["create-domain"]


def test_actions_are_sent_only_when_billing_commits(praho_committing, standin):
    sub_id = hosting(praho_committing, "rolled-back.ro")
    with pytest.raises(RuntimeError), praho_committing.transaction() as session:
        subs.suspend_subscription(session, get_subscription(session, sub_id), reason="manual",
                                  now=at("2026-03-20", 10))
        raise RuntimeError("the request failed after the suspension")
    assert [a.kind for a in actions(praho_committing, sub_id)] == [ActionKind.CREATE]
    assert standin.programs_called() == ["create-domain"]

    # A savepoint rolled back later in the transaction does not drop what was recorded before.
    with praho_committing.transaction() as session:
        subs.suspend_subscription(session, get_subscription(session, sub_id), reason="manual",
                                  now=at("2026-03-21", 10))
        with pytest.raises(RuntimeError), session.begin_nested():
            raise RuntimeError("an unrelated step failed in its own savepoint")
    assert standin.programs_called() == ["create-domain", "disable-domain"]


def test_trial_cancelled_before_it_converts_touches_no_server(praho_committing, standin):
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        price = factory.price(factory.product(code="HOST-PRO"), code="HOST-PRO-TRIAL")
        sub_id = factory.subscription(price, start="2026-03-01", trial_days=14,
                                      attributes={"domain": "trial.ro"}).id
    change(praho_committing, sub_id, subs.cancel_subscription, at_period_end=False,
           now=at("2026-03-05", 10))

    assert actions(praho_committing, sub_id) == []
    assert standin.calls == []


def test_cancellation_at_period_end_removes_the_account_when_the_billing_run_ends_it(
        praho_committing, standin):
    from praho.core.billing_runner import run_in_process

    sub_id = hosting(praho_committing, "leaving.ro")
    change(praho_committing, sub_id, subs.cancel_subscription, at_period_end=True,
           now=at("2026-03-10", 10))
    assert standin.programs_called() == ["create-domain"]  # the service continues

    run_in_process(praho_committing, now=at("2026-04-01", 3))

    with praho_committing.transaction() as session:
        assert get_subscription(session, sub_id).status == SubscriptionStatus.CANCELLED
    disable, delete = actions(praho_committing, sub_id)[1:]
    assert (disable.cause, disable.status) == ("cancelled", ActionStatus.SUCCEEDED)
    # The grace period (14 days from 1 April) is long past on the wall clock: deleted too.
    assert delete.status == ActionStatus.SUCCEEDED and "leaving.ro" not in standin.domains
