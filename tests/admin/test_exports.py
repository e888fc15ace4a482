"""Every back-office list exports its rows as CSV, and money the same way everywhere.

Exports are read through the real streamed response to its end, with rows in the
lists: the credit-movements export once stopped after the header as soon as it had a
row (a relation loaded after the request's session was gone). Money columns are major
units as plain decimals (2420.00) beside a currency column; lists show money formatted.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest
from praho.admin.views.base import PrahoModelView
from praho.core.models import WebhookEvent, WebhookStatus
from praho.core.payments.testing import customer_with_card
from praho.core.services.payments import charge_invoice
from praho.core.services.refunds import create_refund
from sqlalchemy import select

PLAIN_DECIMAL = re.compile(r"-?\d+\.\d+")

# Lists the seed below fills; every other list is exported too, with whatever it holds.
SEEDED = {
    "customers", "subscriptions", "invoices", "credit_notes", "payments", "refunds",
    "credit_movements", "webhook_events", "audit_events", "staff_users", "coupons",
    "campaigns", "price_locks", "lockable_prices",
}


def _build(factory, session):
    from praho.core.models.payments import Payment
    from praho.plugins.promotions.coupons import CouponSpec, create_campaign, create_coupon

    # The subscription first: its first invoice is dated at its start, and numbers
    # follow the dates.
    factory.subscription(factory.price(code="WEB-PRO-M"))
    invoice = factory.invoice(lines=[("Server dedicat", "1", "2000.00")])
    factory.invoice(customer=factory.customer(code="ACME"))
    card_invoice = factory.invoice(customer_with_card(factory), [("Web Hosting", "1", "100.00")])
    attempt = charge_invoice(session, card_invoice, reason="manual")
    session.flush()
    payment = session.execute(select(Payment).where(Payment.attempt_id == attempt.id)).scalar_one()
    create_refund(session, payment, amount_minor=5000, reason="service_failure",
                  destination="original")
    session.add(WebhookEvent(source="stripe", event_id="evt_export", event_type="charge.failed",
                             status=WebhookStatus.FAILED, payload={},
                             received_at=datetime(2026, 3, 1, tzinfo=UTC), attempts=1,
                             last_error="=cmd|' /C calc'!A0"))
    campaign = create_campaign(session, code="BF2026", name="Black Friday",
                               starts_on=date(2026, 11, 1), budget_minor=500000, currency="RON")
    create_coupon(session, CouponSpec(code="MINUS50", name="50 lei", discount_type="fixed",
                                      amounts={"RON": 5000}, campaign=campaign))
    return invoice.id


@pytest.fixture
def populated(admin_client, seed, praho_committing):
    """Rows in every seeded list, written through the services and the back office."""
    from praho.core.models import Price

    invoice_id = seed(_build)
    with praho_committing.transaction() as session:
        price_id = session.execute(select(Price.id).where(Price.code == "WEB-PRO-M")).scalar()
    admin_client.login("billing")
    pay = f"/admin/invoices/record-action/bank_payment/?id={invoice_id}"
    admin_client.post_form(pay, pay, {"amount": "2.500,00", "bank_reference": "OP 77"})
    credit = f"/admin/invoices/record-action/credit_note/?id={invoice_id}"
    admin_client.post_form(credit, credit, {"reason": "discount agreed", "amount": "100,00"})
    grant = f"/admin/lockable_prices/record-action/grant_lock/?id={price_id}"
    admin_client.post_form(grant, grant, {"customer": "ACME", "amount": "49,00",
                                          "reason": "loyal since 2015"})
    admin_client.client.post("/admin/logout", data={})
    admin_client.login("admin")  # sees every list, the staff list included
    return invoice_id


def _export(admin_client, endpoint, query=""):
    """The CSV of a list, read from the streamed response to its very end."""
    response = admin_client.client.get(f"/admin/{endpoint}/export/csv/{query}", buffered=False)
    assert response.status_code == 200, endpoint
    assert "text/csv" in response.headers["Content-Type"], endpoint
    try:
        body = b"".join(response.iter_encoded())
    finally:
        response.close()
    return list(csv.reader(io.StringIO(body.decode("utf-8"))))


def _views(praho_app):
    return [v for v in praho_app.extensions["praho.admin"]._views
            if isinstance(v, PrahoModelView)]


def _listed(praho_app, view):
    """How many rows the list holds (its own count query, filters of its kind included)."""
    database = praho_app.extensions["praho.db"]
    with praho_app.test_request_context("/admin/"):
        try:
            return view.get_count_query().scalar()
        finally:
            database.remove()


def test_every_list_exports_all_its_rows_to_the_end(admin_client, populated, praho_app):
    exported = set()
    for view in _views(praho_app):
        rows = _export(admin_client, view.endpoint)
        header, data = rows[0], rows[1:]
        assert len(header) == len(view._export_columns), view.endpoint
        assert len(data) == _listed(praho_app, view), view.endpoint
        assert all(len(row) == len(header) for row in data), view.endpoint
        if data:
            exported.add(view.endpoint)
    assert exported >= SEEDED, SEEDED - exported


def test_credit_movements_export_prints_the_entry_of_every_line(admin_client, populated):
    header, *data = _export(admin_client, "credit_movements")
    column = {name: i for i, name in enumerate(header)}
    assert data, "the bank overpayment put money on the customer's credit"
    for row in data:
        assert row[column["Date"]] and row[column["Kind"]]
        assert PLAIN_DECIMAL.fullmatch(row[column["Amount"]]), row  # -80.00, no apostrophe
        assert row[column["Currency"]] == "RON"


def test_money_is_exported_in_major_units_with_its_currency_everywhere(
    admin_client, populated, praho_app
):
    for view in _views(praho_app):
        names = [name for name, _label in view._export_columns]
        money = [name for name in view.money_columns if name in names]
        if not money:
            continue
        rows = _export(admin_client, view.endpoint)[1:]
        for name in money:
            currency = view.money_columns[name]
            assert currency in names, (view.endpoint, name)
            for row in rows:
                cell = row[names.index(name)]
                assert cell == "" or PLAIN_DECIMAL.fullmatch(cell), (view.endpoint, name, cell)


def test_the_figures_of_each_export(admin_client, populated):
    def by_header(endpoint, query=""):
        header, *data = _export(admin_client, endpoint, query)
        return [dict(zip(header, row, strict=True)) for row in data]

    [invoice] = [r for r in by_header("invoices") if r["Total"] == "2420.00"]
    assert invoice["Currency"] == "RON" and PLAIN_DECIMAL.fullmatch(invoice["Paid"])
    assert PLAIN_DECIMAL.fullmatch(invoice["Credit notes"]) and invoice["Credit notes"] != "0.00"
    [note] = by_header("credit_notes")
    assert PLAIN_DECIMAL.fullmatch(note["Total"]) and note["Currency"] == "RON"
    bank = [r for r in by_header("payments") if r["Bank Reference"] == "OP 77"]
    assert [(r["Amount"], r["Currency"], r["Fee"], r["Refunded"]) for r in bank] == [
        ("2500.00", "RON", "0.00", "0.00")]
    [refund] = by_header("refunds")
    assert (refund["Amount"], refund["Currency"]) == ("50.00", "RON")
    [coupon] = by_header("coupons")
    assert coupon["Amounts"] == '{"RON": "50.00"}'
    [campaign] = by_header("campaigns")
    assert (campaign["Budget"], campaign["Spent"], campaign["Currency"]) == (
        "5000.00", "0.00", "RON")
    [lock] = by_header("price_locks")
    assert (lock["Locked price"], lock["Currency"]) == ("49.00", "RON")
    [event] = by_header("webhook_events")
    assert event["Last error"].startswith("'=")  # formula cells stay neutralised


def test_lists_show_money_formatted(admin_client, populated):
    def text(url):
        return " ".join(re.sub(r"<[^>]+>", " ", admin_client.get(url).get_data(as_text=True))
                        .split())

    assert "50.00 RON" in text("/admin/coupons/") and "5000" not in text("/admin/coupons/")
    campaigns = text("/admin/campaigns/")
    assert "5,000.00 RON" in campaigns and "500000" not in campaigns
    assert "2,420.00 RON" in text("/admin/invoices/")
    assert "49.00 RON" in text("/admin/price_locks/")
