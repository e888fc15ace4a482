"""Collection in the billing run, and concurrent charges (real commits)."""

import threading

import pytest
from praho.core.billing_runner import run_in_process
from praho.core.errors import InvalidTransition
from praho.core.hookspecs import hookimpl
from praho.core.models import Invoice, Payment, PaymentAttempt, PaymentStatus, Subscription
from praho.core.payments.gateway import SavedMethod
from praho.core.payments.testing import assert_ledger_balanced, customer_with_card
from praho.core.services import ledger
from praho.core.services.payments import charge_invoice, record_bank_transfer
from praho.core.testing import PrahoFactory, StaticTestPlugin, at
from praho.plugins.fake_gateway.gateway import GATEWAY, FakeGateway
from sqlalchemy import func, select

RENEWAL = at("2026-02-28", 3)


def _renewals(session, subscription_id):
    return session.execute(select(Invoice).where(
        Invoice.subscription_id == subscription_id, Invoice.period_start == RENEWAL.date()
    )).scalars().all()


def test_the_billing_run_charges_renewals_once_even_when_run_twice(praho_committing):
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        paying = factory.subscription(customer=customer_with_card(factory), start="2026-01-31")
        declined = factory.subscription(customer=customer_with_card(factory, "tok_decline"),
                                        start="2026-01-31")
        by_transfer = factory.customer()
        manual = factory.subscription(customer=by_transfer, start="2026-01-31")
        record_bank_transfer(session, customer=by_transfer, amount_minor=100000, currency="RON",
                             bank_reference="OP-RUN", received_on="2026-02-02",
                             now=at("2026-02-02"))
        ids = (paying.id, declined.id, manual.id)

    for _ in range(2):
        run_in_process(praho_committing, now=RENEWAL, chunk_size=2)

    with praho_committing.transaction() as session:
        attempts = {}
        for subscription_id in ids:
            subscription = session.get(Subscription, subscription_id)
            (invoice,) = [i for i in _renewals(session, subscription_id)] or [None]
            assert invoice is not None, f"no renewal for {subscription.id}"
            attempts[subscription_id] = session.execute(select(PaymentAttempt).where(
                PaymentAttempt.invoice_id == invoice.id)).scalars().all()
            if subscription_id == paying.id:
                assert invoice.payment_status == PaymentStatus.PAID
                (attempt,) = attempts[subscription_id]
                assert GATEWAY.charged_minor(attempt.key) == invoice.total_minor
            elif subscription_id == declined.id:
                assert invoice.payment_status == PaymentStatus.UNPAID
                assert [a.error_code for a in attempts[subscription_id]] == ["card_declined"]
            else:
                # No card: the transfer's credit paid it, no attempt was made.
                assert invoice.payment_status == PaymentStatus.PAID
                assert attempts[subscription_id] == []
        assert_ledger_balanced(session)


