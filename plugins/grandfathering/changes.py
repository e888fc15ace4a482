"""Price changes: the migration plan made when a price version is added, and its daily batch.

:func:`record_price_change` answers the ``price_changed`` hook: it stores the change and
plans every subscription on the price (when it moves, or which lock protects it).
:func:`plan_batch` lists what the daily batch would do; :func:`run_batch` does it:
plan subscriptions that appeared since, send notices that are due, mark protected,
migrated and skipped subscriptions, announce and record lock expiries. Every step is
idempotent (unique plan rows, notice keys), so running the batch twice does nothing new.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from praho.core.clock import business_date
from praho.core.models.catalog import Price, PriceVersion
from praho.core.models.subscriptions import FINAL_STATUSES, Subscription, SubscriptionItem
from praho.core.services.audit import Actor, record_audit
from praho.core.services.billing_cycles import add_months
from praho.core.services.catalog import price_version_on
from praho.plugins.grandfathering.locks import best_lock, locks_for
from praho.plugins.grandfathering.models import (
    MigrationStatus,
    NoticeKind,
    PriceChange,
    PriceLock,
    PriceMigration,
    PriceNotice,
)
from praho.plugins.grandfathering.notices import send_notice
from praho.plugins.grandfathering.price_history import on_price_since
from praho.plugins.grandfathering.scope import forget_scope
from praho.plugins.grandfathering.settings import GrandfatheringSettings
from sqlalchemy import select
from sqlalchemy.orm import Session

M = MigrationStatus
# Subscriptions that start shortly before a change's date still need a plan row.
REFRESH_DAYS = 7


def first_renewal_on_or_after(subscription: Subscription, day: date) -> date | None:
    """The first period start on or after ``day`` (None when nothing more is billed)."""
    renewal = subscription.next_billing_date
    if renewal is None:
        return None
    while renewal < day:
        renewal = add_months(renewal, subscription.billing_cycle_months, subscription.anchor_day)
    return renewal


def record_price_change(
    session: Session,
    price: Price,
    version: PriceVersion,
    *,
    now: datetime,
    settings: GrandfatheringSettings,
) -> PriceChange | None:
    """Store a new version as a price change and plan every subscription on the price."""
    previous = session.execute(
        select(PriceVersion)
        .where(
            PriceVersion.price_id == price.id, PriceVersion.effective_from < version.effective_from
        )
        .order_by(PriceVersion.effective_from.desc())
        .limit(1)
    ).scalar_one_or_none()
    if previous is None:
        return None
    change = PriceChange(
        price_id=price.id,
        version_id=version.id,
        previous_version_id=previous.id,
        old_amount_minor=previous.unit_amount_minor,
        new_amount_minor=version.unit_amount_minor,
        currency=price.currency,
        effective_from=version.effective_from,
        notice_days=settings.notice_days,
        announced_at=now,
        created_at=now,
    )
    session.add(change)
    session.flush()
    forget_scope(session)
    rows = [new_plan_row(session, change, sub, now=now) for sub in unplanned(session, change)]
    session.add_all(rows)
    session.flush()
    record_audit(
        session,
        actor=None,
        action="price_change.planned",
        object_type="price",
        object_id=price.code,
        amount_minor=change.new_amount_minor,
        currency=price.currency,
        now=now,
        data={
            "old_amount_minor": change.old_amount_minor,
            "change_id": change.id,
            "effective_from": change.effective_from.isoformat(),
            "subscriptions": len(rows),
        },
    )
    return change


def unplanned(session: Session, change: PriceChange) -> list[Subscription]:
    """Subscriptions on the changed price with no plan row yet."""
    planned = select(PriceMigration.subscription_id).where(
        PriceMigration.price_change_id == change.id
    )
    return list(
        session.execute(
            select(Subscription)
            .join(SubscriptionItem, SubscriptionItem.subscription_id == Subscription.id)
            .where(
                SubscriptionItem.price_id == change.price_id,
                SubscriptionItem.removed_at.is_(None),
                Subscription.status.not_in([str(s) for s in FINAL_STATUSES]),
                Subscription.currency == change.currency,
                Subscription.id.not_in(planned),
            )
            .order_by(Subscription.id)
            .distinct()
        ).scalars()
    )


def new_plan_row(
    session: Session, change: PriceChange, subscription: Subscription, *, now: datetime
) -> PriceMigration:
    """When ``subscription`` moves to the new price, or why it does not (not added)."""
    today = business_date(now)
    row = PriceMigration(
        price_change_id=change.id, subscription_id=subscription.id, status=M.PLANNED, created_at=now
    )
    # Like the price guard: an item that went onto the price once the rise took effect
    # pays the new price and gets no notice (the earliest item, when there are several).
    since = min(
        (
            on_price_since(session, subscription, item, today)
            for item in subscription.active_items
            if item.price_id == change.price_id
        ),
        default=subscription.start_date,
    )
    if since >= change.effective_from:
        row.status, row.note = M.SKIPPED, "subscribed at the new price"
        return row
    earliest = change.effective_from
    if change.is_increase:
        earliest = max(earliest, today + timedelta(days=change.notice_days))
    row.move_on = first_renewal_on_or_after(subscription, earliest)
    if row.move_on is None:
        row.status, row.note = M.SKIPPED, "nothing more is billed"
        return row
    if change.is_increase:
        row.notice_due_on = row.move_on - timedelta(days=change.notice_days)
        lock = best_lock(locks_for(session, subscription, change.price_id), row.move_on)
        if lock is not None:
            row.status, row.lock_id = M.PROTECTED, lock.id
    return row


@dataclass
class BatchAction:
    """One thing the batch does (or would do, in a dry run)."""

    kind: str
    subscription_id: int | None
    price_id: int
    detail: str
    apply: Callable[[], None] = field(repr=False, compare=False)

    def as_dict(self) -> dict[str, object]:
        """For reports and the CLI."""
        return {
            "kind": self.kind,
            "subscription_id": self.subscription_id,
            "price_id": self.price_id,
            "detail": self.detail,
        }


def plan_batch(
    session: Session, *, now: datetime, settings: GrandfatheringSettings, actor: Actor | None = None
) -> list[BatchAction]:
    """What the batch would do today; reads only (each action's ``apply`` does the writing)."""
    today = business_date(now)
    actions: list[BatchAction] = []
    for change in session.execute(
        select(PriceChange).where(
            PriceChange.effective_from >= today - timedelta(days=REFRESH_DAYS)
        )
    ).scalars():
        for subscription in unplanned(session, change):
            actions.append(_plan_action(session, change, subscription, now))
    rows = session.execute(
        select(PriceMigration, PriceChange, Subscription)
        .join(PriceChange, PriceChange.id == PriceMigration.price_change_id)
        .join(Subscription, Subscription.id == PriceMigration.subscription_id)
        .where(PriceMigration.status.in_([M.PLANNED, M.NOTIFIED, M.PROTECTED]))
        .order_by(PriceMigration.id)
    ).all()
    for row, change, subscription in rows:
        action = _row_action(session, row, change, subscription, now=now, actor=actor)
        if action is not None:
            actions.append(action)
    actions += _lock_actions(session, now=now, settings=settings, actor=actor)
    return actions


def run_batch(
    session: Session, *, now: datetime, settings: GrandfatheringSettings, actor: Actor | None = None
) -> list[BatchAction]:
    """Do what :func:`plan_batch` lists; returns the actions done."""
    actions = plan_batch(session, now=now, settings=settings, actor=actor)
    for action in actions:
        action.apply()
    session.flush()
    return actions


def _plan_action(
    session: Session, change: PriceChange, subscription: Subscription, now: datetime
) -> BatchAction:
    row = new_plan_row(session, change, subscription, now=now)
    return BatchAction(
        "plan",
        subscription.id,
        change.price_id,
        f"{row.status}: moves on {row.move_on}" if row.move_on else str(row.note),
        lambda: session.add(row),
    )


def _row_action(
    session: Session,
    row: PriceMigration,
    change: PriceChange,
    subscription: Subscription,
    *,
    now: datetime,
    actor: Actor | None,
) -> BatchAction | None:
    today = business_date(now)

    def set_status(
        status: MigrationStatus, note: str | None = None, **values: object
    ) -> Callable[[], None]:
        def apply() -> None:
            row.status, row.updated_at = status, now
            row.note = note[:200] if note else row.note
            for name, value in values.items():
                setattr(row, name, value)

        return apply

    if subscription.is_final or subscription.next_billing_date is None:
        return BatchAction(
            "skip",
            subscription.id,
            change.price_id,
            "subscription ended",
            set_status(M.SKIPPED, "subscription ended"),
        )
    if row.status == M.PROTECTED:
        return _unprotect_action(session, row, change, subscription, today, set_status)
    # A rise moves only once noticed: a planned row past its date still gets its notice.
    noticed = row.status == M.NOTIFIED or not change.is_increase
    if noticed and row.move_on is not None and subscription.current_period_start >= row.move_on:
        item = next((i for i in subscription.items if i.price_id == change.price_id), None)
        billed = item.billed_unit_amount_minor if item else None
        return BatchAction(
            "migrate",
            subscription.id,
            change.price_id,
            f"renewed on {subscription.current_period_start}, billed {billed}",
            set_status(M.MIGRATED, f"billed {billed}", migrated_at=now),
        )
    if (
        row.status != M.PLANNED
        or not change.is_increase
        or row.notice_due_on is None
        or row.notice_due_on > today
    ):
        return None
    applies_from = max(change.effective_from, today + timedelta(days=change.notice_days))
    move_on = first_renewal_on_or_after(subscription, applies_from)
    lock = best_lock(locks_for(session, subscription, change.price_id), move_on or applies_from)
    if lock is not None:
        return BatchAction(
            "protect",
            subscription.id,
            change.price_id,
            f"price lock {lock.id}",
            set_status(M.PROTECTED, f"price lock {lock.id}", lock_id=lock.id),
        )
    price = session.get(Price, change.price_id)
    assert price is not None

    def notify() -> None:
        notice = send_notice(
            session,
            kind=NoticeKind.PRICE_CHANGE,
            subscription=subscription,
            price=price,
            version_id=change.version_id,
            old_amount_minor=change.old_amount_minor,
            new_amount_minor=change.new_amount_minor,
            applies_from=applies_from,
            key=f"change:{change.id}:{subscription.id}",
            now=now,
            actor=actor,
        )
        set_status(M.NOTIFIED, None, notice_id=notice.id, move_on=move_on)()

    return BatchAction(
        "notify",
        subscription.id,
        change.price_id,
        f"{change.old_amount_minor} -> {change.new_amount_minor} {change.currency} "
        f"from {applies_from}, moves on {move_on}",
        notify,
    )


def _unprotect_action(
    session: Session,
    row: PriceMigration,
    change: PriceChange,
    subscription: Subscription,
    today: date,
    set_status: Callable[..., Callable[[], None]],
) -> BatchAction | None:
    lock = session.get(PriceLock, row.lock_id) if row.lock_id else None
    if lock is not None and lock.covers(today):
        return None
    notice = (
        session.execute(
            select(PriceNotice)
            .where(
                PriceNotice.subscription_id == subscription.id, PriceNotice.lock_id == row.lock_id
            )
            .order_by(PriceNotice.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if row.lock_id
        else None
    )
    if notice is not None:
        move_on = first_renewal_on_or_after(subscription, notice.applies_from)
        return BatchAction(
            "unprotect",
            subscription.id,
            change.price_id,
            f"lock ended; expiry notice given, moves on {move_on}",
            set_status(M.NOTIFIED, "lock ended", notice_id=notice.id, move_on=move_on),
        )
    return BatchAction(
        "unprotect",
        subscription.id,
        change.price_id,
        "lock ended without an expiry notice; price change notice due",
        set_status(M.PLANNED, "lock ended", notice_due_on=today),
    )


def _lock_actions(
    session: Session, *, now: datetime, settings: GrandfatheringSettings, actor: Actor | None
) -> list[BatchAction]:
    today = business_date(now)
    actions: list[BatchAction] = []
    horizon = today + timedelta(days=settings.lock_expiry_notice_days)
    expiring = (
        session.execute(
            select(PriceLock)
            .where(
                PriceLock.revoked_at.is_(None),
                PriceLock.expires_on.is_not(None),
                PriceLock.expires_on <= horizon,
                PriceLock.expiry_notice_sent_at.is_(None),
            )
            .order_by(PriceLock.id)
        )
        .scalars()
        .all()
    )
    for lock in expiring:
        actions.append(
            _expiry_notice_action(session, lock, now=now, settings=settings, actor=actor)
        )
    expired = (
        session.execute(
            select(PriceLock)
            .where(
                PriceLock.revoked_at.is_(None),
                PriceLock.expires_on <= today,
                PriceLock.expiry_recorded_at.is_(None),
            )
            .order_by(PriceLock.id)
        )
        .scalars()
        .all()
    )
    for lock in expired:
        actions.append(
            BatchAction(
                "lock_expired",
                lock.subscription_id,
                lock.price_id,
                f"lock {lock.id} expired on {lock.expires_on}",
                _record_expiry(session, lock, now, actor),
            )
        )
    return actions


def _record_expiry(
    session: Session, lock: PriceLock, now: datetime, actor: Actor | None
) -> Callable[[], None]:
    def apply() -> None:
        lock.expiry_recorded_at = now
        record_audit(
            session,
            actor=actor,
            action="price_lock.expired",
            object_type="price_lock",
            object_id=lock.id,
            amount_minor=lock.unit_amount_minor,
            currency=lock.currency,
            now=now,
            data={
                "customer_id": lock.customer_id,
                "price_id": lock.price_id,
                "expires_on": lock.expires_on.isoformat() if lock.expires_on else None,
            },
        )

    return apply


def _expiry_notice_action(
    session: Session,
    lock: PriceLock,
    *,
    now: datetime,
    settings: GrandfatheringSettings,
    actor: Actor | None,
) -> BatchAction:
    """Announce a lock's end to each subscription it covers, when the price is higher after it."""
    today = business_date(now)
    assert lock.expires_on is not None
    price = session.get(Price, lock.price_id)
    assert price is not None
    applies_from = max(lock.expires_on, today + timedelta(days=settings.lock_expiry_notice_days))
    version = price_version_on(session, price, applies_from)
    subscriptions: list[Subscription | None] | Sequence[Subscription]
    if lock.subscription_id is not None:
        subscriptions = [session.get(Subscription, lock.subscription_id)]
    else:
        subscriptions = (
            session.execute(
                select(Subscription)
                .join(SubscriptionItem, SubscriptionItem.subscription_id == Subscription.id)
                .where(
                    Subscription.customer_id == lock.customer_id,
                    SubscriptionItem.price_id == price.id,
                    SubscriptionItem.removed_at.is_(None),
                )
                .distinct()
            )
            .scalars()
            .all()
        )
    targets = [s for s in subscriptions if s is not None and not s.is_final]
    rises = version.unit_amount_minor > lock.unit_amount_minor

    def apply() -> None:
        for subscription in targets if rises else []:
            send_notice(
                session,
                kind=NoticeKind.LOCK_EXPIRY,
                subscription=subscription,
                price=price,
                version_id=version.id,
                old_amount_minor=lock.unit_amount_minor,
                new_amount_minor=version.unit_amount_minor,
                applies_from=applies_from,
                key=f"expiry:{lock.id}:{subscription.id}",
                now=now,
                lock_id=lock.id,
                actor=actor,
            )
        lock.expiry_notice_sent_at = now

    detail = (
        f"lock {lock.id} ends {lock.expires_on}: {lock.unit_amount_minor} -> "
        f"{version.unit_amount_minor} {price.currency} from {applies_from}"
        if rises
        else f"lock {lock.id} ends {lock.expires_on}; price not higher, nothing to announce"
    )
    return BatchAction("lock_expiry_notice", lock.subscription_id, lock.price_id, detail, apply)
