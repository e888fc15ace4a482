"""Provisioning in the back office: a failed action is visible and retried there."""

from __future__ import annotations

from praho.admin.testing import StaffClient, create_test_staff
from praho.core.services import subscriptions as subs
from praho.core.testing import at
from praho.plugins.virtualmin import runner
from praho.plugins.virtualmin.actions import list_failed_actions
from praho.plugins.virtualmin.models import ActionStatus, VirtualminFinding
from praho.plugins.virtualmin.reconcile import record_reconciliation
from praho.plugins.virtualmin.settings import current_settings
from praho.plugins.virtualmin.tests.test_provisioning import actions, change, hosting
from sqlalchemy import select


def _failed_disable(praho_committing, standin, domain):
    """A suspension whose disable failed on every attempt (the server kept answering 500)."""
    sub_id = hosting(praho_committing, domain)
    standin.fail_5xx = 10
    change(
        praho_committing,
        sub_id,
        subs.suspend_subscription,
        reason="non_payment",
        now=at("2026-03-20", 10),
    )
    while (pending := actions(praho_committing, sub_id)[-1]).status == ActionStatus.PENDING:
        runner.run_due(praho_committing, settings=current_settings(), now=pending.next_attempt_at)
    standin.fail_5xx = 0
    return sub_id, actions(praho_committing, sub_id)[-1]


def test_a_failed_action_is_listed_on_the_dashboard_and_retried_by_billing(
    praho_app, praho_committing, standin
):
    _sub_id, failed = _failed_disable(praho_committing, standin, "flaky.ro")
    assert failed.status == ActionStatus.FAILED
    for role in ("billing", "support"):
        create_test_staff(praho_committing, role)
    support = StaffClient(praho_app.test_client())
    support.login("support")
    assert "Provisioning failed" in support.get("/admin/").get_data(as_text=True)
    listing = support.get("/admin/virtualmin_actions/?search=flaky.ro").get_data(as_text=True)
    assert "flaky.ro" in listing and "HTTP 500" in listing
    page = f"/admin/virtualmin_actions/details/?id={failed.id}"
    retry = f"/admin/virtualmin_actions/record-action/retry/?id={failed.id}"
    assert support.post_form(page, retry, {}).status_code == 403  # support reads only
    with praho_committing.transaction() as session:
        assert [a.id for a in list_failed_actions(session)] == [failed.id]

    billing = StaffClient(praho_app.test_client())
    billing.login("billing")
    assert billing.post_form(page, retry, {}).status_code == 302
    # The retry is queued after the commit (eager Celery here) and the server disables it.
    assert actions(praho_committing, _sub_id)[-1].status == ActionStatus.SUCCEEDED
    assert standin.domains["flaky.ro"].disabled
    with praho_committing.transaction() as session:
        assert list_failed_actions(session) == []
    # A second retry of the same action is refused (it is no longer failed).
    assert billing.post_form(page, retry, {}).status_code in (200, 302)
    assert actions(praho_committing, _sub_id)[-1].attempts == 1


def test_accounts_and_reconciliation_findings_are_listed(praho_app, praho_committing, standin):
    hosting(praho_committing, "shop.ro")
    runner.run_due(praho_committing, settings=current_settings(), now=at("2026-03-01", 10))
    with praho_committing.transaction() as session:
        # The server lost the domain (deleted by hand): reconciliation records a finding.
        record_reconciliation(
            session, current_settings().default_server, [], now=at("2026-03-02", 10)
        )
        findings = session.execute(select(VirtualminFinding)).scalars().all()
        assert [f.domain for f in findings] == ["shop.ro"]
    create_test_staff(praho_committing, "support")
    client = StaffClient(praho_app.test_client())
    client.login("support")
    accounts = client.get("/admin/virtualmin_accounts/?search=shop.ro").get_data(as_text=True)
    assert "shop.ro" in accounts
    found = client.get("/admin/virtualmin_findings/").get_data(as_text=True)
    assert "shop.ro" in found and "missing_on_server" in found
    assert "1 open finding" in client.get("/admin/").get_data(as_text=True)


def test_an_overtaken_failed_action_is_not_retried(praho_app, praho_committing, standin):
    """A failed disable followed by a successful enable: the runner supersedes the
    disable, so retrying it (which would suspend a customer who paid) is refused."""
    import pytest
    from praho.core.errors import InvalidTransition
    from praho.plugins.virtualmin.actions import retry_action

    sub_id, failed = _failed_disable(praho_committing, standin, "paid-later.ro")
    change(
        praho_committing,
        sub_id,
        subs.reactivate_subscription,
        reason="paid",
        now=at("2026-03-22", 10),
    )
    enable = actions(praho_committing, sub_id)[-1]
    while enable.status == ActionStatus.PENDING:
        runner.run_due(praho_committing, settings=current_settings(), now=enable.next_attempt_at)
        enable = actions(praho_committing, sub_id)[-1]
    assert enable.status == ActionStatus.SUCCEEDED
    with (
        praho_committing.transaction() as session,
        pytest.raises(InvalidTransition, match="superseded"),
    ):
        retry_action(session, failed.id, now=at("2026-03-23", 10))
    assert not standin.domains["paid-later.ro"].disabled
    # The enable superseded the failed disable: the back office does not offer it either.
    assert actions(praho_committing, sub_id)[-2].status == ActionStatus.SUPERSEDED
    # The back office does not even offer it: the failed disable was superseded.
    assert actions(praho_committing, sub_id)[-2].status == ActionStatus.SUPERSEDED
