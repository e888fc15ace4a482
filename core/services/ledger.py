"""Posting to the double-entry ledger and reading balances from it.

Every business event posts exactly one balanced entry (sum zero per currency), keyed
by an idempotency key so a retried operation cannot post twice. Balances are always
sums over journal lines; nothing caches them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from praho.core.clock import business_date, resolve_now
from praho.core.errors import LedgerError
from praho.core.models.ledger import Account, AccountCode, AccountType, JournalEntry, JournalLine
from praho.core.money import currency_exponent
from sqlalchemy import func, select
from sqlalchemy.orm import Session

CHART_OF_ACCOUNTS: dict[AccountCode, tuple[str, AccountType]] = {
    AccountCode.RECEIVABLE: ("Clienți / Accounts receivable", AccountType.ASSET),
    AccountCode.CUSTOMER_CREDIT: ("Clienți - creditori / Customer credit", AccountType.LIABILITY),
    AccountCode.VAT_PAYABLE: ("TVA colectată / VAT payable", AccountType.LIABILITY),
    AccountCode.REVENUE: ("Venituri din servicii / Service revenue", AccountType.REVENUE),
    AccountCode.GATEWAY_CLEARING: ("Sume în curs de decontare / Gateway clearing", AccountType.ASSET),
    AccountCode.BANK: ("Conturi la bănci / Bank", AccountType.ASSET),
    AccountCode.REFUNDS_PAYABLE: ("Creditori diverși / Refunds payable", AccountType.LIABILITY),
    AccountCode.GATEWAY_FEES: ("Cheltuieli bancare / Gateway fees", AccountType.EXPENSE),
    AccountCode.DISCOUNTS: ("Reduceri comerciale / Discounts granted", AccountType.REVENUE),
    AccountCode.FX_DIFFERENCES: ("Diferențe de curs / FX differences", AccountType.REVENUE),
}


@dataclass(frozen=True)
class Posting:
    """One side of an entry: signed minor units, debit positive and credit negative."""

    account: str
    amount_minor: int
    currency: str
    customer_id: int | None = None
    invoice_id: int | None = None
    description: str | None = None


def debit(account: str, amount_minor: int, currency: str, **kw: int | str | None) -> Posting:
    """A debit posting of a positive amount."""
    return Posting(str(account), amount_minor, currency, **kw)  # type: ignore[arg-type]


def credit(account: str, amount_minor: int, currency: str, **kw: int | str | None) -> Posting:
    """A credit posting of a positive amount (stored negative)."""
    return Posting(str(account), -amount_minor, currency, **kw)  # type: ignore[arg-type]


def ensure_chart_of_accounts(session: Session) -> None:
    """Create the core accounts that are missing (fresh database, new release)."""
    existing = set(session.execute(select(Account.code)).scalars())
    for code, (name, account_type) in CHART_OF_ACCOUNTS.items():
        if str(code) not in existing:
            session.add(Account(code=str(code), name=name, type=account_type))
    session.flush()


def post_entry(
    session: Session,
    *,
    kind: str,
    memo: str,
    postings: Sequence[Posting],
    idempotency_key: str | None = None,
    source_type: str | None = None,
    source_id: int | None = None,
    entry_date: date | None = None,
    reversal_of: JournalEntry | None = None,
    now: datetime | None = None,
) -> JournalEntry:
    """Post one balanced journal entry; an existing entry with the same key is returned.

    Zero postings are dropped. Raises :class:`LedgerError` when the entry does not sum
    to zero in every currency or names an unknown account.
    """
    moment = resolve_now(now)
    if idempotency_key is not None:
        existing = find_entry(session, idempotency_key)
        if existing is not None:
            return existing
    postings = [p for p in postings if p.amount_minor != 0]
    if not postings:
        raise LedgerError(f"{kind}: an entry needs at least one non-zero posting")
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        currency_exponent(posting.currency)
        if not isinstance(posting.amount_minor, int):
            raise LedgerError(f"{kind}: amounts must be integer minor units")
        totals[posting.currency] += posting.amount_minor
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        raise LedgerError(f"{kind}: entry does not balance: {unbalanced}")
    known = set(session.execute(select(Account.code)).scalars())
    unknown = {p.account for p in postings} - known
    if unknown:
        raise LedgerError(f"{kind}: unknown accounts {sorted(unknown)}")

    entry = JournalEntry(
        entry_date=entry_date or business_date(moment),
        posted_at=moment,
        kind=kind,
        memo=memo[:300],
        source_type=source_type,
        source_id=source_id,
        idempotency_key=idempotency_key,
        reversal_of_id=reversal_of.id if reversal_of is not None else None,
    )
    entry.lines = [
        JournalLine(
            account_code=p.account,
            customer_id=p.customer_id,
            invoice_id=p.invoice_id,
            currency=p.currency,
            amount_minor=p.amount_minor,
            description=p.description,
        )
        for p in postings
    ]
    session.add(entry)
    session.flush()
    return entry


def find_entry(session: Session, idempotency_key: str) -> JournalEntry | None:
    """The entry posted under a key, if any."""
    return session.execute(
        select(JournalEntry).where(JournalEntry.idempotency_key == idempotency_key)
    ).scalar_one_or_none()


def reverse_entry(
    session: Session, entry: JournalEntry, *, memo: str, idempotency_key: str | None = None,
    now: datetime | None = None,
) -> JournalEntry:
    """Post the exact opposite of ``entry`` (the only way to undo a posting)."""
    return post_entry(
        session,
        kind=f"reversal:{entry.kind}"[:40],
        memo=memo,
        postings=[
            Posting(l.account_code, -l.amount_minor, l.currency, l.customer_id, l.invoice_id,
                    l.description)
            for l in entry.lines
        ],
        idempotency_key=idempotency_key or f"reversal:{entry.id}",
        source_type=entry.source_type,
        source_id=entry.source_id,
        reversal_of=entry,
        now=now,
    )


def account_balance(
    session: Session, account: str, currency: str, *, customer_id: int | None = None,
    invoice_id: int | None = None,
) -> int:
    """Signed sum (debit positive) of an account's lines, optionally for one customer/invoice."""
    query = select(func.coalesce(func.sum(JournalLine.amount_minor), 0)).where(
        JournalLine.account_code == str(account), JournalLine.currency == currency
    )
    if customer_id is not None:
        query = query.where(JournalLine.customer_id == customer_id)
    if invoice_id is not None:
        query = query.where(JournalLine.invoice_id == invoice_id)
    return int(session.execute(query).scalar_one())


