"""Goodwill credit idempotency keys belong to one customer and one grant.

A key such as ``outage-2026-03-01`` is reused for every customer an outage touched: each
gets its own credit. The same key used again for the same customer returns the first
grant when the amount and currency match, and is refused (nothing written) when not.
"""

from __future__ import annotations

import threading

import pytest
from praho.core.errors import IdempotencyConflict
from praho.core.models import AuditEvent, Customer, JournalEntry
from praho.core.models.audit import ActorType
from praho.core.payments.testing import assert_ledger_balanced, row_counts
from praho.core.services.audit import Actor
from praho.core.services.customer_credit import credit_balance, grant_goodwill_credit
from praho.core.testing import DEFAULT_NOW, PrahoFactory
from sqlalchemy import func, select

ANA = Actor(ActorType.USER, "ana@praho.test")
KEY = "outage-2026-03-01"


def _grant(session, customer, amount_minor=5000, currency="RON", key=KEY):
    return grant_goodwill_credit(session, customer, amount_minor=amount_minor, currency=currency,
                                 reason="outage on 1 March", actor=ANA, idempotency_key=key,
                                 now=DEFAULT_NOW)


def test_the_same_key_grants_to_each_customer_once(praho_session, praho_factory):
    first, second = praho_factory.customer(), praho_factory.customer()
    entry_first = _grant(praho_session, first)
    entry_second = _grant(praho_session, second)
    assert entry_second.id != entry_first.id
    assert _grant(praho_session, first).id == entry_first.id  # a retry
    assert _grant(praho_session, second).id == entry_second.id
    assert credit_balance(praho_session, first.id, "RON") == 5000
    assert credit_balance(praho_session, second.id, "RON") == 5000
    grants = praho_session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "customer_credit.granted"))
    assert grants == 2
    assert_ledger_balanced(praho_session)


@pytest.mark.parametrize(("amount_minor", "currency"), [(9000, "RON"), (5000, "EUR"),
                                                        (9000, "EUR")])
def test_the_same_key_with_another_amount_or_currency_is_refused(
    praho_session, praho_factory, amount_minor, currency
):
    customer = praho_factory.customer()
    _grant(praho_session, customer)
    before = row_counts(praho_session)
    with pytest.raises(IdempotencyConflict) as refused:
        _grant(praho_session, customer, amount_minor=amount_minor, currency=currency)
    assert KEY in refused.value.message and customer.code in refused.value.message
    assert refused.value.http_status == 409
    assert row_counts(praho_session) == before
    assert credit_balance(praho_session, customer.id, "RON") == 5000
    assert credit_balance(praho_session, customer.id, "EUR") == 0


@pytest.mark.postgres
@pytest.mark.parametrize("amounts", [(5000, 5000), (5000, 9000)])
def test_two_concurrent_grants_with_one_key_post_once(praho_app, praho_committing, amounts):
    """Both wait on the customer's lock; the second sees the first's entry, and refuses it
    when its amount differs (instead of silently returning it)."""
    with praho_committing.transaction() as session:
        customer_id = PrahoFactory(session).customer().id
    barrier = threading.Barrier(2)
    entries: list[int] = []
    errors: list[BaseException] = []

    def grant(amount_minor: int) -> None:
        try:
            with praho_app.app_context(), praho_committing.transaction() as session:
                customer = session.get(Customer, customer_id)
                barrier.wait()
                entries.append(_grant(session, customer, amount_minor=amount_minor).id)
        except IdempotencyConflict as error:
            errors.append(error)

    threads = [threading.Thread(target=grant, args=(amount,)) for amount in amounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(entries)) == 1
    assert len(errors) == (0 if amounts[0] == amounts[1] else 1)
    with praho_committing.transaction() as session:
        assert credit_balance(session, customer_id, "RON") in amounts
        assert session.scalar(select(func.count()).select_from(JournalEntry)) == 1


def test_a_grant_booked_under_an_unscoped_key_is_found_by_its_retry(praho_session, praho_factory):
    from praho.core.models.ledger import AccountCode
    from praho.core.services import ledger

    first, second = praho_factory.customer(), praho_factory.customer()
    # As grants were keyed before keys belonged to the customer: "goodwill:<key>".
    legacy = ledger.post_entry(
        praho_session, kind="goodwill_credit", memo="goodwill credit granted earlier",
        postings=[ledger.debit(AccountCode.DISCOUNTS, 5000, "RON", customer_id=first.id),
                  ledger.credit(AccountCode.CUSTOMER_CREDIT, 5000, "RON", customer_id=first.id)],
        idempotency_key=f"goodwill:{KEY}", source_type="customer", source_id=first.id,
        now=DEFAULT_NOW)
    assert _grant(praho_session, first).id == legacy.id  # the retry finds it: no second grant
    assert credit_balance(praho_session, first.id, "RON") == 5000
    with pytest.raises(IdempotencyConflict):
        _grant(praho_session, first, amount_minor=9000)
    # Another customer's grant under that key is a grant of its own.
    assert _grant(praho_session, second).id != legacy.id
    assert credit_balance(praho_session, second.id, "RON") == 5000
    assert_ledger_balanced(praho_session)
