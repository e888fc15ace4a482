"""Dunning policies: create and validate them, assign them, and find the one that applies.

The policy for an invoice is the customer's own (an assignment naming the customer),
else the plan's (an assignment naming the product of the subscription's plan item),
else the default policy. A default policy (1, 3, 7, 14, 30 days; suspend after 14 days
overdue, terminate after 60, e-mails on) is created the first time one is needed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from jinja2 import TemplateNotFound
from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError, NotFound, ValidationFailed
from praho.core.models.catalog import Price
from praho.core.models.collections import (
    DEFAULT_RETRY_INTERVALS,
    DunningPolicy,
    DunningPolicyAssignment,
)
from praho.core.models.invoices import Invoice
from praho.core.models.subscriptions import ItemRole, Subscription
from praho.core.services.audit import Actor, record_audit
from sqlalchemy import select, update
from sqlalchemy.orm import Session

DEFAULT_POLICY_CODE = "default"
MAX_DAYS = 3650
# The e-mails a template set must provide (email/<set>_<step>.<language>.txt).
EMAIL_STEPS = ("payment_failed", "reminder", "action_required", "suspended", "terminated")


def _check_template_set(name: str) -> None:
    env = current_app.jinja_env
    for step in EMAIL_STEPS:
        for language in ("ro", "en"):
            try:
                env.get_template(f"email/{name}_{step}.{language}.txt")
            except TemplateNotFound:
                raise FieldError(
                    "template_set", f"template email/{name}_{step}.{language}.txt does not exist"
                ) from None


def validate_policy(values: dict[str, Any]) -> dict[str, Any]:
    """Check a policy's fields; returns the cleaned values or raises ValidationFailed."""
    errors = v.Collector()
    cleaned: dict[str, Any] = {}
    with errors.guard():
        cleaned["code"] = v.code("code", values.get("code"), max_length=40)
    with errors.guard():
        cleaned["name"] = v.text("name", values.get("name"), max_length=100)
    intervals = values.get("retry_intervals_days", list(DEFAULT_RETRY_INTERVALS))
    with errors.guard():
        if not isinstance(intervals, list | tuple) or len(intervals) > 20:
            raise FieldError("retry_intervals_days", "must be a list of at most 20 day counts")
        days = [v.integer(f"retry_intervals_days[{i}]", d, minimum=0, maximum=MAX_DAYS)
                for i, d in enumerate(intervals)]
        if days != sorted(set(days)):
            raise FieldError("retry_intervals_days", "must be strictly increasing")
        cleaned["retry_intervals_days"] = days
    with errors.guard():
        cleaned["max_attempts"] = v.integer(
            "max_attempts", values.get("max_attempts", len(intervals) if isinstance(
                intervals, list | tuple) else 0), minimum=0, maximum=20)
        if "retry_intervals_days" in cleaned and cleaned["max_attempts"] > len(cleaned[
                "retry_intervals_days"]):
            raise FieldError("max_attempts", "exceeds the number of retry intervals")
    for name, default in (("suspend_after_days", 14), ("terminate_after_days", 60)):
        value = values.get(name, default)
        with errors.guard():
            cleaned[name] = None if value is None else v.integer(name, value, minimum=0,
                                                                 maximum=MAX_DAYS)
    if (cleaned.get("suspend_after_days") is not None
            and cleaned.get("terminate_after_days") is not None
            and cleaned["terminate_after_days"] < cleaned["suspend_after_days"]):
        errors.errors.append(FieldError("terminate_after_days",
                                        "must not come before suspend_after_days"))
    with errors.guard():
        cleaned["send_emails"] = v.boolean("send_emails", values.get("send_emails", True))
    with errors.guard():
        cleaned["template_set"] = v.code("template_set", values.get("template_set", "dunning"),
                                         max_length=40)
        _check_template_set(cleaned["template_set"])
    unknown = set(values) - {"code", "name", "retry_intervals_days", "max_attempts",
                             "suspend_after_days", "terminate_after_days", "send_emails",
                             "template_set", "is_default"}
    for name in sorted(unknown):
        errors.errors.append(FieldError(name, "is not a policy setting"))
    with errors.guard():
        cleaned["is_default"] = v.boolean("is_default", values.get("is_default", False))
    errors.raise_if_any()
    return cleaned


