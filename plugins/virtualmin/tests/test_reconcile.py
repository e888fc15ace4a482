"""Reconciliation flags differences between servers and billing, and never changes billing."""

from __future__ import annotations

import json

from praho.core.clock import utcnow
from praho.core.models.subscriptions import Subscription
from praho.core.services import subscriptions as subs
from praho.core.testing import at
from praho.plugins.virtualmin.models import FindingKind, VirtualminAction
from praho.plugins.virtualmin.reconcile import open_findings, reconcile_report, reconcile_servers
from praho.plugins.virtualmin.settings import current_settings
from praho.plugins.virtualmin.tests.test_provisioning import change, hosting
from sqlalchemy import select


def billing_snapshot(database):
    with database.transaction() as session:
        subscriptions = [(s.id, s.status, s.updated_at) for s in
                         session.execute(select(Subscription).order_by(Subscription.id)).scalars()]
        actions = [(a.id, a.status) for a in
                   session.execute(select(VirtualminAction).order_by(VirtualminAction.id)).scalars()]
    return subscriptions, actions


def findings(database):
    with database.transaction() as session:
        return sorted((f.domain, f.kind, f.expected, f.actual) for f in open_findings(session))


def test_reconciliation_flags_every_kind_of_difference(praho_committing, standin):
    hosting(praho_committing, "in-sync.ro")
    gone = hosting(praho_committing, "deleted-by-hand.ro")
    hosting(praho_committing, "disabled-by-hand.ro")
    suspended = hosting(praho_committing, "enabled-by-hand.ro")
    change(praho_committing, suspended, subs.suspend_subscription, reason="non_payment",
           now=at("2026-03-20", 10))
    standin.domains.pop("deleted-by-hand.ro")
    standin.domains["disabled-by-hand.ro"].disabled = True
    standin.domains["enabled-by-hand.ro"].disabled = False
    standin.add_domain("walk-in.ro", description="created in the panel")
    before = billing_snapshot(praho_committing)

    [run] = reconcile_servers(praho_committing, settings=current_settings())

    assert (run.ok, run.domains_on_server, run.open_findings) == (True, 4, 4)
    assert findings(praho_committing) == [
        ("deleted-by-hand.ro", FindingKind.MISSING_ON_SERVER, "enabled", "absent"),
        ("disabled-by-hand.ro", FindingKind.STATE_MISMATCH, "enabled", "disabled"),
        ("enabled-by-hand.ro", FindingKind.STATE_MISMATCH, "disabled", "enabled"),
        ("walk-in.ro", FindingKind.UNKNOWN_DOMAIN, "not_billed", "enabled"),
    ]
    assert billing_snapshot(praho_committing) == before
    with praho_committing.transaction() as session:
        report = reconcile_report(session)
    assert report["servers"]["default"]["open_findings"] == 4
    assert {f["subscription_id"] for f in report["findings"]
            if f["domain"] == "deleted-by-hand.ro"} == {gone}

    # Fixed on the server: the next run resolves what it no longer sees.
    standin.domains["disabled-by-hand.ro"].disabled = False
    standin.domains.pop("walk-in.ro")
    reconcile_servers(praho_committing, settings=current_settings())
    assert [f[0] for f in findings(praho_committing)] == ["deleted-by-hand.ro",
                                                          "enabled-by-hand.ro"]


def test_terminated_account_still_on_the_server_is_flagged_after_the_deletion(
        praho_committing, standin):
    sub_id = hosting(praho_committing, "zombie.ro")
    change(praho_committing, sub_id, subs.terminate_subscription, reason="abuse", now=utcnow())
    # The deletion waits for its grace period: an account with a pending action is skipped.
    reconcile_servers(praho_committing, settings=current_settings())
    assert findings(praho_committing) == []
    with praho_committing.transaction() as session:
        delete = session.execute(select(VirtualminAction).where(
            VirtualminAction.kind == "delete")).scalar_one()
        delete.status = "succeeded"  # as if deleted, then restored from a backup by hand
    reconcile_servers(praho_committing, settings=current_settings())
    assert findings(praho_committing) == [
        ("zombie.ro", FindingKind.STATE_MISMATCH, "absent", "disabled")]


def test_unreachable_server_records_a_failed_run_and_keeps_findings(praho_committing, standin,
                                                                    app_cli):
    standin.add_domain("walk-in.ro")
    reconcile_servers(praho_committing, settings=current_settings())
    standin.password = "changed"

    result = app_cli.invoke(args=["virtualmin", "reconcile", "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["servers"]["default"]["ok"] is False
    assert "HTTP 401" in report["servers"]["default"]["error"]
    assert [f["domain"] for f in report["findings"]] == ["walk-in.ro"]
