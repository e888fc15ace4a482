"""Failed Celery tasks are kept in the database, redacted, for the back office."""

import pytest
from praho.core.errors import NotFound
from praho.core.models import TaskFailure
from praho.core.task_failures import resolve_task_failure, unresolved_failures
from sqlalchemy import func, select


def _failing_task(app):
    celery = app.extensions["celery"]

    @celery.task(name="praho.test.failing", bind=True)
    def failing(self, api_key, amount):
        raise RuntimeError(f"gateway refused key {api_key} for {amount}")

    return failing


def test_a_failed_task_is_recorded_with_secrets_redacted(praho_app, praho_committing):
    failing = _failing_task(praho_app)
    secret = "sk_live_" + "a1b2c3d4e5f6g7h8i9j0k1l2"
    with pytest.raises(RuntimeError):
        failing.delay(secret, 1250)
    with praho_committing.transaction() as session:
        row = session.execute(select(TaskFailure)).scalar_one()
        assert row.task_name == "praho.test.failing"
        assert row.exception_type == "RuntimeError"
        assert "1250" in row.arguments and "gateway refused" in row.message
        for text in (row.arguments, row.message, row.traceback):
            assert secret not in text
        assert not row.resolved
        assert unresolved_failures(session) == 1
        resolve_task_failure(session, row.id, note="gateway key rotated")
    with praho_committing.transaction() as session:
        assert unresolved_failures(session) == 0
        assert session.execute(select(TaskFailure.resolved_note)).scalar_one() == "gateway key rotated"


def test_resolving_an_unknown_failure_is_a_clear_error(praho_committing):
    with praho_committing.transaction() as session:
        with pytest.raises(NotFound, match="task failure 999"):
            resolve_task_failure(session, 999, note="x")
        assert session.execute(select(func.count(TaskFailure.id))).scalar_one() == 0
