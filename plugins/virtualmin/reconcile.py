"""Reconciliation: compare each server's domain list with what billing expects, flag differences.

Runs periodically (``register_periodic_tasks``) and from ``praho virtualmin reconcile``.
It never changes a subscription, an action or a server: every difference becomes (or
refreshes) a :class:`VirtualminFinding` for the back office, and a finding that a later
run no longer sees is marked resolved. Accounts with an action still pending or running
are skipped: a difference there is expected and the action will settle it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from praho.core.clock import resolve_now
from praho.plugins.virtualmin.client import DomainInfo, VirtualminClient, VirtualminError
from praho.plugins.virtualmin.models import (
    UNFINISHED,
    AccountState,
    FindingKind,
    VirtualminAccount,
    VirtualminAction,
    VirtualminFinding,
    VirtualminReconcileRun,
)
from praho.plugins.virtualmin.settings import VirtualminSettings
from sqlalchemy import select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Difference:
    """One difference between billing and a server."""

    domain: str
    kind: FindingKind
    subscription_id: int | None
    expected: str
    actual: str


def _actual(info: DomainInfo | None) -> str:
    if info is None:
        return "absent"
    return "disabled" if info.disabled else "enabled"


def compare(session: Session, server: str, domains: list[DomainInfo]) -> list[Difference]:
    """The differences between the accounts billing keeps on ``server`` and its domain list."""
    on_server = {d.name: d for d in domains}
    accounts = session.execute(
        select(VirtualminAccount).where(VirtualminAccount.server == server)
    ).scalars().all()
    busy = set(session.execute(
        select(VirtualminAction.subscription_id).where(
            VirtualminAction.server == server, VirtualminAction.status.in_(UNFINISHED))
    ).scalars())
    live = {a.domain for a in accounts if a.expected_state != AccountState.DELETED}
    differences = []
    for account in accounts:
        if account.subscription_id in busy:
            continue
        if account.expected_state == AccountState.DELETED and account.domain in live:
            continue  # the domain came back on a newer subscription; that account speaks for it
        actual = _actual(on_server.get(account.domain))
        expected = account.expected_state
        if expected == AccountState.DELETED:
            if actual != "absent":
                differences.append(Difference(account.domain, FindingKind.STATE_MISMATCH,
                                              account.subscription_id, "absent", actual))
        elif actual == "absent":
            differences.append(Difference(account.domain, FindingKind.MISSING_ON_SERVER,
                                          account.subscription_id, str(expected), actual))
        elif actual != expected:
            differences.append(Difference(account.domain, FindingKind.STATE_MISMATCH,
                                          account.subscription_id, str(expected), actual))
    known = {account.domain for account in accounts}
    for name in sorted(set(on_server) - known):
        differences.append(Difference(name, FindingKind.UNKNOWN_DOMAIN, None, "not_billed",
                                      _actual(on_server[name])))
    return differences


def record_reconciliation(session: Session, server: str, domains: list[DomainInfo] | None, *,
                          error: str | None = None, now: datetime | None = None,
                          ) -> VirtualminReconcileRun:
    """Store one run's result: findings opened, refreshed and resolved (nothing else changes).

    ``domains`` None means the server could not be listed: the run is recorded with its
    error and the open findings stay as they were.
    """
    moment = resolve_now(now)
    run = VirtualminReconcileRun(server=server, started_at=moment, ok=domains is not None,
                                 error=(error or "")[:500] or None,
                                 domains_on_server=len(domains or []))
    session.add(run)
    if domains is None:
        run.open_findings = len(open_findings(session, server=server))
        session.flush()
        return run
    seen = set()
    for difference in compare(session, server, domains):
        seen.add((difference.domain, difference.kind))
        finding = session.execute(
            select(VirtualminFinding).where(
                VirtualminFinding.server == server,
                VirtualminFinding.domain == difference.domain,
                VirtualminFinding.kind == difference.kind,
            )
        ).scalar_one_or_none()
        if finding is None:
            finding = VirtualminFinding(server=server, domain=difference.domain,
                                        kind=difference.kind, first_seen_at=moment)
            session.add(finding)
        elif finding.resolved_at is not None:
            finding.first_seen_at = moment
        finding.subscription_id = difference.subscription_id
        finding.expected, finding.actual = difference.expected, difference.actual
        finding.last_seen_at = moment
        finding.resolved_at = None
    for finding in open_findings(session, server=server):
        if (finding.domain, finding.kind) not in seen:
            finding.resolved_at = moment
    session.flush()
    run.open_findings = len(seen)
    session.flush()
    return run


def open_findings(session: Session, *, server: str | None = None) -> list[VirtualminFinding]:
    """Differences not resolved yet (for the back office), by server and domain."""
    query = select(VirtualminFinding).where(VirtualminFinding.resolved_at.is_(None))
    if server is not None:
        query = query.where(VirtualminFinding.server == server)
    return list(session.execute(
        query.order_by(VirtualminFinding.server, VirtualminFinding.domain)
    ).scalars())


def reconcile_report(session: Session) -> dict[str, Any]:
    """The last run per server and every open finding, as plain data (CLI, admin, API)."""
    runs = session.execute(
        select(VirtualminReconcileRun).order_by(VirtualminReconcileRun.id.desc()).limit(500)
    ).scalars().all()
    last: dict[str, VirtualminReconcileRun] = {}
    for run in runs:
        last.setdefault(run.server, run)
    return {
        "servers": {
            name: {"started_at": run.started_at.isoformat(), "ok": run.ok, "error": run.error,
                   "domains_on_server": run.domains_on_server,
                   "open_findings": run.open_findings}
            for name, run in sorted(last.items())
        },
        "findings": [
            {"id": f.id, "server": f.server, "domain": f.domain, "kind": str(f.kind),
             "subscription_id": f.subscription_id, "expected": f.expected, "actual": f.actual,
             "first_seen_at": f.first_seen_at.isoformat(),
             "last_seen_at": f.last_seen_at.isoformat()}
            for f in open_findings(session)
        ],
    }


def reconcile_servers(database: Any, *, settings: VirtualminSettings, server: str | None = None,
                      now: datetime | None = None) -> list[VirtualminReconcileRun]:
    """List every configured server's domains (no transaction held) and record the result."""
    names = [server] if server else sorted(settings.servers)
    runs = []
    for name in names:
        config = settings.servers.get(name)
        if config is None:
            raise VirtualminError(f"no Virtualmin server named {name!r}")
        try:
            domains: list[DomainInfo] | None = VirtualminClient(config).list_domains()
            error = None
        except VirtualminError as failure:
            domains, error = None, failure.message
        with database.transaction() as session:
            run = record_reconciliation(session, name, domains, error=error, now=now)
            session.expunge(run)
        runs.append(run)
    return runs
