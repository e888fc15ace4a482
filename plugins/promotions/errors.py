"""Typed errors of the promotions plugin: each names the field and a reason to act on."""

from __future__ import annotations

from praho.core.errors import FieldError


class CouponRejected(FieldError):
    """A coupon cannot be redeemed or applied; nothing was written."""

    http_status = 422
    code = "coupon_rejected"


class CouponNotFound(CouponRejected):
    """No coupon has this code."""

    http_status = 404
    code = "coupon_not_found"


class CouponExpired(CouponRejected):
    """The coupon (or its campaign) is past its last valid day."""

    code = "coupon_expired"


class CouponNotYetValid(CouponRejected):
    """The coupon (or its campaign) starts later."""

    code = "coupon_not_yet_valid"


class CouponLimitReached(CouponRejected):
    """The coupon or code has no uses left, or this customer used it as often as allowed."""

    http_status = 409
    code = "coupon_limit_reached"


class CouponWrongCurrency(CouponRejected):
    """The coupon has no amount (or budget) in the currency being billed."""

    code = "coupon_wrong_currency"


class CouponNotApplicable(CouponRejected):
    """The customer, products or order do not meet the coupon's conditions."""

    code = "coupon_not_applicable"


class CampaignBudgetSpent(CouponRejected):
    """The campaign's budget is used up."""

    http_status = 409
    code = "campaign_budget_spent"
