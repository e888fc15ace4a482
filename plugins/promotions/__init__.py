"""Promotions plugin (``promotions``): campaigns, coupons, codes, redemptions, discounts.

Discounts are EN 16931 document allowances: on renewals through
``collect_renewal_allowances``, on one-off invoices through
:func:`praho.plugins.promotions.discounts.apply_coupon_to_invoice`. The core caps them
(never a negative document) and computes VAT after them. Uses are recorded when the
document is issued (``invoice_issued``). See docs/pricing.md.
"""

from __future__ import annotations

from typing import Any

from praho.core.hookspecs import hookimpl
from praho.plugins.promotions import models  # noqa: F401 - tables for Alembic and metadata
from praho.plugins.promotions.discounts import record_uses, renewal_allowances
from praho.plugins.promotions.marks import may_have_coupon


@hookimpl
def collect_renewal_allowances(session: Any, subscription: Any, invoice: Any) -> list[Any]:
    """The discounts of the subscription's active coupons for this renewal."""
    return renewal_allowances(session, subscription, invoice)


@hookimpl
def invoice_issued(session: Any, invoice: Any) -> None:
    """Record which redemptions the issued document used (cycles, months, budget)."""
    if may_have_coupon(session, invoice):
        record_uses(session, invoice)


@hookimpl
def register_cli_commands() -> list[Any]:
    """``praho promotions ...``."""
    from praho.plugins.promotions.cli import promotions_group

    return [promotions_group]


@hookimpl
def register_admin_views(admin: Any, session: Any) -> list[Any]:
    """Back-office lists (and actions) for this plugin's records."""
    from praho.plugins.promotions.admin_views import admin_views

    return admin_views(session)
