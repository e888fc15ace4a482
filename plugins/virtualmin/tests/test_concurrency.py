"""Two workers given the same action at the same moment: one call, one attempt (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from praho.core.services import subscriptions as subs
from praho.core.testing import at
from praho.plugins.virtualmin import runner
from praho.plugins.virtualmin.models import ActionStatus, VirtualminAttempt
from praho.plugins.virtualmin.settings import current_settings
from praho.plugins.virtualmin.tests.test_provisioning import actions, change, hosting
from sqlalchemy import select


@pytest.mark.postgres
def test_concurrent_workers_claim_an_action_once(praho_committing, standin):
    sub_id = hosting(praho_committing, "contended.ro")
    standin.fail_5xx = 1  # the first attempt (right after commit) leaves it pending
    change(praho_committing, sub_id, subs.suspend_subscription, reason="non_payment",
           now=at("2026-03-20", 10))
    pending = actions(praho_committing, sub_id)[-1]
    assert pending.status == ActionStatus.PENDING
    standin.slow_seconds, standin.slow_calls = 0.3, 10  # both would be in flight together
    settings = current_settings()
    barrier = threading.Barrier(4)
    errors: list[Exception] = []

    def worker() -> None:
        try:
            barrier.wait()
            runner.run_action(praho_committing, pending.id, settings=settings,
                              now=pending.next_attempt_at)
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert standin.programs_called().count("disable-domain") == 2  # the 500, then one winner
    with praho_committing.transaction() as session:
        outcomes = session.execute(select(VirtualminAttempt.outcome).where(
            VirtualminAttempt.action_id == pending.id).order_by(VirtualminAttempt.number)
        ).scalars().all()
    assert outcomes == ["retry", "succeeded"]
    assert standin.domains["contended.ro"].disabled
