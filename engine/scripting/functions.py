"""Functions that designers may call in expressions, scripts, timers and due dates."""
from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Any, Callable

from yijianshi.engine.clock import SHANGHAI, Clock
from yijianshi.engine.deadlines.timers import current_time


def script_functions(clock: Clock, calendar_holder=None) -> dict[str, Callable[..., Any]]:
    """`now()` is the time of the command being executed (so replay and tests control it)."""

    def now() -> datetime:
        return current_time(clock).astimezone(SHANGHAI)

    def now_iso() -> str:
        return now().isoformat(timespec="seconds")

    def today() -> str:
        return now().date().isoformat()

    def days(n: float) -> timedelta:
        return timedelta(days=n)

    def hours(n: float) -> timedelta:
        return timedelta(hours=n)

    functions: dict[str, Callable[..., Any]] = {"now": now, "now_iso": now_iso, "today": today, "days": days,
                                                "hours": hours, "add_months": add_months}
    if calendar_holder is not None:
        from yijianshi.engine.deadlines.calendar_functions import calendar_functions

        functions.update(calendar_functions(calendar_holder, now))
    return functions


def add_months(day: str, months: int) -> str:
    """The date `months` calendar months after `day` (YYYY-MM-DD, or the date part of an ISO time),
    as YYYY-MM-DD. As 民法典 §202 counts a period of months: it ends on the same day of the last
    month, or on that month's last day when it has no such day (2025-08-31 + 6 → 2026-02-28)."""
    start = date.fromisoformat(str(day)[:10])
    index = start.year * 12 + start.month - 1 + int(months)
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last)).isoformat()
