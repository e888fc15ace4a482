"""Refunds, price locks and the plugins' lists in the back office, through the services."""

from __future__ import annotations

from praho.core.models.payments import Payment
from praho.core.models.refunds import Refund
from praho.core.payments.testing import customer_with_card
from praho.core.services.payments import charge_invoice
from praho.plugins.grandfathering.locks import grant_lock
from praho.plugins.grandfathering.models import PriceLock
from praho.plugins.promotions.coupons import CouponSpec, create_coupon
from sqlalchemy import func, select


def _card_payment(seed, praho_committing):
    def build(factory, session):
        customer = customer_with_card(factory)
        invoice = factory.invoice(customer, [("Web Hosting", "1", "100.00")])
        return invoice.id

    invoice_id = seed(build)
    with praho_committing.transaction() as session:
        from praho.core.models import Invoice

        attempt = charge_invoice(session, session.get(Invoice, invoice_id), reason="manual")
        attempt_id = attempt.id
    with praho_committing.transaction() as session:
        return session.execute(select(Payment.id).where(Payment.attempt_id == attempt_id)).scalar_one()


def test_billing_refunds_a_payment_through_the_workflow(admin_client, seed, praho_committing):
    payment_id = _card_payment(seed, praho_committing)
    admin_client.login("billing")
    details = f"/admin/payments/details/?id={payment_id}"
    requested = admin_client.post_form(details, f"/admin/payments/record-action/refund/?id={payment_id}",
                                       {"amount": "50.00", "reason": "service_failure",
                                        "destination": "original", "internal_note": "outage"})
    assert requested.status_code == 302
    with praho_committing.transaction() as session:
        refund = session.execute(select(Refund)).scalar_one()
        refund_id, reference = refund.id, refund.reference
        assert (refund.status, refund.amount_minor, refund.requested_by) == (
            "pending", 5000, "user:billing@praho.test")
    page = f"/admin/refunds/details/?id={refund_id}"
    assert admin_client.post_form(page, f"/admin/refunds/record-action/review/?id={refund_id}",
                                  {"note": "ticket 42"}).status_code == 302
    assert admin_client.post_form(page, f"/admin/refunds/record-action/approve/?id={refund_id}",
                                  {}).status_code == 302
    with praho_committing.transaction() as session:
        refund = session.get(Refund, refund_id)
        assert refund.status == "completed" and refund.approved_by == "user:billing@praho.test"
        assert session.get(Payment, payment_id).refunded_minor == 5000
    listed = admin_client.get("/admin/refunds/?search=" + reference)
    assert reference in listed.get_data(as_text=True)


def test_support_cannot_refund_and_a_bad_amount_changes_nothing(admin_client, seed,
                                                                praho_committing):
    payment_id = _card_payment(seed, praho_committing)
    details = f"/admin/payments/details/?id={payment_id}"
    action = f"/admin/payments/record-action/refund/?id={payment_id}"
    admin_client.login("support")
    assert admin_client.post_form(details, action, {"reason": "other"}).status_code == 403
    admin_client.client.post("/admin/logout", data={})
    admin_client.login("billing")
    refused = admin_client.post_form(details, action, {"amount": "lots", "reason": "other",
                                                       "destination": "original"})
    assert refused.status_code in (200, 302)
    too_much = admin_client.post_form(details, action, {"amount": "999.00", "reason": "other",
                                                        "destination": "original"})
    assert too_much.status_code in (200, 302)
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count(Refund.id))).scalar_one() == 0


def test_price_locks_are_listed_and_revoked_with_a_reason(admin_client, seed, praho_committing):
    def build(factory, session):
        price = factory.price()
        lock = grant_lock(session, customer=factory.customer(), price=price,
                          unit_amount_minor=4000, reason="loyal since 2015")
        return lock.id

    lock_id = seed(build)
    admin_client.login("billing")
    assert "loyal since 2015" in admin_client.get("/admin/price_locks/").get_data(as_text=True)
    page = f"/admin/price_locks/details/?id={lock_id}"
    action = f"/admin/price_locks/record-action/revoke/?id={lock_id}"
    admin_client.post_form(page, action, {"reason": ""})
    with praho_committing.transaction() as session:
        assert session.get(PriceLock, lock_id).revoked_at is None  # no reason: refused
    assert admin_client.post_form(page, action, {"reason": "customer left"}).status_code == 302
    with praho_committing.transaction() as session:
        assert session.get(PriceLock, lock_id).revoked_at is not None