def create_policy(
    session: Session, values: dict[str, Any], *, actor: Actor | None = None,
    now: datetime | None = None,
) -> DunningPolicy:
    """Create a policy from its settings; ``is_default`` makes it the default one."""
    moment = resolve_now(now)
    cleaned = validate_policy(values)
    taken = select(DunningPolicy.id).where(DunningPolicy.code == cleaned["code"])
    if session.execute(taken).first():
        raise ValidationFailed([FieldError("code", f"a policy {cleaned['code']!r} exists")])
    if cleaned["is_default"]:
        session.execute(update(DunningPolicy).values(is_default=False, updated_at=moment))
    policy = DunningPolicy(**cleaned, created_at=moment)
    session.add(policy)
    session.flush()
    record_audit(session, actor=actor, action="dunning_policy.created",
                 object_type="dunning_policy", object_id=policy.code, now=moment,
                 data={k: cleaned[k] for k in sorted(cleaned)})
    return policy


def ensure_default_policy(session: Session) -> DunningPolicy:
    """The default policy, created with the standard settings if there is none."""
    policy = session.execute(
        select(DunningPolicy).where(DunningPolicy.is_default.is_(True), DunningPolicy.active)
    ).scalars().first()
    if policy is not None:
        return policy
    policy = session.execute(
        select(DunningPolicy).where(DunningPolicy.code == DEFAULT_POLICY_CODE)
    ).scalar_one_or_none()
    if policy is None:
        policy = DunningPolicy(code=DEFAULT_POLICY_CODE, name="Standard",
                               retry_intervals_days=list(DEFAULT_RETRY_INTERVALS),
                               max_attempts=len(DEFAULT_RETRY_INTERVALS), suspend_after_days=14,
                               terminate_after_days=60, send_emails=True, template_set="dunning")
        session.add(policy)
    policy.is_default = True
    policy.active = True
    session.flush()
    return policy


def get_policy(session: Session, code: str) -> DunningPolicy:
    """A policy by code."""
    policy = session.execute(
        select(DunningPolicy).where(DunningPolicy.code == code)
    ).scalar_one_or_none()
    if policy is None:
        raise NotFound(f"no dunning policy {code!r}")
    return policy


def assign_policy(
    session: Session, policy: DunningPolicy, *, customer_id: int | None = None,
    product_id: int | None = None, actor: Actor | None = None, now: datetime | None = None,
) -> DunningPolicyAssignment:
    """Give one customer or one plan (product) its own policy, replacing an earlier one."""
    moment = resolve_now(now)
    if (customer_id is None) == (product_id is None):
        raise ValidationFailed(
            [FieldError("customer_id", "name exactly one of a customer or a product")])
    column = (DunningPolicyAssignment.customer_id if customer_id is not None
              else DunningPolicyAssignment.product_id)
    target = customer_id if customer_id is not None else product_id
    assignment = session.execute(
        select(DunningPolicyAssignment).where(column == target)
    ).scalar_one_or_none()
    if assignment is None:
        assignment = DunningPolicyAssignment(customer_id=customer_id, product_id=product_id,
                                             policy_id=policy.id, created_at=moment)
        session.add(assignment)
    assignment.policy_id = policy.id
    session.flush()
    record_audit(session, actor=actor, action="dunning_policy.assigned",
                 object_type="dunning_policy", object_id=policy.code, now=moment,
                 data={"customer_id": customer_id, "product_id": product_id})
    return assignment


def _plan_product_id(session: Session, subscription_id: int | None) -> int | None:
    if subscription_id is None:
        return None
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        return None
    for item in subscription.items:
        if item.role == ItemRole.PLAN and item.removed_at is None:
            price = session.get(Price, item.price_id)
            return price.product_id if price else None
    return None


def policy_for(session: Session, invoice: Invoice) -> DunningPolicy:
    """The policy that applies to an invoice: customer's, else plan's, else the default."""
    assignment = session.execute(
        select(DunningPolicyAssignment).where(
            DunningPolicyAssignment.customer_id == invoice.customer_id)
    ).scalar_one_or_none()
    product_id = _plan_product_id(session, invoice.subscription_id)
    if assignment is None and product_id is not None:
        assignment = session.execute(
            select(DunningPolicyAssignment).where(DunningPolicyAssignment.product_id == product_id)
        ).scalar_one_or_none()
    if assignment is not None:
        policy = session.get(DunningPolicy, assignment.policy_id)
        if policy is not None and policy.active:
            return policy
    return ensure_default_policy(session)