@pytest.mark.postgres
@pytest.mark.parametrize("keys", [("k", "k", "k", "k"), ("k", "k", "k2", "k3")])
def test_concurrent_charges_with_one_key_charge_once(praho_app, praho_committing, keys):
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        invoice_id = factory.invoice(customer_with_card(factory)).id

    barrier = threading.Barrier(4)
    outcomes = []

    def charge(key):
        barrier.wait()
        try:
            with praho_app.app_context(), praho_committing.transaction() as session:
                invoice = session.get(Invoice, invoice_id)
                attempt = charge_invoice(session, invoice, now=at("2026-03-02"), reason="manual",
                                         idempotency_key=key)
                outcomes.append((key, "attempt", attempt.id))
        except InvalidTransition as exc:
            outcomes.append((key, "refused", exc.message))
        except Exception as exc:  # noqa: BLE001 - reported by the assertions below
            outcomes.append((key, "crashed", repr(exc)))

    threads = [threading.Thread(target=charge, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    with praho_committing.transaction() as session:
        attempts = session.execute(select(PaymentAttempt).where(
            PaymentAttempt.invoice_id == invoice_id)).scalars().all()
        assert len(attempts) == 1, outcomes
        assert sum(GATEWAY.charged_minor(a.key) for a in attempts) == attempts[0].amount_minor
        payments = session.execute(select(func.count()).select_from(Payment)).scalar_one()
        assert payments == 1
        invoice = session.get(Invoice, invoice_id)
        assert invoice.payment_status == PaymentStatus.PAID
        assert ledger.customer_receivable(session, invoice.customer_id, "RON") == 0
        assert_ledger_balanced(session)
    # The winner's key answers with its attempt; every other caller is refused (paid
    # already, or the charge is still in flight), and nobody crashed.
    winner = next(key for key, kind, found in outcomes if kind == "attempt")
    for key, kind, found in outcomes:
        if key == winner:
            assert (kind, found) == ("attempt", attempts[0].id), outcomes
        else:
            assert kind == "refused", outcomes


def test_a_redelivered_chunk_collects_what_a_dead_worker_left(praho_committing):
    from praho.core.billing_runner import bill_chunk, start_run
    from praho.core.services.billing_run import bill_run_chunk

    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        subscription_id = factory.subscription(customer=customer_with_card(factory),
                                               start="2026-01-31").id
    run_id, (chunk_id,) = start_run(praho_committing, now=RENEWAL, chunk_size=10)
    # The first worker commits the chunk and dies before collecting.
    with praho_committing.transaction() as session:
        bill_run_chunk(session, chunk_id, worker="dead")
    assert bill_chunk(praho_committing, chunk_id) is None  # redelivered: already billed
    with praho_committing.transaction() as session:
        (invoice,) = _renewals(session, subscription_id)
        assert invoice.payment_status == PaymentStatus.PAID
        assert len(session.execute(select(PaymentAttempt).where(
            PaymentAttempt.invoice_id == invoice.id)).scalars().all()) == 1
    assert bill_chunk(praho_committing, chunk_id) is None  # and again: nothing more
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count()).select_from(PaymentAttempt)).scalar_one() == 1


class BrokenGateway(FakeGateway):
    """A gateway plugin with a bug: every call raises something that is not a GatewayError."""

    def purchase(self, request):
        raise RuntimeError("plugin bug")

    def get_transaction(self, idempotency_key, gateway_reference):
        raise RuntimeError("plugin bug")


class BrokenPlugin:
    @hookimpl
    def register_payment_gateways(self):
        return [BrokenGateway(id="broken")]


@pytest.fixture
def praho_plugins():
    return [("static_test", StaticTestPlugin()), ("broken_gateway", BrokenPlugin())]


def test_a_crashing_gateway_neither_stops_the_run_nor_the_settle_task(praho_app, praho_committing):
    from praho.core.payment_tasks import settle_unknown_task
    from praho.core.services.payments import save_payment_method
    from praho.core.tasks import build_beat_schedule

    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        broken_customer = factory.customer()
        save_payment_method(session, customer=broken_customer, gateway_id="broken",
                            method=SavedMethod(token="tok_x", customer_reference=None))
        broken = factory.subscription(customer=broken_customer, start="2026-01-31").id
        timeout = factory.subscription(customer=customer_with_card(factory, "tok_timeout"),
                                       start="2026-01-31").id
    run_in_process(praho_committing, now=RENEWAL, chunk_size=10)

    with praho_committing.transaction() as session:
        for subscription_id in (broken, timeout):
            (invoice,) = _renewals(session, subscription_id)
            (attempt,) = session.execute(select(PaymentAttempt).where(
                PaymentAttempt.invoice_id == invoice.id)).scalars().all()
            assert attempt.status == "unknown"
        # The attempts are old enough for the settle task (the run's clock is in the past).
    assert build_beat_schedule(praho_app)["payments-settle-unknown"]["task"] == \
        "praho.payments.settle_unknown"
    report = settle_unknown_task.delay().get()
    assert report == {"checked": 2, "settled": 1, "still_open": 0, "given_up": 0, "failed": 1}
    with praho_committing.transaction() as session:
        (invoice,) = _renewals(session, timeout)
        assert invoice.payment_status == PaymentStatus.PAID
