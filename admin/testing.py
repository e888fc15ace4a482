"""Helpers for tests of back-office pages, core and plugins alike.

``StaffClient`` logs a staff user in through the real login form and posts forms with
their CSRF token, as a browser would; ``create_test_staff`` makes the user.
"""

from __future__ import annotations

import re
from typing import Any

TEST_PASSWORD = "correct horse battery staple"  # noqa: S105 - a test fixture's password
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_KEY_FIELD = re.compile(r'name="form_key" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    match = CSRF_FIELD.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def form_key(html: str) -> str | None:
    """The single-use key of the first action or note form in ``html`` (None if it has none)."""
    match = FORM_KEY_FIELD.search(html)
    return match.group(1) if match else None


def create_test_staff(database: Any, role: str) -> int:
    """A committed staff user ``<role>@praho.test`` with :data:`TEST_PASSWORD`; its id."""
    from praho.admin.staff import create_staff_user

    with database.transaction() as session:
        user = create_staff_user(session, email=f"{role}@praho.test", name=f"{role.title()} User",
                                 role=role, password=TEST_PASSWORD, language="en")
        return int(user.id)


class StaffClient:
    """A Flask test client that logs in and posts forms with their CSRF token."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def login(self, role: str, password: str = TEST_PASSWORD) -> Any:
        """Log ``<role>@praho.test`` in through the login form."""
        page = self.client.get("/admin/login")
        return self.client.post("/admin/login", data={
            "email": f"{role}@praho.test", "password": password,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        })

    def get(self, url: str, **kwargs: Any) -> Any:
        """GET a page."""
        return self.client.get(url, **kwargs)

    def post_form(self, page_url: str, action_url: str, data: dict[str, str]) -> Any:
        """GET the page showing the form (for its tokens), then POST to ``action_url``.

        Like a browser, it sends the form's CSRF token and its single-use key when the
        page has one.
        """
        page = self.client.get(page_url)
        assert page.status_code == 200, page.status_code
        html = page.get_data(as_text=True)
        hidden = {"csrf_token": csrf_token(html)}
        key = form_key(html)
        if key is not None:
            hidden["form_key"] = key
        return self.client.post(action_url, data={**data, **hidden})