def test_plugin_lists_render_and_export(admin_client, seed):
    seed(lambda factory, session: create_coupon(session, CouponSpec(
        code="WELCOME10", name="Welcome", discount_type="percentage", percent="10")))
    admin_client.login("support")
    for endpoint in ("refunds", "coupons", "campaigns", "redemptions", "price_locks",
                     "usage_ratings", "meters", "usage_alerts"):
        assert admin_client.get(f"/admin/{endpoint}/").status_code == 200, endpoint
    exported = admin_client.get("/admin/coupons/export/csv/")
    assert exported.status_code == 200 and "WELCOME10" in exported.get_data(as_text=True)


def test_billing_grants_price_locks_one_by_one_and_in_bulk(admin_client, seed, praho_committing):
    def build(factory, session):
        price = factory.price(code="WEB-PRO-M")
        customer = factory.customer(code="ACME")
        factory.subscription(price, customer=factory.customer(), start="2026-01-31")
        return price.id

    price_id = seed(build)
    admin_client.login("billing")
    page = f"/admin/lockable_prices/details/?id={price_id}"
    grant = f"/admin/lockable_prices/record-action/grant_lock/?id={price_id}"
    admin_client.post_form(page, grant, {"customer": "NOBODY", "amount": "40.00",
                                         "reason": "loyal"})
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count(PriceLock.id))).scalar_one() == 0
    assert admin_client.post_form(page, grant, {"customer": "ACME", "amount": "40.00",
                                                "reason": "loyal since 2015",
                                                "expires_on": "2027-12-31"}).status_code == 302
    bulk = f"/admin/lockable_prices/record-action/bulk_lock/?id={price_id}"
    assert admin_client.post_form(page, bulk, {"reason": "2027 price rise"}).status_code == 302
    with praho_committing.transaction() as session:
        locks = session.execute(select(PriceLock).order_by(PriceLock.id)).scalars().all()
        assert [(lock.unit_amount_minor, lock.granted_by) for lock in locks][0] == (
            4000, "user:billing@praho.test")
        assert len(locks) == 2 and locks[1].bulk_key


def test_subscriptions_are_found_by_customer_and_plugin_lists_search_and_filter(
    admin_client, seed
):
    def build(factory, session):
        alfa = factory.subscription(customer=factory.customer(legal_name="Alfa Găzduire SRL"))
        beta = factory.subscription(customer=factory.customer(legal_name="Beta Cloud SRL"))
        return alfa.id, beta.id

    alfa_id, beta_id = seed(build)
    admin_client.login("support")
    found = admin_client.get("/admin/subscriptions/?search=Alfa").get_data(as_text=True)
    assert f"id={alfa_id}" in found and f"id={beta_id}" not in found
    # Each plugin list answers a search and shows its filters.
    for view in ("usage_ratings", "meters", "usage_alerts", "campaigns", "redemptions"):
        page = admin_client.get(f"/admin/{view}/?search=x")
        assert page.status_code == 200, view
        assert "filter" in page.get_data(as_text=True).lower(), view


def test_usage_events_stripe_refused_are_listed_for_finance(admin_client, seed):
    from datetime import UTC, datetime

    from praho.plugins.usage_metering.meters import MeterInput, define_meter
    from praho.plugins.usage_metering.models import UsageStripeRefusal

    def build(factory, session):
        meter = define_meter(session, MeterInput(
            code="bandwidth_gb", name="Trafic", unit="GB", aggregation="sum", property="gb",
            category="bandwidth"))
        customer = factory.customer(legal_name="Gamma Web SRL")
        session.add(UsageStripeRefusal(
            meter_id=meter.id, customer_id=customer.id, event_id="evt-refused-35d",
            identifier="praho-bandwidth-1-evt", http_status=400,
            error_code="invalid_request_error",
            message="Timestamp is more than 35 days in the past",
            refused_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC)))

    seed(build)
    admin_client.login("support")
    page = admin_client.get("/admin/usage_stripe_refusals/").get_data(as_text=True)
    assert "evt-refused-35d" in page and "35 days" in page and "invalid_request_error" in page
    found = admin_client.get("/admin/usage_stripe_refusals/?search=35d")
    assert found.status_code == 200 and "evt-refused-35d" in found.get_data(as_text=True)
    # Read-only: nobody edits what Stripe said.
    assert admin_client.get("/admin/usage_stripe_refusals/new/").status_code in (302, 403, 404)
