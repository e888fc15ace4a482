"""Fixtures for the back-office tests: staff users, a logged-in test client, CSRF tokens."""

from __future__ import annotations

from typing import Any

import pytest
from praho.admin.testing import (  # csrf_token: imported by the test modules from here
    TEST_PASSWORD,
    StaffClient,
    create_test_staff,
    csrf_token,  # noqa: F401
)
from praho.core.testing import PrahoFactory

PASSWORD = TEST_PASSWORD


@pytest.fixture
def staff(praho_committing: Any) -> dict[str, Any]:
    """One staff user per role (committed), by role name."""
    roles = ("admin", "billing", "support")
    return {role: create_test_staff(praho_committing, role) for role in roles}


@pytest.fixture
def seed(praho_committing: Any) -> Any:
    """Run a function with a PrahoFactory inside a committed transaction; returns its result."""

    def run(build: Any) -> Any:
        with praho_committing.transaction() as session:
            return build(PrahoFactory(session), session)

    return run


AdminClient = StaffClient


@pytest.fixture
def admin_client(praho_app: Any, staff: Any) -> AdminClient:
    """A client for the app under test (not logged in yet)."""
    return AdminClient(praho_app.test_client())
