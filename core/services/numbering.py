"""Gapless document numbering, assigned inside the issuing transaction.

The counter row is locked (SELECT ... FOR UPDATE) until the issuing transaction ends,
so concurrent issuers queue instead of skipping or repeating numbers; a rolled-back
issue releases its number with everything else, leaving no gap.

Numbers also run with dates: a document may not be dated before the one that took the
previous number of its series (Cod fiscal art. 319(20), numbering "in ordine
cronologica"). Under the same lock the issuer's date is compared with that document's;
an earlier date is refused with :class:`OutOfOrderIssueDate` and nothing is numbered.
"""

from __future__ import annotations

from datetime import date

from praho.core.errors import InvalidTransition, NotFound
from praho.core.models.invoices import DocumentKind, DocumentSeries, Invoice, SeriesCounter
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


class OutOfOrderIssueDate(InvalidTransition):
    """A document would be dated before the previous number of its series."""

    code = "out_of_order_issue_date"


def default_series(session: Session, kind: DocumentKind) -> DocumentSeries:
    """The active default series for a document kind."""
    series = session.execute(
        select(DocumentSeries).where(
            DocumentSeries.kind == kind, DocumentSeries.is_default.is_(True),
            DocumentSeries.active.is_(True),
        )
    ).scalar_one_or_none()
    if series is None:
        raise NotFound(f"no active default numbering series for {kind} documents; create one")
    return series


def ensure_default_series(session: Session) -> None:
    """Create the INV, PRO and CN series when a database has none (fresh install)."""
    defaults = [
        ("INV", DocumentKind.INVOICE, "PRH"),
        ("PRO", DocumentKind.PROFORMA, "PRO"),
        ("CN", DocumentKind.CREDIT_NOTE, "PRHC"),
    ]
    for code, kind, prefix in defaults:
        exists = session.execute(
            select(DocumentSeries.id).where(DocumentSeries.kind == kind)
        ).first()
        if exists is None:
            session.add(DocumentSeries(code=code, kind=kind, prefix=prefix, reset_yearly=True,
                                       padding=6, is_default=True))
    session.flush()


def take_next_number(
    session: Session, series: DocumentSeries, year: int, *, issue_date: date | None = None
) -> int:
    """Lock the series counter, increment it and return the new number.

    With ``issue_date`` the number is refused (:class:`OutOfOrderIssueDate`) when the
    document that took the previous number is dated later.
    """
    counter_year = year if series.reset_yearly else 0
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(SeriesCounter)
        .values(series_id=series.id, year=counter_year, last_number=0)
        .on_conflict_do_nothing(index_elements=["series_id", "year"])
    )
    counter = session.execute(
        select(SeriesCounter)
        .where(SeriesCounter.series_id == series.id, SeriesCounter.year == counter_year)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    if issue_date is not None:
        _check_chronology(session, series, year, counter.last_number, issue_date)
    counter.last_number += 1
    session.flush()
    return counter.last_number


def take_number_block(
    session: Session,
    series: DocumentSeries,
    year: int,
    count: int,
    *,
    issue_date: date | None = None,
) -> range:
    """Lock the series counter once and reserve ``count`` consecutive numbers.

    Same lock and same rollback behaviour as :func:`take_next_number`; a batch issuer
    (the billing run) calls it once per chunk, at the end of the chunk's transaction,
    so the lock is held only for the final writes and the commit.
    """
    if count < 1:
        raise ValueError("a number block needs at least one number")
    first = take_next_number(session, series, year, issue_date=issue_date)
    if count == 1:
        return range(first, first + 1)
    counter_year = year if series.reset_yearly else 0
    counter = session.execute(
        select(SeriesCounter).where(SeriesCounter.series_id == series.id,
                                    SeriesCounter.year == counter_year)
    ).scalar_one()
    counter.last_number += count - 1
    session.flush()
    return range(first, first + count)


def format_number(series: DocumentSeries, year: int, number: int) -> str:
    """The printed number: ``PRH2026-000042`` (yearly reset) or ``PRH000042``."""
    digits = f"{number:0{series.padding}d}"
    if series.reset_yearly:
        return f"{series.prefix}{year}-{digits}"
    return f"{series.prefix}{digits}"


def _check_chronology(
    session: Session, series: DocumentSeries, year: int, last_number: int, issue_date: date
) -> None:
    """Refuse ``issue_date`` when the series' previous number is dated later (locked)."""
    if last_number == 0:
        return
    query = select(Invoice.issue_date, Invoice.full_number).where(
        Invoice.series_id == series.id, Invoice.number == last_number
    )
    if series.reset_yearly:
        query = query.where(Invoice.fiscal_year == year)
    previous = session.execute(query.limit(1)).first()
    if previous is None or previous.issue_date is None or previous.issue_date <= issue_date:
        return
    raise OutOfOrderIssueDate(
        f"a document of series {series.code} cannot be dated {issue_date.isoformat()}: "
        f"the previous number, {previous.full_number}, is dated "
        f"{previous.issue_date.isoformat()}, and numbers must follow the dates"
    )
