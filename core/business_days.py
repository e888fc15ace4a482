"""Romanian working days: weekends and the public holidays of the Labour Code (art. 139).

Shared by every plugin that counts Romanian working or banking days (the e-Factura
deadline, the BNR banking day whose rate an invoice uses). Plugins never import each
other, so the calendar lives here in the core.

BNR publishes reference rates on the same calendar: no rate on Saturdays, Sundays and
legal holidays.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

# Fixed-date public holidays (month, day) and the year they were introduced.
FIXED_HOLIDAYS: list[tuple[int, int, str, int]] = [
    (1, 1, "Anul Nou", 1990),
    (1, 2, "Anul Nou (a doua zi)", 1990),
    (1, 6, "Boboteaza", 2024),
    (1, 7, "Sfantul Ioan Botezatorul", 2024),
    (1, 24, "Ziua Unirii Principatelor Romane", 2017),
    (5, 1, "Ziua Muncii", 1990),
    (6, 1, "Ziua Copilului", 2017),
    (8, 15, "Adormirea Maicii Domnului", 2009),
    (11, 30, "Sfantul Andrei", 2012),
    (12, 1, "Ziua Nationala", 1990),
    (12, 25, "Craciunul", 1990),
    (12, 26, "Craciunul (a doua zi)", 1990),
]


def orthodox_easter(year: int) -> date:
    """Orthodox Easter Sunday (Meeus' Julian algorithm, moved to the Gregorian calendar).

    The 13-day Julian/Gregorian difference holds for 1900-2099.
    """
    if not 1900 <= year <= 2099:
        raise ValueError("orthodox_easter is defined here for 1900-2099")
    a, b, c = year % 4, year % 7, year % 19
    d = (19 * c + 15) % 30
    e = (2 * a + 4 * b - d + 34) % 7
    month, day = divmod(d + e + 114, 31)
    return date(year, month, day + 1) + timedelta(days=13)


@lru_cache(maxsize=256)
def public_holidays(year: int) -> dict[date, str]:
    """Every Romanian public holiday of ``year`` with its name."""
    holidays = {date(year, m, d): name for m, d, name, since in FIXED_HOLIDAYS if year >= since}
    easter = orthodox_easter(year)
    movable = {
        easter - timedelta(days=2): "Vinerea Mare",
        easter: "Pastele",
        easter + timedelta(days=1): "Pastele (a doua zi)",
        easter + timedelta(days=49): "Rusaliile",
        easter + timedelta(days=50): "Rusaliile (a doua zi)",
    }
    if year < 2018:
        del movable[easter - timedelta(days=2)]
    holidays.update(movable)
    return holidays


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a public holiday."""
    return day.weekday() < 5 and day not in public_holidays(day.year)


def next_working_day(day: date) -> date:
    """``day`` itself if it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def previous_working_day(day: date) -> date:
    """``day`` itself if it is a working day, else the last working day before it."""
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself does not count)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current
