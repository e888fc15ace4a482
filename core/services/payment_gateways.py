"""Dispatch to payment gateways by id, and their clearing accounts in the ledger.

Gateways are the objects plugins return from ``register_payment_gateways``; the core
never imports a gateway plugin. Money a gateway collected sits in that gateway's
clearing account (``5125.<gateway id>``) until the payout reaches the bank.
"""

from __future__ import annotations

import re

from praho.core.errors import FieldError, PluginError
from praho.core.models.ledger import Account, AccountCode, AccountType
from praho.core.models.payments import Payment
from praho.core.payments.gateway import PaymentGateway
from praho.core.plugins import get_registry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

HOOK = "register_payment_gateways"
# Gateway ids become part of an account code (20 characters: "5125." + 15).
GATEWAY_ID = re.compile(r"[a-z][a-z0-9_]{0,14}")
# Not a gateway: the id recorded on attempts paid entirely from customer credit.
CREDIT_GATEWAY_ID = "credit"


def available_gateways() -> dict[str, PaymentGateway]:
    """Every loaded gateway by id."""
    return dict(get_registry().objects(HOOK))


def get_gateway(gateway_id: str) -> PaymentGateway:
    """The loaded gateway with this id; a :class:`PluginError` names the ones that are loaded."""
    gateways = available_gateways()
    gateway = gateways.get(gateway_id)
    if gateway is None:
        loaded = ", ".join(sorted(gateways)) or "none"
        raise PluginError(f"no payment gateway {gateway_id!r} is loaded (loaded: {loaded})")
    if not isinstance(gateway, PaymentGateway):
        raise PluginError(f"payment gateway {gateway_id!r} does not implement PaymentGateway")
    if not GATEWAY_ID.fullmatch(gateway_id):
        raise PluginError(f"payment gateway id {gateway_id!r} must be 1-15 of a-z, 0-9, _")
    return gateway


def check_gateway_id(field: str, gateway_id: str) -> str:
    """A loaded gateway's id, or a :class:`FieldError` on ``field``."""
    try:
        get_gateway(gateway_id)
    except PluginError as exc:
        raise FieldError(field, exc.message) from None
    return gateway_id


def clearing_account(session: Session, gateway_id: str) -> str:
    """The code of the gateway's clearing account, created the first time it is needed."""
    code = f"{AccountCode.GATEWAY_CLEARING}.{gateway_id}"
    if session.execute(select(Account.code).where(Account.code == code)).first() is None:
        try:
            # A savepoint: another worker may create the same account at the same moment.
            with session.begin_nested():
                session.add(Account(code=code, name=f"Gateway clearing {gateway_id}"[:120],
                                    type=AccountType.ASSET))
        except IntegrityError:
            pass
    return code


def payment_by_gateway_reference(
    session: Session, gateway_id: str, reference: str | None, *, lock: bool = False
) -> Payment | None:
    """The payment a gateway knows by ``reference`` (locked when ``lock``); None if unknown."""
    if not reference:
        return None
    query = select(Payment).where(
        Payment.gateway_id == gateway_id, Payment.gateway_reference == reference
    )
    return session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
