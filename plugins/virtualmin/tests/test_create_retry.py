"""A create that failed at activation (no domain, a domain held elsewhere) is recovered by a retry.

Activation happens once and later events act only on an existing account, so before the
fix such a subscription could never get its hosting. The retry now reads the
subscription's current domain and server and records the account; the server call is
idempotent like every create (an existing domain with our marker counts as done).
"""

from __future__ import annotations

import pytest
from praho.core.errors import InvalidTransition
from praho.core.models.catalog import Product
from praho.core.services import subscriptions as subs
from praho.core.services.subscription_state import get_subscription
from praho.core.testing import PrahoFactory, at
from praho.plugins.virtualmin.actions import retry_action
from praho.plugins.virtualmin.models import (
    AccountState,
    ActionKind,
    ActionStatus,
    VirtualminAccount,
    VirtualminAction,
)
from sqlalchemy import func, select


def _subscribe(database, domain: str | None, *, code: str) -> int:
    """A HOST-PRO subscription (domain attribute optional); its id."""
    with database.transaction() as session:
        factory = PrahoFactory(session)
        product = session.execute(
            select(Product).where(Product.code == "HOST-PRO")).scalar_one_or_none()
        price = factory.price(product or factory.product(code="HOST-PRO"), code=code)
        attributes = {"domain": domain} if domain else {}
        return factory.subscription(price, start="2026-03-01", attributes=attributes).id


def _actions(database, subscription_id: int) -> list[tuple[str, str]]:
    with database.transaction() as session:
        return [(str(kind), str(status)) for kind, status in session.execute(
            select(VirtualminAction.kind, VirtualminAction.status)
            .where(VirtualminAction.subscription_id == subscription_id)
            .order_by(VirtualminAction.id)).all()]


def _create_id(database, subscription_id: int) -> int:
    with database.transaction() as session:
        return session.execute(select(VirtualminAction.id).where(
            VirtualminAction.subscription_id == subscription_id,
            VirtualminAction.kind == ActionKind.CREATE)).scalar_one()


def _set_domain(database, subscription_id: int, domain: str) -> None:
    """What the operator does in the back office: give the subscription its domain."""
    with database.transaction() as session:
        subscription = get_subscription(session, subscription_id)
        subscription.attributes = {**(subscription.attributes or {}), "domain": domain}


def test_retry_after_the_domain_is_set_creates_the_account(praho_committing, standin):
    sub_id = _subscribe(praho_committing, None, code="P-LATE")
    create_id = _create_id(praho_committing, sub_id)
    with praho_committing.transaction() as session:
        create = session.get(VirtualminAction, create_id)
        assert create.status == ActionStatus.FAILED
        assert "retry this action" in create.last_error

    # Retried before the subscription is fixed: refused, with what to do, nothing written.
    with pytest.raises(InvalidTransition) as refused, \
            praho_committing.transaction() as session:
        retry_action(session, create_id)
    message = refused.value.message
    assert "'domain'" in message and "then retry this action" in message
    assert "let the next event" not in message
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count()).select_from(VirtualminAccount)).scalar() == 0
        assert session.get(VirtualminAction, create_id).status == ActionStatus.FAILED

    _set_domain(praho_committing, sub_id, "fixed-later.ro")
    with praho_committing.transaction() as session:
        retry_action(session, create_id, now=at("2026-03-05", 10))

    created = standin.domains["fixed-later.ro"]
    assert created.description == f"PRAHO subscription {sub_id}" and created.plan == "Pro"
    assert _actions(praho_committing, sub_id) == [("create", "succeeded")]
    with praho_committing.transaction() as session:
        account = session.execute(select(VirtualminAccount).where(
            VirtualminAccount.subscription_id == sub_id)).scalar_one()
        assert (account.domain, account.confirmed_state) == ("fixed-later.ro",
                                                             AccountState.ENABLED)

    # From now on the account follows the subscription like any other.
    with praho_committing.transaction() as session:
        subs.suspend_subscription(session, get_subscription(session, sub_id), reason="manual",
                                  now=at("2026-03-10", 10))
    assert standin.domains["fixed-later.ro"].disabled
    assert _actions(praho_committing, sub_id) == [("create", "succeeded"),
                                                  ("disable", "succeeded")]


def test_domain_held_by_another_subscription_then_changed(praho_committing, standin, app_cli):
    first = _subscribe(praho_committing, "shared.ro", code="P-FIRST")
    second = _subscribe(praho_committing, "shared.ro", code="P-SECOND")
    create_id = _create_id(praho_committing, second)

    # Through the command line an operator uses; still held, so still refused.
    held = app_cli.invoke(args=["virtualmin", "retry", str(create_id)])
    assert held.exit_code != 0
    assert f"already provisioned on default for subscription {first}" in held.output

    _set_domain(praho_committing, second, "second-site.ro")
    result = app_cli.invoke(args=["virtualmin", "retry", str(create_id)])
    assert result.exit_code == 0, result.output
    assert f"action {create_id}: succeeded" in result.output
    assert standin.domains["second-site.ro"].description == f"PRAHO subscription {second}"
    assert standin.domains["shared.ro"].description == f"PRAHO subscription {first}"


def test_a_lost_answer_is_retried_safely(praho_committing, standin):
    """The server made the domain but the answer was lost: the create counts as done."""
    sub_id = _subscribe(praho_committing, None, code="P-LOST")
    create_id = _create_id(praho_committing, sub_id)
    _set_domain(praho_committing, sub_id, "lost-answer.ro")
    standin.add_domain("lost-answer.ro", description=f"PRAHO subscription {sub_id}")
    with praho_committing.transaction() as session:
        retry_action(session, create_id)
    assert _actions(praho_committing, sub_id) == [("create", "succeeded")]
    assert standin.programs_called().count("create-domain") == 1


def test_subscription_suspended_meanwhile_gets_its_account_disabled(praho_committing, standin):
    sub_id = _subscribe(praho_committing, None, code="P-SUSP")
    create_id = _create_id(praho_committing, sub_id)
    with praho_committing.transaction() as session:
        subs.suspend_subscription(session, get_subscription(session, sub_id), reason="manual",
                                  now=at("2026-03-10", 10))
    assert _actions(praho_committing, sub_id) == [("create", "failed")]  # nothing to disable

    _set_domain(praho_committing, sub_id, "suspended-meanwhile.ro")
    with praho_committing.transaction() as session:
        retry_action(session, create_id, now=at("2026-03-12", 10))

    assert standin.domains["suspended-meanwhile.ro"].disabled
    assert standin.programs_called() == ["create-domain", "disable-domain"]
    assert _actions(praho_committing, sub_id) == [("create", "succeeded"),
                                                  ("disable", "succeeded")]


def test_an_ended_subscription_is_not_provisioned_by_a_retry(praho_committing, standin):
    sub_id = _subscribe(praho_committing, None, code="P-ENDED")
    create_id = _create_id(praho_committing, sub_id)
    with praho_committing.transaction() as session:
        subs.terminate_subscription(session, get_subscription(session, sub_id), reason="abuse",
                                    now=at("2026-03-10", 10))
    _set_domain(praho_committing, sub_id, "ended.ro")
    with pytest.raises(InvalidTransition, match="terminated"), \
            praho_committing.transaction() as session:
        retry_action(session, create_id)
    assert standin.calls == []
