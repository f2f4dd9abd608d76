"""Functions that designers may call in expressions, scripts, timers and due dates."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable

from engine.clock import Clock


def script_functions(clock: Clock) -> dict[str, Callable[..., Any]]:
    """Bound to a clock so tests and replay see the command's own time."""

    def now() -> datetime:
        return clock.now()

    def now_iso() -> str:
        return clock.now().isoformat(timespec="seconds")

    def today() -> str:
        return clock.now().date().isoformat()

    def days(n: float) -> timedelta:
        return timedelta(days=n)

    def hours(n: float) -> timedelta:
        return timedelta(hours=n)

    return {"now": now, "now_iso": now_iso, "today": today, "days": days, "hours": hours}