def customer_receivable(session: Session, customer_id: int, currency: str) -> int:
    """What the customer owes us in ``currency`` (receivable debit balance)."""
    return account_balance(session, AccountCode.RECEIVABLE, currency, customer_id=customer_id)


def customer_credit_balance(session: Session, customer_id: int, currency: str) -> int:
    """Credit we hold for the customer (positive), from the customer-credit account."""
    return -account_balance(session, AccountCode.CUSTOMER_CREDIT, currency, customer_id=customer_id)


def customer_balance(session: Session, customer_id: int, currency: str) -> int:
    """Net position: receivable minus credit held. Positive means the customer owes us."""
    return customer_receivable(session, customer_id, currency) - customer_credit_balance(
        session, customer_id, currency
    )


def trial_balance(session: Session) -> dict[tuple[str, str], int]:
    """Balance per (account, currency); the values sum to zero per currency."""
    rows = session.execute(
        select(JournalLine.account_code, JournalLine.currency, func.sum(JournalLine.amount_minor))
        .group_by(JournalLine.account_code, JournalLine.currency)
    ).all()
    return {(account, currency): int(total) for account, currency, total in rows}


def unbalanced_currencies(balances: Iterable[tuple[tuple[str, str], int]]) -> dict[str, int]:
    """Currencies whose trial balance does not sum to zero (should always be empty)."""
    sums: dict[str, int] = defaultdict(int)
    for (_account, currency), amount in balances:
        sums[currency] += amount
    return {c: s for c, s in sums.items() if s != 0}
