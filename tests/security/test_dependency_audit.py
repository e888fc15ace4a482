"""The CI dependency audit fails only on vulnerable runtime dependencies."""

from __future__ import annotations

import importlib.util

from praho.core.credentials import PROJECT_ROOT

spec = importlib.util.spec_from_file_location("audit_dependencies",
                                              PROJECT_ROOT / ".ci" / "audit_dependencies.py")
audit = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(audit)  # type: ignore[union-attr]


def test_runtime_closure_follows_requirements_and_extras_but_not_test_tools():
    runtime = audit.runtime_closure()
    assert {"flask", "sqlalchemy", "lxml", "werkzeug", "kombu", "redis"} <= runtime
    assert not {"pytest", "hypothesis", "playwright", "pip-audit"} & runtime


def test_findings_are_split_into_runtime_and_test_only():
    report = {"dependencies": [
        {"name": "Werkzeug", "version": "2.0.0", "vulns": [
            {"id": "PYSEC-2023-58", "fix_versions": ["2.2.3"]}]},
        {"name": "pytest", "version": "7.0.0", "vulns": [{"id": "GHSA-x", "fix_versions": []}]},
        {"name": "lxml", "version": "5.2.0", "vulns": []},
        {"name": "praho-billing", "skip_reason": "editable"},
    ]}
    runtime, others = audit.classify(report, {"werkzeug", "lxml"})
    assert runtime == ["Werkzeug 2.0.0: PYSEC-2023-58 (fix: 2.2.3)"]
    assert others == ["pytest 7.0.0: GHSA-x (fix: no fix released)"]
