"""Functions that designers may call in expressions, scripts, timers and due dates."""
from __future__ import annotations

from datetime import datetime, timedelta
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

    functions: dict[str, Callable[..., Any]] = {"now": now, "now_iso": now_iso, "today": today, "days": days, "hours": hours}
    if calendar_holder is not None:
        from yijianshi.engine.deadlines.calendar_functions import calendar_functions

        functions.update(calendar_functions(calendar_holder, now))
    return functions
