"""Back office security: login, roles on every action, CSRF, throttling, headers, sessions."""

from __future__ import annotations

import pytest
from praho.admin.models import StaffUser
from praho.core.models import DocumentStatus, Invoice

from .conftest import PASSWORD, AdminClient, csrf_token


def _draft(seed):
    return seed(lambda f, s: f.draft(lines=[("Web Hosting Pro", "1", "100.00")]).id)


def test_every_admin_page_requires_login(admin_client):
    for url in (
        "/admin/",
        "/admin/customers/",
        "/admin/invoices/",
        "/admin/audit_events/",
        "/admin/customers/export/csv/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 302, url
        assert "/admin/login" in response.headers["Location"]


def test_login_with_wrong_password_is_refused_and_right_one_opens_the_dashboard(admin_client):
    refused = admin_client.login("billing", "wrong password entirely")
    assert refused.status_code == 401
    assert admin_client.get("/admin/").status_code == 302
    accepted = admin_client.login("billing")
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("/admin/")
    page = admin_client.get("/admin/")
    assert page.status_code == 200 and "MRR" in page.get_data(as_text=True)


def test_unknown_user_and_disabled_user_cannot_log_in(admin_client, praho_committing, staff):
    assert (
        admin_client.client.post(
            "/admin/login",
            data={
                "email": "nobody@praho.test",
                "password": PASSWORD,
                "csrf_token": csrf_token(admin_client.get("/admin/login").get_data(as_text=True)),
            },
        ).status_code
        == 401
    )
    with praho_committing.transaction() as session:
        session.get(StaffUser, staff["billing"]).active = False
    assert admin_client.login("billing").status_code == 401


def test_post_without_csrf_token_is_refused_and_changes_nothing(
    admin_client, seed, praho_committing
):
    draft_id = _draft(seed)
    admin_client.login("billing")
    response = admin_client.client.post(
        f"/admin/invoices/record-action/issue/?id={draft_id}", data={}
    )
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    bad_token = admin_client.client.post(
        f"/admin/invoices/record-action/issue/?id={draft_id}", data={"csrf_token": "forged"}
    )
    assert bad_token.status_code == 400
    with praho_committing.transaction() as session:
        assert session.get(Invoice, draft_id).status == DocumentStatus.DRAFT
    # The login form itself is protected too.
    assert (
        admin_client.client.post(
            "/admin/login", data={"email": "billing@praho.test", "password": PASSWORD}
        ).status_code
        == 400
    )


def test_support_cannot_run_money_actions_but_can_read_and_add_notes(
    admin_client, seed, praho_committing
):
    draft_id = _draft(seed)
    admin_client.login("support")
    details = f"/admin/invoices/details/?id={draft_id}"
    page = admin_client.get(details)
    assert page.status_code == 200
    assert "action-issue" not in page.get_data(as_text=True)  # no button shown...
    refused = admin_client.post_form(
        details, f"/admin/invoices/record-action/issue/?id={draft_id}", {}
    )
    assert refused.status_code == 403  # ...and the server refuses the POST anyway
    assert (
        admin_client.get(f"/admin/invoices/record-action/issue/?id={draft_id}").status_code == 403
    )
    with praho_committing.transaction() as session:
        assert session.get(Invoice, draft_id).status == DocumentStatus.DRAFT
    noted = admin_client.post_form(
        details, "/admin/invoices/note/", {"id": str(draft_id), "body": "Customer called about VAT"}
    )
    assert noted.status_code == 302
    assert "Customer called about VAT" in admin_client.get(details).get_data(as_text=True)


def test_billing_issues_a_draft_through_the_service(admin_client, seed, praho_committing):
    draft_id = _draft(seed)
    admin_client.login("billing")
    url = f"/admin/invoices/record-action/issue/?id={draft_id}"
    response = admin_client.post_form(url, url, {})
    assert response.status_code == 302
    with praho_committing.transaction() as session:
        invoice = session.get(Invoice, draft_id)
        assert invoice.status == DocumentStatus.ISSUED and invoice.full_number
        assert invoice.issued_by == "user:billing@praho.test"


def test_staff_list_is_for_admins_only(admin_client):
    admin_client.login("billing")
    assert admin_client.get("/admin/staff_users/").status_code == 403
    admin_client.client.cookies.clear() if hasattr(admin_client.client, "cookies") else None


def test_admin_sees_the_staff_list_without_password_hashes(admin_client):
    admin_client.login("admin")
    page = admin_client.get("/admin/staff_users/").get_data(as_text=True)
    assert "support@praho.test" in page and "scrypt" not in page
    export = admin_client.get("/admin/staff_users/export/csv/").get_data(as_text=True)
    assert "support@praho.test" in export and "scrypt" not in export


@pytest.fixture
def praho_config():
    return {"RATELIMIT_LOGIN": "3 per minute"}


def test_login_is_throttled_per_address(admin_client):
    statuses = [
        admin_client.login("billing", "wrong password entirely").status_code for _ in range(4)
    ]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3] == 429
    # Even the right password waits now: the limit is on attempts, not failures.
    assert admin_client.login("billing").status_code == 429


