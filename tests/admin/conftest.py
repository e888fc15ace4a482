"""Fixtures for the back-office tests: staff users, a logged-in test client, CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

import pytest
from praho.admin.staff import create_staff_user
from praho.core.testing import PrahoFactory

PASSWORD = "correct horse battery staple"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    match = CSRF_FIELD.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def staff(praho_committing: Any) -> dict[str, Any]:
    """One staff user per role (committed), by role name."""
    users = {}
    with praho_committing.transaction() as session:
        for role in ("admin", "billing", "support"):
            user = create_staff_user(
                session,
                email=f"{role}@praho.test",
                name=f"{role.title()} User",
                role=role,
                password=PASSWORD,
                language="en",
            )
            users[role] = user.id
    return users


@pytest.fixture
def seed(praho_committing: Any) -> Any:
    """Run a function with a PrahoFactory inside a committed transaction; returns its result."""

    def run(build: Any) -> Any:
        with praho_committing.transaction() as session:
            return build(PrahoFactory(session), session)

    return run


class AdminClient:
    """A Flask test client that logs in and posts forms with their CSRF token."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def login(self, role: str, password: str = PASSWORD) -> Any:
        page = self.client.get("/admin/login")
        return self.client.post(
            "/admin/login",
            data={
                "email": f"{role}@praho.test",
                "password": password,
                "csrf_token": csrf_token(page.get_data(as_text=True)),
            },
        )

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def post_form(self, page_url: str, action_url: str, data: dict[str, str]) -> Any:
        """GET the page showing the form (for its token), then POST to ``action_url``."""
        page = self.client.get(page_url)
        assert page.status_code == 200, page.status_code
        token = csrf_token(page.get_data(as_text=True))
        return self.client.post(action_url, data={**data, "csrf_token": token})


@pytest.fixture
def admin_client(praho_app: Any, staff: Any) -> AdminClient:
    """A client for the app under test (not logged in yet)."""
    return AdminClient(praho_app.test_client())
