"""CI dependency audit: pip-audit over the installed environment, offline-tolerant.

* Installs pip-audit when it is missing (it is also in the ``dev`` extra).
* Runs ``pip-audit --local`` and reads its JSON report.
* Exit 1, listing them, when a *runtime* dependency (what ``pip install praho-billing``
  installs: its requirements without the test/dev extras, followed recursively) has a
  known vulnerability. Vulnerable test-only tools are listed as a warning.
* Exit 0 with a warning when the vulnerability service cannot be reached (no network,
  outage, pip-audit unavailable): CI must still run where the internet is not.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from typing import Any

DISTRIBUTION = "praho-billing"
AUDIT_TIMEOUT_SECONDS = 600


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(distribution: str = DISTRIBUTION) -> set[str]:
    """Every installed distribution the runtime needs, by canonical name."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    pending: list[tuple[str, frozenset[str]]] = [(distribution, frozenset())]
    visited: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        if (canonical(name), extras) in visited:
            continue
        visited.add((canonical(name), extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(canonical(name))
        for line in dist.requires or []:
            requirement = Requirement(line)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if requirement.marker and not any(requirement.marker.evaluate(env)
                                              for env in environments):
                continue
            pending.append((requirement.name, frozenset(requirement.extras)))
    seen.discard(canonical(distribution))
    return seen


def classify(report: dict[str, Any], runtime: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split pip-audit's findings into (runtime, other) lines "name version: ID (fix: ...)"."""
    runtime_names = set(runtime)
    in_runtime: list[str] = []
    others: list[str] = []
    for dependency in report.get("dependencies", []):
        for vuln in dependency.get("vulns") or []:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix released"
            version = dependency.get("version", "?")
            line = f"{dependency['name']} {version}: {vuln['id']} (fix: {fixes})"
            target = in_runtime if canonical(dependency["name"]) in runtime_names else others
            target.append(line)
    return in_runtime, others


def _ensure_pip_audit() -> bool:
    probe = subprocess.run([sys.executable, "-m", "pip_audit", "--version"], capture_output=True)
    if probe.returncode == 0:
        return True
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pip-audit>=2.7"],
                             capture_output=True, text=True)
    return install.returncode == 0


def main() -> int:
    """Run the audit; see the module docstring for the exit codes."""
    if not _ensure_pip_audit():
        print("ci: WARNING: pip-audit could not be installed; dependency audit skipped")
        return 0
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pip_audit", "--local", "--skip-editable", "--format", "json",
             "--progress-spinner", "off", "--timeout", "20"],
            capture_output=True, text=True, timeout=AUDIT_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        print("ci: WARNING: pip-audit timed out; the vulnerability service is unreachable")
        return 0
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        reason = (run.stderr.strip().splitlines() or ["no output"])[-1][:300]
        print(f"ci: WARNING: dependency audit skipped, vulnerability service unreachable: {reason}")
        return 0
    runtime, others = classify(report, runtime_closure())
    checked = len(report.get("dependencies", []))
    for line in others:
        print(f"ci: WARNING: vulnerable test/dev dependency: {line}")
    if runtime:
        print("ci: dependency audit FAILED: known vulnerabilities in runtime dependencies:")
        for line in runtime:
            print(f"  {line}")
        return 1
    print(f"ci: dependency audit: {checked} installed packages checked, "
          "no known vulnerability in a runtime dependency")
    return 0


if __name__ == "__main__":
    sys.exit(main())
