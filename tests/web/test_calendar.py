"""node/web/static/calendar.js in chromium: the Solar Hijri date of known Gregorian dates, Persian digits."""

from __future__ import annotations

from typing import Any

import pytest

KNOWN = [
    ((1979, 2, 11), (1357, 11, 22)),  # 22 Bahman 1357
    ((2000, 1, 1), (1378, 10, 11)),
    ((2024, 3, 19), (1402, 12, 29)),  # last day of a common year
    ((2024, 3, 20), (1403, 1, 1)),  # Nowruz 1403
    ((2025, 3, 20), (1403, 12, 30)),  # 30 Esfand: 1403 is a leap year
    ((2025, 3, 21), (1404, 1, 1)),
    ((2025, 9, 22), (1404, 6, 31)),  # the last 31-day month ends
    ((2025, 9, 23), (1404, 7, 1)),
    ((2026, 3, 21), (1405, 1, 1)),
    ((2026, 12, 5), (1405, 9, 14)),
]


def _module(page: Any, expression: str) -> Any:
    return page.evaluate(f"async () => {{ const c = await import('/calendar.js'); return {expression}; }}")


@pytest.mark.parametrize(("gregorian", "jalali"), KNOWN)
def test_known_dates(static_page: Any, gregorian: tuple[int, int, int], jalali: tuple[int, int, int]) -> None:
    gy, gm, gd = gregorian
    got = _module(static_page, f"c.toJalali({gy}, {gm}, {gd})")
    assert (got["jy"], got["jm"], got["jd"]) == jalali


def test_persian_digits_change_digits_only(static_page: Any) -> None:
    assert _module(static_page, "c.persianDigits('1405/09/14 - v2, 0')") == "۱۴۰۵/۰۹/۱۴ - v۲, ۰"


def test_both_dates_of_a_moment_are_of_its_utc_day(static_page: Any) -> None:
    # 2026-03-20T23:59:59.999Z is still 29 Esfand 1404, one millisecond later it is Nowruz 1405
    assert _module(static_page, "c.bothDates(Date.UTC(2026, 2, 20, 23, 59, 59, 999))") == {
        "jalali": "۱۴۰۴/۱۲/۲۹",
        "gregorian": "2026-03-20",
    }
    assert _module(static_page, "c.bothDates(Date.UTC(2026, 2, 21))") == {
        "jalali": "۱۴۰۵/۰۱/۰۱",
        "gregorian": "2026-03-21",
    }


def test_a_year_outside_the_table_is_refused(static_page: Any) -> None:
    assert _module(static_page, "(() => { try { c.toJalali(3900, 1, 1); return 'no'; } "
                   "catch (e) { return e.name; } })()") == "RangeError"
