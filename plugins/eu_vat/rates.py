"""Dated VAT rates: the shipped data file, the rules table and the lookup by tax point.

The data file (``vat_rates.csv``, sources in its header) seeds the ``eu_vat_rules`` table
the first time a decision needs it; ``praho vat rates sync`` brings later editions of the
file in, and ``praho vat rates add`` records a change announced before the file knows it.
Lookups always use the document's tax point, never today's date.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError, PrahoError, TaxDecisionError, ValidationFailed
from praho.core.money import quantize_rate
from praho.plugins.eu_vat.models import VatRule
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

DATA_FILE = Path(__file__).resolve().parent / "vat_rates.csv"
EU_MEMBER_STATES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)
RATE_CLASSES = ("standard", "reduced", "reduced_2")
# A class a country does not have falls back to the next higher one: a country without
# a second reduced rate taxes those supplies at its reduced rate, one without any reduced
# rate (Denmark) at its standard rate.
CLASS_FALLBACK = {
    "standard": ("standard",),
    "reduced": ("reduced", "standard"),
    "reduced_2": ("reduced_2", "reduced", "standard"),
}
_COLUMNS = ["country", "tax_class", "rate", "valid_from", "valid_to", "reference"]


class VatRateDataError(PrahoError):
    """The rates data file (or a rule being added) is malformed or contradicts itself."""

    code = "vat_rate_data"


@dataclass(frozen=True)
class RateRow:
    """One row of the data file."""

    country: str
    tax_class: str
    rate: Decimal
    valid_from: date
    valid_to: date | None
    reference: str

    @property
    def key(self) -> tuple[str, str, date]:
        """The natural key: one row per country, class and start date."""
        return (self.country, self.tax_class, self.valid_from)


@dataclass
class SyncReport:
    """What ``sync_vat_rules`` did."""

    added: list[RateRow] = field(default_factory=list)
    closed: list[RateRow] = field(default_factory=list)
    unchanged: int = 0


def _parse_row(line_no: int, record: dict[str, str]) -> RateRow:
    where = f"{DATA_FILE.name} line {line_no}"
    errors = v.Collector()
    country = (record.get("country") or "").strip().upper()
    if country not in EU_MEMBER_STATES:
        errors.errors.append(
            FieldError(f"{where}.country", f"{country!r} is not an EU member state")
        )
    tax_class = (record.get("tax_class") or "").strip()
    if tax_class not in RATE_CLASSES:
        errors.errors.append(
            FieldError(f"{where}.tax_class", f"{tax_class!r} is not one of {RATE_CLASSES}")
        )
    rate = errors.check(v.rate_percent, f"{where}.rate", (record.get("rate") or "").strip())
    valid_from = errors.check(
        v.iso_date, f"{where}.valid_from", (record.get("valid_from") or "").strip()
    )
    to_text = (record.get("valid_to") or "").strip()
    valid_to = errors.check(v.iso_date, f"{where}.valid_to", to_text) if to_text else None
    reference = errors.check(v.text, f"{where}.reference", record.get("reference"), max_length=200)
    if valid_from and valid_to and valid_to < valid_from:
        errors.errors.append(FieldError(f"{where}.valid_to", "is before valid_from"))
    if errors.errors:
        raise VatRateDataError(ValidationFailed(errors.errors).message)
    return RateRow(country, tax_class, quantize_rate(rate), valid_from, valid_to, reference)


def read_rate_file(path: Path = DATA_FILE) -> list[RateRow]:
    """Parse and check the data file: every field, no overlapping periods, 27 countries."""
    text = path.read_text(encoding="utf-8")
    lines = [
        (n, line)
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines or [c.strip() for c in lines[0][1].split(",")] != _COLUMNS:
        raise VatRateDataError(
            f"{path.name}: the first non-comment line must be {','.join(_COLUMNS)}"
        )
    reader = csv.DictReader((line for _, line in lines), skipinitialspace=True)
    rows = [
        _parse_row(line_no, record) for (line_no, _), record in zip(lines[1:], reader, strict=True)
    ]
    check_periods(rows)
    missing = sorted(EU_MEMBER_STATES - {r.country for r in rows if r.tax_class == "standard"})
    if missing:
        raise VatRateDataError(f"{path.name}: no standard rate for {missing}")
    return rows


def check_periods(rows: Iterable[RateRow | VatRule]) -> None:
    """Refuse duplicate starts, overlaps, and open periods followed by a later one."""
    by_key: dict[tuple[str, str], list[RateRow | VatRule]] = defaultdict(list)
    for row in rows:
        by_key[(row.country, row.tax_class)].append(row)
    problems = []
    for (country, tax_class), periods in sorted(by_key.items()):
        periods.sort(key=lambda r: r.valid_from)
        for earlier, later in zip(periods, periods[1:], strict=False):
            if earlier.valid_to is None or earlier.valid_to >= later.valid_from:
                problems.append(
                    f"{country} {tax_class}: period from {earlier.valid_from} "
                    f"(to {earlier.valid_to or 'open'}) overlaps the one from {later.valid_from}"
                )
    if problems:
        raise VatRateDataError("; ".join(problems))


def ensure_vat_rules(session: Session, *, now: datetime | None = None) -> int:
    """Seed the rules table from the data file when it is empty; returns rows inserted.

    Runs inside the caller's transaction. ``ON CONFLICT DO NOTHING`` makes two first
    decisions racing each other harmless.
    """
    if session.execute(select(VatRule.id).limit(1)).first() is not None:
        return 0
    moment = resolve_now(now)
    values = [
        {
            "country": r.country,
            "tax_class": r.tax_class,
            "rate": r.rate,
            "valid_from": r.valid_from,
            "valid_to": r.valid_to,
            "reference": r.reference,
            "created_at": moment,
        }
        for r in read_rate_file()
    ]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(VatRule)
        .values(values)
        .on_conflict_do_nothing(index_elements=["country", "tax_class", "valid_from"])
    )
    session.execute(statement)
    session.flush()
    return len(values)


def sync_vat_rules(
    session: Session, rows: list[RateRow] | None = None, *, now: datetime | None = None
) -> SyncReport:
    """Bring rows of the data file into the table without rewriting history.

    New rows are added; an open row that the file now closes gets its ``valid_to``. A row
    whose rate differs from the stored one is a contradiction and nothing is written.
    """
    moment = resolve_now(now)
    rows = read_rate_file() if rows is None else rows
    existing = {(r.country, r.tax_class, r.valid_from): r for r in session.scalars(select(VatRule))}
    report = SyncReport()
    conflicts = []
    for row in rows:
        stored = existing.get(row.key)
        if stored is None:
            report.added.append(row)
        elif stored.rate != row.rate:
            conflicts.append(
                f"{row.country} {row.tax_class} from {row.valid_from}: stored rate "
                f"{stored.rate.normalize():f}%, file says {row.rate.normalize():f}%"
            )
        elif stored.valid_to != row.valid_to:
            if stored.valid_to is None:
                report.closed.append(row)
            else:
                conflicts.append(
                    f"{row.country} {row.tax_class} from {row.valid_from}: stored end "
                    f"{stored.valid_to}, file says {row.valid_to or 'open'}"
                )
        else:
            report.unchanged += 1
    if conflicts:
        raise VatRateDataError(
            "the data file contradicts the stored rules (nothing changed): " + "; ".join(conflicts)
        )
    closing = {row.key: row.valid_to for row in report.closed}
    merged: list[RateRow | VatRule] = [
        RateRow(
            r.country, r.tax_class, r.rate, r.valid_from, closing.get(key, r.valid_to), r.reference
        )
        for key, r in existing.items()
    ]
    check_periods(merged + list(report.added))
    for row in report.closed:
        existing[row.key].valid_to = row.valid_to
    for row in report.added:
        session.add(
            VatRule(
                country=row.country,
                tax_class=row.tax_class,
                rate=row.rate,
                valid_from=row.valid_from,
                valid_to=row.valid_to,
                reference=row.reference,
                created_at=moment,
            )
        )
    session.flush()
    return report


def add_vat_rule(
    session: Session,
    *,
    country: str,
    tax_class: str,
    rate: Decimal | str,
    valid_from: date | str,
    reference: str,
    now: datetime | None = None,
) -> VatRule:
    """Record a rate change: a new open row from ``valid_from``; the open row before it closes
    the day before. Changing the past (a start before an existing later row) is refused."""
    moment = resolve_now(now)
    ensure_vat_rules(session, now=moment)
    errors = v.Collector()
    code = str(country or "").strip().upper()
    if code not in EU_MEMBER_STATES:
        errors.errors.append(FieldError("country", f"{country!r} is not an EU member state"))
    if tax_class not in RATE_CLASSES:
        errors.errors.append(
            FieldError("tax_class", f"{tax_class!r} is not one of {', '.join(RATE_CLASSES)}")
        )
    parsed_rate = errors.check(v.rate_percent, "rate", rate)
    start = errors.check(v.iso_date, "valid_from", valid_from)
    note = errors.check(v.text, "reference", reference, max_length=200)
    errors.raise_if_any()
    assert start is not None and parsed_rate is not None and note is not None
    rules = list(
        session.scalars(
            select(VatRule).where(VatRule.country == code, VatRule.tax_class == tax_class)
        )
    )
    later = [r for r in rules if r.valid_from >= start]
    if later:
        raise VatRateDataError(
            f"{code} {tax_class} already has a rule from {later[0].valid_from}; a new rate must "
            f"start after the last one (history is not rewritten)"
        )
    for rule in rules:
        if rule.valid_to is None or rule.valid_to >= start:
            rule.valid_to = start - timedelta(days=1)
    rule = VatRule(
        country=code,
        tax_class=tax_class,
        rate=quantize_rate(parsed_rate),
        valid_from=start,
        valid_to=None,
        reference=note,
        created_at=moment,
    )
    session.add(rule)
    session.flush()
    return rule


def find_rule(session: Session, country: str, tax_class: str, on: date) -> VatRule | None:
    """The rule of ``country`` and ``tax_class`` in force on ``on``, if any."""
    return session.scalars(
        select(VatRule)
        .where(VatRule.country == country, VatRule.tax_class == tax_class, VatRule.valid_from <= on)
        .where((VatRule.valid_to.is_(None)) | (VatRule.valid_to >= on))
        .order_by(VatRule.valid_from.desc())
        .limit(1)
    ).first()


def rule_for(session: Session, country: str, tax_class: str, on: date) -> VatRule:
    """The rule for a class on a date, falling back to the next higher class when the
    country has no such rate; a clear error when even the standard rate is missing."""
    if tax_class not in CLASS_FALLBACK:
        raise TaxDecisionError(
            f"tax class {tax_class!r} has no rate; expected one of {', '.join(RATE_CLASSES)}"
        )
    ensure_vat_rules(session)
    for candidate in CLASS_FALLBACK[tax_class]:
        rule = find_rule(session, country, candidate, on)
        if rule is not None:
            return rule
    raise TaxDecisionError(
        f"no {country} VAT rate for tax point {on.isoformat()} (class {tax_class}); the rates "
        "table "
        f"covers tax points from 2024-01-01; add the rate with `praho vat rates add`"
    )


def rules_on(session: Session, on: date, country: str | None = None) -> list[VatRule]:
    """Every rule in force on a date (for ``praho vat rates show``)."""
    ensure_vat_rules(session)
    query = (
        select(VatRule)
        .where(VatRule.valid_from <= on)
        .where((VatRule.valid_to.is_(None)) | (VatRule.valid_to >= on))
    )
    if country:
        query = query.where(VatRule.country == country.upper())
    order = {name: index for index, name in enumerate(RATE_CLASSES)}
    return sorted(session.scalars(query), key=lambda r: (r.country, order.get(r.tax_class, 9)))
