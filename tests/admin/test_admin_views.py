"""Back-office lists and actions: each calls the core service, exports CSV, plugs in views."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from praho.admin.views.base import PrahoModelView
from praho.core.hookspecs import hookimpl
from praho.core.models import (
    AuditEvent,
    DocumentKind,
    DocumentStatus,
    Invoice,
    SubscriptionStatus,
    WebhookEvent,
    WebhookStatus,
)
from praho.core.models.subscriptions import Subscription
from sqlalchemy import select

from .conftest import csrf_token


def _issued(seed, **kw):
    return seed(lambda f, s: f.invoice(**kw).id)


def test_customer_search_and_new_draft_invoice(admin_client, seed, praho_committing):
    customer_id = seed(lambda f, s: f.customer(legal_name="Căutare Hosting SRL").id)
    admin_client.login("billing")
    found = admin_client.get("/admin/customers/?search=Căutare").get_data(as_text=True)
    assert "Căutare Hosting SRL" in found
    url = f"/admin/customers/record-action/new_draft/?id={customer_id}"
    response = admin_client.post_form(
        url, url, {"item_1": "VPS 4GB", "quantity_1": "2", "unit_price_1": "49,50"}
    )
    assert (
        response.status_code == 302 and "/admin/invoices/details/" in response.headers["Location"]
    )
    with praho_committing.transaction() as session:
        draft = session.execute(
            select(Invoice).where(Invoice.customer_id == customer_id)
        ).scalar_one()
        assert draft.status == DocumentStatus.DRAFT and draft.lines[0].net_amount_minor == 9900


def test_bad_draft_input_is_refused_with_the_field_and_nothing_written(
    admin_client, seed, praho_committing
):
    customer_id = seed(lambda f, s: f.customer().id)
    admin_client.login("billing")
    url = f"/admin/customers/record-action/new_draft/?id={customer_id}"
    response = admin_client.post_form(url, url, {"item_1": "VPS", "unit_price_1": "abc"})
    assert response.status_code == 302 and "record-action" in response.headers["Location"]
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "unit_price" in page
    with praho_committing.transaction() as session:
        assert session.execute(select(Invoice)).first() is None


def test_void_and_credit_note_go_through_the_services(admin_client, seed, praho_committing):
    first, second = _issued(seed), _issued(seed)
    admin_client.login("billing")
    url = f"/admin/invoices/record-action/void/?id={first}"
    assert admin_client.post_form(url, url, {"reason": "wrong customer"}).status_code == 302
    url = f"/admin/invoices/record-action/credit_note/?id={second}"
    preview = admin_client.get(url).get_data(as_text=True)
    assert "action-preview" in preview
    response = admin_client.post_form(url, url, {"reason": "discount agreed", "amount": "12.10"})
    assert "/admin/credit_notes/details/" in response.headers["Location"]
    with praho_committing.transaction() as session:
        assert session.get(Invoice, first).status == DocumentStatus.VOID
        note = session.execute(
            select(Invoice).where(Invoice.kind == DocumentKind.CREDIT_NOTE)
        ).scalar_one()
        assert note.original_invoice_id == second and note.total_minor == 1210
        actions = {a.action for a in session.execute(select(AuditEvent)).scalars()}
        assert {"invoice.voided", "credit_note.issued"} <= actions


def test_issued_documents_cannot_be_edited_or_deleted_from_the_ui(admin_client, seed):
    invoice_id = _issued(seed)
    admin_client.login("admin")
    for url in (
        f"/admin/invoices/edit/?id={invoice_id}",
        "/admin/invoices/new/",
        "/admin/audit_events/edit/?id=1",
        "/admin/credit_movements/new/",
    ):
        assert admin_client.get(url).status_code in (302, 403, 404), url
    page = admin_client.get("/admin/invoices/")
    token = csrf_token(page.get_data(as_text=True))
    deleted = admin_client.client.post(
        "/admin/invoices/delete/", data={"id": str(invoice_id), "csrf_token": token}
    )
    assert deleted.status_code in (302, 403, 404)


def test_pdf_download(admin_client, seed):
    invoice_id = _issued(seed)
    admin_client.login("support")  # reading is for everyone
    response = admin_client.get(f"/admin/invoices/download/pdf/?id={invoice_id}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert "attachment" in response.headers["Content-Disposition"]


def test_csv_export_with_search_and_formula_cells_neutralised(admin_client, seed):
    seed(lambda f, s: f.customer(legal_name="=HYPERLINK(1) SRL"))
    seed(lambda f, s: f.customer(legal_name="Plain Hosting SRL"))
    admin_client.login("support")
    response = admin_client.get("/admin/customers/export/csv/?search=Plain")
    assert response.status_code == 200 and "text/csv" in response.headers["Content-Type"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 2 and "Plain Hosting SRL" in rows[1]
    everything = admin_client.get("/admin/customers/export/csv/").get_data(as_text=True)
    assert "'=HYPERLINK(1) SRL" in everything


def test_pause_preview_then_pause_and_resume(admin_client, seed, praho_committing):
    sub_id = seed(lambda f, s: f.subscription(start="2026-01-31").id)
    admin_client.login("billing")
    url = f"/admin/subscriptions/record-action/pause/?id={sub_id}"
    preview = admin_client.get(url).get_data(as_text=True)
    assert "action-preview" in preview
    assert admin_client.post_form(url, url, {"reason": "customer request"}).status_code == 302
    with praho_committing.transaction() as session:
        assert session.get(Subscription, sub_id).status == SubscriptionStatus.PAUSED
    url = f"/admin/subscriptions/record-action/resume/?id={sub_id}"
    assert admin_client.post_form(url, url, {}).status_code == 302
    with praho_committing.transaction() as session:
        assert session.get(Subscription, sub_id).status == SubscriptionStatus.ACTIVE


def test_replay_a_failed_webhook_marks_it_for_retry(admin_client, praho_committing):
    with praho_committing.transaction() as session:
        failed = WebhookEvent(
            source="stripe",
            event_id="evt_1",
            event_type="charge.failed",
            payload={},
            status=WebhookStatus.FAILED,
            attempts=5,
            last_error="KeyError",
            received_at=datetime(2026, 3, 1, tzinfo=UTC),
        )
        done = WebhookEvent(
            source="stripe",
            event_id="evt_2",
            event_type="charge.succeeded",
            payload={},
            status=WebhookStatus.PROCESSED,
            attempts=1,
            received_at=datetime(2026, 3, 1, tzinfo=UTC),
        )
        session.add_all([failed, done])
        session.flush()
        failed_id, done_id = failed.id, done.id
    admin_client.login("billing")
    assert "charge.failed" in admin_client.get("/admin/").get_data(as_text=True)  # dashboard
    url = f"/admin/webhook_events/record-action/replay/?id={failed_id}"
    assert admin_client.post_form(url, url, {}).status_code == 302
    url = f"/admin/webhook_events/record-action/replay/?id={done_id}"
    refused = admin_client.post_form(f"/admin/webhook_events/details/?id={done_id}", url, {})
    assert refused.status_code == 302 and "record-action" in refused.headers["Location"]
    with praho_committing.transaction() as session:
        assert session.get(WebhookEvent, failed_id).status == WebhookStatus.RETRYING
        assert session.get(WebhookEvent, failed_id).next_attempt_at is not None
        assert session.get(WebhookEvent, done_id).status == WebhookStatus.PROCESSED


class _PluginView(PrahoModelView):
    column_list = ("action", "actor_id")


class AdminViewPlugin:
    @hookimpl
    def register_admin_views(self, admin, session):
        return [
            _PluginView(
                AuditEvent, session, name="Plugin audit", endpoint="plugin_audit", category="System"
            )
        ]


def test_hook_register_admin_views(praho_database_url):
    from praho.core.app import create_app
    from praho.core.testing import StaticTestPlugin, config_for_tests

    app = create_app(
        config_for_tests(praho_database_url),
        plugins=[("static_test", StaticTestPlugin()), ("views", AdminViewPlugin())],
    )
    admin = app.extensions["praho.admin"]
    assert any(getattr(v, "endpoint", None) == "plugin_audit" for v in admin._views)
    client = app.test_client()
    assert client.get("/admin/plugin_audit/").status_code == 302  # behind the login too
    app.extensions["praho.db"].dispose()


def test_language_switch(admin_client):
    admin_client.login("billing")  # the user's language is English
    assert "Customers" in admin_client.get("/admin/").get_data(as_text=True)
    switched = admin_client.post_form("/admin/", "/admin/language/ro", {"next": "/admin/"})
    assert switched.status_code == 302
    page = admin_client.get("/admin/customers/").get_data(as_text=True)
    assert "Clienți" in page and "Vechimea" not in page
    assert "Adaugă filtru" in page  # Flask-Admin's own strings, from its Romanian catalogue
    assert "Vechimea creanțelor" in admin_client.get("/admin/").get_data(as_text=True)


def test_dashboard_figures(seed, praho_app, praho_committing):
    from praho.admin.metrics import ageing_bucket, dashboard_figures
    from praho.core.testing import at

    seed(lambda f, s: f.invoice(now=at("2026-01-05")))
    seed(lambda f, s: f.subscription(start="2026-01-31"))
    with praho_committing.transaction() as session:
        figures = dashboard_figures(session, datetime(2026, 3, 20).date())
    assert (
        figures["mrr"]["RON"][-2] == 5000
        and figures["arr"]["RON"] == 12 * figures["mrr"]["RON"][-1]
    )
    assert figures["revenue"]["RON"][-3] > 0  # January
    assert sum(figures["ageing"]["RON"].values()) > 0
    assert [ageing_bucket(d) for d in (-3, 30, 31, 60, 61, 90, 91)] == [
        "0-30",
        "0-30",
        "31-60",
        "31-60",
        "61-90",
        "61-90",
        "90+",
    ]


def test_create_user_cli(praho_app, praho_committing):
    runner = praho_app.test_cli_runner()
    result = runner.invoke(
        args=[
            "admin",
            "create-user",
            "--email",
            "Ops@Praho.test",
            "--name",
            "Ops",
            "--role",
            "billing",
        ],
        input="a long enough password\na long enough password\n",
    )
    assert result.exit_code == 0, result.output
    short = runner.invoke(
        args=[
            "admin",
            "create-user",
            "--email",
            "x@praho.test",
            "--name",
            "X",
            "--role",
            "support",
        ],
        input="short\nshort\n",
    )
    assert short.exit_code != 0 and "password" in short.output
    from praho.admin.models import StaffUser

    with praho_committing.transaction() as session:
        emails = [u.email for u in session.execute(select(StaffUser)).scalars()]
    assert emails == ["ops@praho.test"]


def test_plugin_lists_for_rates_and_efactura_are_readable_by_support(
    admin_client, praho_committing
):
    from datetime import date
    from decimal import Decimal

    from praho.plugins.bnr_rates.models import ExchangeRate

    with praho_committing.transaction() as session:
        session.add(
            ExchangeRate(
                source="BNR",
                rate_date=date(2026, 3, 2),
                currency="EUR",
                rate=Decimal("4.9750"),
                published_value=Decimal("4.9750"),
                multiplier=1,
                fetched_at=datetime(2026, 3, 2, 13, tzinfo=UTC),
            )
        )
    admin_client.login("support")
    rates = admin_client.get("/admin/bnr_rates/?search=EUR")
    assert rates.status_code == 200 and "4.975" in rates.get_data(as_text=True)
    for url in (
        "/admin/bnr_fetches/",
        "/admin/efactura/",
        "/admin/payments/",
        "/admin/credit_movements/",
        "/admin/audit_events/",
        "/admin/webhook_events/",
    ):
        assert admin_client.get(url).status_code == 200, url
        assert admin_client.get(url.rstrip("/") + "/export/csv/").status_code == 200, url


def test_record_a_bank_payment_then_apply_credit(admin_client, seed, praho_committing):
    from praho.core.models import PaymentStatus
    from praho.core.money import to_major
    from praho.core.services.ledger import customer_credit_balance

    def two_invoices(f, s):
        customer = f.customer()
        return f.invoice(customer=customer).id, f.invoice(customer=customer).id, customer.id

    first, second, customer_id = seed(two_invoices)
    with praho_committing.transaction() as session:
        total = session.get(Invoice, first).total_minor
    admin_client.login("support")
    url = f"/admin/invoices/record-action/bank_payment/?id={first}"
    assert admin_client.get(url).status_code == 403
    admin_client.login("billing")
    overpay = str(to_major(total + 1000, "RON"))  # 10.00 more than due: becomes credit
    response = admin_client.post_form(url, url, {"amount": overpay, "bank_reference": "OP 123"})
    assert response.status_code == 302 and "record-action" not in response.headers["Location"]
    url = f"/admin/invoices/record-action/apply_credit/?id={second}"
    assert admin_client.post_form(url, url, {}).status_code == 302
    with praho_committing.transaction() as session:
        assert session.get(Invoice, first).payment_status == PaymentStatus.PAID
        assert session.get(Invoice, second).amount_paid_minor == 1000
        assert customer_credit_balance(session, customer_id, "RON") == 0
    movements = " ".join(
        admin_client.get("/admin/credit_movements/").get_data(as_text=True).split()
    )
    assert "> -10.00 RON <" in movements and "> 10.00 RON <" in movements, movements[-3000:]


def test_cancel_now_with_a_preview_credits_the_unused_part(admin_client, seed, praho_committing):
    from datetime import timedelta

    from praho.core.clock import business_date, utcnow

    # Started five days ago: most of the paid month is unused when staff cancel it now.
    start = business_date(utcnow()) - timedelta(days=5)
    sub_id = seed(lambda f, s: f.subscription(start=start).id)
    admin_client.login("billing")
    url = f"/admin/subscriptions/record-action/cancel/?id={sub_id}"
    preview = admin_client.get(url).get_data(as_text=True)
    assert "action-preview" in preview
    posted = admin_client.post_form(
        url, url, {"when": "now", "reason": "moving to another host", "credit_unused": "on"}
    )
    assert posted.status_code == 302
    with praho_committing.transaction() as session:
        subscription = session.get(Subscription, sub_id)
        assert subscription.status == SubscriptionStatus.CANCELLED
        assert subscription.cancellation_reason == "moving to another host"
        notes = (
            session.execute(select(Invoice).where(Invoice.kind == DocumentKind.CREDIT_NOTE))
            .scalars()
            .all()
        )
        assert len(notes) == 1 and notes[0].total_minor > 0  # the unused days, credited


def test_retry_payment_charges_the_card_on_file(admin_client, seed, praho_committing):
    from praho.core.payments.testing import customer_with_card

    def build(factory, session):
        return factory.invoice(customer_with_card(factory), [("VPS", "1", "100.00")]).id

    invoice_id = seed(build)
    admin_client.login("support")
    url = f"/admin/invoices/record-action/retry_charge/?id={invoice_id}"
    page = f"/admin/invoices/details/?id={invoice_id}"
    assert admin_client.post_form(page, url, {}).status_code == 403  # support cannot charge
    admin_client.client.post(
        "/admin/logout",
        data={"csrf_token": csrf_token(admin_client.get("/admin/").get_data(as_text=True))},
    )
    admin_client.login("billing")
    assert admin_client.post_form(page, url, {}).status_code == 302
    with praho_committing.transaction() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice.payment_status == "paid" and invoice.amount_paid_minor == 12100


def test_dashboard_lists_the_dunning_pipeline(admin_client, seed, praho_committing):
    from praho.core.services.subscriptions import suspend_subscription
    from praho.core.testing import at

    def build(factory, session):
        late = factory.subscription(customer=factory.customer(legal_name="Restanță SRL"))
        suspend_subscription(session, late, reason="non_payment", now=at("2026-02-20"))

    seed(build)
    admin_client.login("support")
    page = admin_client.get("/admin/").get_data(as_text=True)
    assert "Restanță SRL" in page and "suspended" in page


def test_a_corrected_invoice_names_the_invoice_it_corrects(admin_client, seed, praho_committing):
    from praho.core.testing import at

    def build(factory, session):
        customer = factory.customer()
        return customer.id, factory.invoice(customer, now=at("2026-03-02")).full_number

    customer_id, original = seed(build)
    admin_client.login("billing")
    url = f"/admin/customers/record-action/new_draft/?id={customer_id}"
    refused = admin_client.post_form(
        url, url, {"item_1": "VPS", "unit_price_1": "10", "type_code": "384", "corrects": "NOPE-1"}
    )
    assert refused.status_code == 302 and "record-action" in refused.headers["Location"]
    with praho_committing.transaction() as session:
        assert session.execute(select(Invoice).where(Invoice.status == "draft")).first() is None
    made = admin_client.post_form(
        url, url, {"item_1": "VPS", "unit_price_1": "10", "type_code": "384", "corrects": original}
    )
    assert made.status_code == 302 and "/admin/invoices/details/" in made.headers["Location"]
    with praho_committing.transaction() as session:
        draft = session.execute(select(Invoice).where(Invoice.status == "draft")).scalar_one()
        assert draft.attributes["invoice_type_code"] == "384"
        assert draft.attributes["corrects"] == {"number": original, "issue_date": "2026-03-02"}
