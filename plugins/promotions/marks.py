"""Per-transaction memo of where coupons may apply, so documents without one cost no query.

The billing run asks every renewal for allowances and tells the plugin about every
issued document; almost none involve a coupon. :func:`discounted_subscriptions` loads
once per transaction the subscriptions with an active redemption (``redeem_coupon``
forgets it), and :func:`mark` notes which subscriptions got a coupon
allowance in this session, so ``invoice_issued`` records uses only for those.
"""

from __future__ import annotations

from praho.plugins.promotions.models import Redemption, RedemptionStatus
from sqlalchemy import select
from sqlalchemy.orm import Session

_ACTIVE = "praho.promotions.active"
_MARKS = "praho.promotions.marks"


def discounted_subscriptions(session: Session) -> frozenset[int]:
    """Subscriptions with an active redemption, as of this transaction."""
    transaction = session.get_transaction()
    marker = id(transaction) if transaction is not None else None
    cached = session.info.get(_ACTIVE)
    if cached is not None and cached[0] == marker:
        ids: frozenset[int] = cached[1]
        return ids
    ids = frozenset(
        session.execute(
            select(Redemption.subscription_id)
            .where(
                Redemption.status == RedemptionStatus.ACTIVE,
                Redemption.subscription_id.is_not(None),
            )
            .distinct()
        ).scalars()
    )
    session.info[_ACTIVE] = (marker, ids)
    return ids


def forget_redemptions(session: Session) -> None:
    """Drop the memo after a redemption was added."""
    session.info.pop(_ACTIVE, None)


def mark(session: Session, *, subscription_id: int) -> None:
    """Note that a renewal document of this subscription got a coupon allowance."""
    session.info.setdefault(_MARKS, set()).add(subscription_id)


def may_have_coupon(session: Session, invoice: object) -> bool:
    """True when the issued ``invoice`` may carry a coupon allowance: a renewal marked in
    this session, or a one-off document a coupon was redeemed for (one query)."""
    attributes = getattr(invoice, "attributes", None) or {}
    subscription_id = (attributes.get("subscription") or {}).get("id")
    if subscription_id is not None:
        return subscription_id in session.info.get(_MARKS, set())
    invoice_id = getattr(invoice, "id", None)
    found = session.execute(select(Redemption.id).where(Redemption.invoice_id == invoice_id))
    return found.first() is not None