def test_security_headers_on_admin_pages(admin_client):
    response = admin_client.get("/admin/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: no HSTS
    secure = admin_client.client.get("/admin/login", base_url="https://billing.praho.test")
    assert "max-age=" in secure.headers["Strict-Transport-Security"]
    # Other surfaces keep their own headers.
    assert "Content-Security-Policy" not in admin_client.get("/healthz").headers


def test_session_cookie_flags(praho_database_url):
    from praho.core.app import create_app
    from praho.core.testing import StaticTestPlugin, config_for_tests

    app = create_app(
        config_for_tests(praho_database_url, SESSION_COOKIE_SECURE=True),
        plugins=[("static_test", StaticTestPlugin())],
    )
    response = app.test_client().get("/admin/login", base_url="https://x.test")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    app.extensions["praho.db"].dispose()


def test_session_expires_after_the_lifetime_and_when_idle(admin_client):
    admin_client.login("billing")
    assert admin_client.get("/admin/").status_code == 200
    with admin_client.client.session_transaction() as session:
        session["seen_at"] = session["seen_at"] - 61 * 60  # idle longer than 60 minutes
    expired = admin_client.get("/admin/")
    assert expired.status_code == 302 and "/admin/login" in expired.headers["Location"]
    admin_client.login("billing")
    with admin_client.client.session_transaction() as session:
        session["auth_at"] = session["auth_at"] - 481 * 60  # past the 8-hour lifetime
    assert admin_client.get("/admin/").status_code == 302


def test_password_change_ends_open_sessions(admin_client, praho_committing, staff):
    from praho.admin.staff import set_password

    admin_client.login("billing")
    with praho_committing.transaction() as session:
        set_password(session, session.get(StaffUser, staff["billing"]), "another long password")
    assert admin_client.get("/admin/").status_code == 302


def test_logout_needs_post_with_token(admin_client):
    admin_client.login("billing")
    assert admin_client.get("/admin/logout").status_code == 405
    out = admin_client.post_form("/admin/", "/admin/logout", {})
    assert out.status_code == 302
    assert admin_client.get("/admin/").status_code == 302


def test_login_redirect_target_stays_on_site(admin_client):
    page = admin_client.get("/admin/login")
    response = admin_client.client.post(
        "/admin/login?next=https://evil.example/",
        data={
            "email": "billing@praho.test",
            "password": PASSWORD,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )
    assert response.headers["Location"].endswith("/admin/")


def test_login_is_throttled_per_account_across_addresses(praho_database_url, staff):
    from praho.core.app import create_app
    from praho.core.testing import StaticTestPlugin, config_for_tests

    config = config_for_tests(praho_database_url, RATELIMIT_LOGIN="100 per minute",
                              RATELIMIT_LOGIN_ACCOUNT="2 per minute")
    app = create_app(config, plugins=[("static_test", StaticTestPlugin())])
    try:
        statuses = []
        for n in range(3):  # three different client addresses, one account
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = f"10.0.0.{n + 1}"
            page = client.get("/admin/login").get_data(as_text=True)
            statuses.append(client.post("/admin/login", data={
                "email": "billing@praho.test", "password": "wrong password entirely",
                "csrf_token": csrf_token(page)}).status_code)
        assert statuses == [401, 401, 429]
        other = AdminClient(app.test_client())
        assert other.login("support").status_code == 302  # another account is not affected
    finally:
        app.extensions["praho.db"].dispose()


@pytest.mark.redis
def test_login_limit_is_shared_across_workers_through_redis(praho_database_url, staff):
    import os

    import redis
    from praho.core.app import create_app
    from praho.core.testing import StaticTestPlugin, config_for_tests

    from .conftest import AdminClient

    url = os.environ.get("PRAHO_TEST_REDIS_URL")
    if not url:
        pytest.skip("needs Redis: set PRAHO_TEST_REDIS_URL")
    store = redis.Redis.from_url(url)

    def clear_login_counts():
        for key in store.scan_iter("*login*"):
            store.delete(key)

    clear_login_counts()
    config = config_for_tests(
        praho_database_url, RATELIMIT_STORAGE_URI=url, RATELIMIT_LOGIN="3 per minute"
    )
    # Two applications stand for two gunicorn workers: the count lives in Redis.
    apps = [create_app(config, plugins=[("static_test", StaticTestPlugin())]) for _ in range(2)]
    try:
        first, second = (AdminClient(app.test_client()) for app in apps)
        statuses = [
            first.login("billing", "wrong password entirely").status_code,
            second.login("billing", "wrong password entirely").status_code,
            first.login("billing", "wrong password entirely").status_code,
            second.login("billing").status_code,
        ]
        assert statuses == [401, 401, 401, 429]
        assert list(store.scan_iter("*login*")), "the counts must live in Redis"
    finally:
        clear_login_counts()
        for app in apps:
            app.extensions["praho.db"].dispose()
