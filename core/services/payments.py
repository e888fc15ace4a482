"""Payments in the core: the public entry point (see docs/payments.md).

The work is split over short modules; import from here:

* gateways: :func:`get_gateway` dispatches by id over ``register_payment_gateways``;
* methods on file: :func:`add_payment_method`, :func:`save_payment_method`,
  :func:`remove_payment_method`, :func:`default_method`, :func:`set_default_method`;
* collecting: :func:`charge_invoice`, :func:`apply_gateway_result`, :func:`find_attempt`,
  :func:`settle_unknown_attempts` (:func:`settle_attempt` one at a time);
* money received: :func:`record_bank_transfer`, :func:`allocate_payment`,
  :func:`apply_customer_credit`, :func:`refresh_payment_status`;
* caller idempotency keys: :func:`claim_key` (Stripe semantics, kept 24 h).
"""

from praho.core.services.idempotency import KEY_LIFETIME, claim_key, purge_expired_keys
from praho.core.services.payment_allocation import (
    allocate_payment,
    apply_customer_credit,
    open_invoices,
    record_bank_transfer,
    refresh_payment_status,
)
from praho.core.services.payment_attempts import (
    UNKNOWN_GIVE_UP,
    SettleReport,
    apply_gateway_result,
    attempts_to_settle,
    charge_invoice,
    find_attempt,
    settle_attempt,
    settle_unknown_attempts,
)
from praho.core.services.payment_gateways import (
    CREDIT_GATEWAY_ID,
    available_gateways,
    clearing_account,
    get_gateway,
)
from praho.core.services.payment_methods import (
    add_payment_method,
    default_method,
    remove_payment_method,
    save_payment_method,
    set_default_method,
)

__all__ = [
    "CREDIT_GATEWAY_ID",
    "KEY_LIFETIME",
    "UNKNOWN_GIVE_UP",
    "SettleReport",
    "add_payment_method",
    "allocate_payment",
    "apply_customer_credit",
    "apply_gateway_result",
    "attempts_to_settle",
    "available_gateways",
    "charge_invoice",
    "claim_key",
    "clearing_account",
    "default_method",
    "find_attempt",
    "get_gateway",
    "open_invoices",
    "purge_expired_keys",
    "record_bank_transfer",
    "refresh_payment_status",
    "remove_payment_method",
    "save_payment_method",
    "set_default_method",
    "settle_attempt",
    "settle_unknown_attempts",
]
