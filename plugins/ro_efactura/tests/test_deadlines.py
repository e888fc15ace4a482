"""Romanian public holidays and the 5-day / 5-working-day e-Factura deadline."""

from __future__ import annotations

from datetime import date

import pytest
from praho.plugins.ro_efactura.deadlines import (
    is_working_day,
    orthodox_easter,
    public_holidays,
    submission_deadline,
    working_days_left,
)
from praho.plugins.ro_efactura.settings import EfacturaSettings
from praho.plugins.ro_efactura.submissions import deadline_alerts


@pytest.mark.parametrize(
    "year,easter",
    [
        (2023, date(2023, 4, 16)),
        (2024, date(2024, 5, 5)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 12)),
        (2027, date(2027, 5, 2)),
    ],
)
def test_orthodox_easter(year, easter):
    assert orthodox_easter(year) == easter


def test_holidays_of_2026_include_movable_and_new_fixed_days():
    holidays = public_holidays(2026)
    for day in (
        date(2026, 1, 6),
        date(2026, 1, 7),
        date(2026, 4, 10),
        date(2026, 4, 13),
        date(2026, 5, 31),
        date(2026, 6, 1),
        date(2026, 8, 15),
        date(2026, 12, 1),
    ):
        assert day in holidays
    assert len(holidays) == 16  # Rusalii Monday falls on 1 June (Ziua Copilului) in 2026
    assert date(2023, 1, 6) not in public_holidays(2023)  # Boboteaza is a holiday since 2024


@pytest.mark.parametrize(
    "issued,deadline",
    [
        (date(2026, 3, 2), date(2026, 3, 9)),  # Monday -> next Monday
        (date(2026, 4, 8), date(2026, 4, 17)),  # Good Friday and Easter Monday skipped
        (date(2026, 1, 5), date(2026, 1, 14)),  # 6 and 7 January skipped
        (
            date(2025, 6, 3),
            date(2025, 6, 10),
        ),  # 2025: 5 calendar days, Sunday+Rusalii Monday -> Tuesday
        (date(2025, 12, 29), date(2026, 1, 5)),  # issued in 2025: calendar days, ends on Saturday
        (date(2025, 3, 3), date(2025, 3, 10)),  # 8 March is a Saturday -> Monday
    ],
)
def test_submission_deadline(issued, deadline):
    assert submission_deadline(issued) == deadline


def test_working_days_left_counts_only_working_days():
    assert working_days_left(date(2026, 4, 9), date(2026, 4, 17)) == 4
    assert working_days_left(date(2026, 4, 17), date(2026, 4, 17)) == 0
    assert working_days_left(date(2026, 4, 21), date(2026, 4, 17)) == -2
    assert not is_working_day(date(2026, 4, 13)) and is_working_day(date(2026, 4, 14))


def test_deadline_alerts_list_unaccepted_documents_once_per_day(praho_factory, praho_session):
    from praho.core.testing import DEFAULT_NOW

    invoice = praho_factory.invoice()  # issued 2 March 2026, deadline 9 March
    settings = EfacturaSettings(alert_working_days=1)
    assert invoice.issue_date == DEFAULT_NOW.date()
    assert deadline_alerts(praho_session, today=date(2026, 3, 4), settings=settings) == []
    alerts = deadline_alerts(praho_session, today=date(2026, 3, 6), settings=settings, mark=True)
    assert [(a.document_number, a.working_days_left) for a in alerts] == [(invoice.full_number, 1)]
    assert (
        deadline_alerts(praho_session, today=date(2026, 3, 6), settings=settings, mark=True) == []
    )
    late = deadline_alerts(praho_session, today=date(2026, 3, 11), settings=settings)
    assert late[0].working_days_left == -2 and "LATE" in str(late[0])
