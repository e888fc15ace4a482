"""Gapless document numbering, assigned inside the issuing transaction.

The counter row is locked (SELECT ... FOR UPDATE) until the issuing transaction ends,
so concurrent issuers queue instead of skipping or repeating numbers; a rolled-back
issue releases its number with everything else, leaving no gap.
"""

from __future__ import annotations

from praho.core.errors import NotFound
from praho.core.models.invoices import DocumentKind, DocumentSeries, SeriesCounter
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


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


def take_next_number(session: Session, series: DocumentSeries, year: int) -> int:
    """Lock the series counter, increment it and return the new number."""
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
    counter.last_number += 1
    session.flush()
    return counter.last_number


def take_number_block(session: Session, series: DocumentSeries, year: int, count: int) -> range:
    """Lock the series counter once and reserve ``count`` consecutive numbers.

    Same lock and same rollback behaviour as :func:`take_next_number`; a batch issuer
    (the billing run) calls it once per chunk, at the end of the chunk's transaction,
    so the lock is held only for the final writes and the commit.
    """
    if count < 1:
        raise ValueError("a number block needs at least one number")
    first = take_next_number(session, series, year)
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
