"""Payment methods on file: saved through the gateway, one default per customer.

Only what the gateway returns in a :class:`SavedMethod` is stored (token, brand, last
four digits, expiry); a card number never reaches the database.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError, InvalidTransition
from praho.core.models.customers import Customer
from praho.core.models.payments import MethodStatus, PaymentMethod
from praho.core.payments.gateway import MethodRequest, SavedMethod
from praho.core.services.audit import Actor, record_audit
from praho.core.services.payment_gateways import check_gateway_id, get_gateway
from sqlalchemy import select, update
from sqlalchemy.orm import Session


def default_method(session: Session, customer: Customer | int) -> PaymentMethod | None:
    """The customer's active default method, if any."""
    customer_id = customer if isinstance(customer, int) else customer.id
    return session.execute(
        select(PaymentMethod).where(
            PaymentMethod.customer_id == customer_id,
            PaymentMethod.is_default.is_(True),
            PaymentMethod.status == MethodStatus.ACTIVE,
        )
    ).scalar_one_or_none()


def add_payment_method(
    session: Session, *, customer: Customer, gateway_id: str, setup_reference: str,
    customer_reference: str | None = None, make_default: bool = True,
    actor: Actor | None = None, now: datetime | None = None,
) -> PaymentMethod:
    """Attach a method the customer set up at the gateway (SetupIntent, vault) and store it.

    The gateway is asked first; a refusal raises and nothing is written.
    """
    check_gateway_id("gateway_id", gateway_id)
    reference = v.text("setup_reference", setup_reference, max_length=255)
    assert reference is not None
    saved = get_gateway(gateway_id).add_payment_method(MethodRequest(
        idempotency_key=f"pm_{uuid.uuid4().hex}", customer_reference=customer_reference,
        setup_reference=reference, metadata={"customer": customer.code},
    ))
    return save_payment_method(session, customer=customer, gateway_id=gateway_id, method=saved,
                               make_default=make_default, actor=actor, now=now)


def save_payment_method(
    session: Session, *, customer: Customer, gateway_id: str, method: SavedMethod,
    make_default: bool = True, actor: Actor | None = None, now: datetime | None = None,
) -> PaymentMethod:
    """Store a method the gateway reported (also used by webhooks); idempotent by token."""
    moment = resolve_now(now)
    errors = v.Collector()
    errors.check(check_gateway_id, "gateway_id", gateway_id)
    errors.check(v.text, "method.token", method.token, max_length=255)
    errors.check(v.text, "method.kind", method.kind, max_length=20)
    if method.last4 is not None and not (len(method.last4) == 4 and method.last4.isdigit()):
        errors.errors.append(FieldError("method.last4", "must be the last four digits"))
    if method.exp_month is not None:
        errors.check(v.integer, "method.exp_month", method.exp_month, minimum=1, maximum=12)
    if method.exp_year is not None:
        errors.check(v.integer, "method.exp_year", method.exp_year, minimum=2000, maximum=2100)
    errors.raise_if_any()
    existing = session.execute(
        select(PaymentMethod).where(PaymentMethod.gateway_id == gateway_id,
                                    PaymentMethod.token == method.token)
    ).scalar_one_or_none()
    if existing is not None and existing.customer_id != customer.id:
        raise FieldError("method.token", "belongs to another customer")
    record = existing or PaymentMethod(customer_id=customer.id, gateway_id=gateway_id,
                                       token=method.token, created_at=moment)
    record.customer_reference = method.customer_reference
    record.kind = method.kind
    record.brand = v.external_text(method.brand, max_length=30) if method.brand else None
    record.last4 = method.last4
    record.exp_month, record.exp_year = method.exp_month, method.exp_year
    record.status, record.removed_at = MethodStatus.ACTIVE, None
    if existing is None:
        record.is_default = False
        session.add(record)
    session.flush()
    if make_default or default_method(session, customer.id) is None:
        set_default_method(session, record, actor=actor, now=moment)
    record_audit(session, actor=actor, action="payment_method.saved", object_type="customer",
                 object_id=customer.code, now=moment,
                 data={"method_id": record.id, "gateway": gateway_id, "label": record.label()})
    return record


def set_default_method(session: Session, method: PaymentMethod, *, actor: Actor | None = None,
                       now: datetime | None = None) -> PaymentMethod:
    """Make ``method`` the one the billing run charges (the previous default is unset)."""
    if method.status != MethodStatus.ACTIVE:
        raise InvalidTransition("a removed payment method cannot be the default")
    # Unset first: the database allows one default per customer at any moment.
    session.execute(
        update(PaymentMethod)
        .where(PaymentMethod.customer_id == method.customer_id, PaymentMethod.id != method.id,
               PaymentMethod.is_default.is_(True))
        .values(is_default=False)
        .execution_options(synchronize_session="fetch")
    )
    method.is_default = True
    session.flush()
    return method


def remove_payment_method(session: Session, method: PaymentMethod, *, actor: Actor | None = None,
                          now: datetime | None = None) -> PaymentMethod:
    """Detach the method at the gateway, then mark it removed here (it is never deleted:
    attempts point at it). No other method becomes the default on its own."""
    moment = resolve_now(now)
    if method.status == MethodStatus.REMOVED:
        return method
    get_gateway(method.gateway_id).remove_payment_method(method.token)
    method.status = MethodStatus.REMOVED
    method.is_default = False
    method.removed_at = moment
    session.flush()
    customer = session.get(Customer, method.customer_id)
    record_audit(session, actor=actor, action="payment_method.removed", object_type="customer",
                 object_id=customer.code if customer else method.customer_id, now=moment,
                 data={"method_id": method.id, "gateway": method.gateway_id,
                       "label": method.label()})
    return method
