"""Time as the engine sees it. Every command reads the clock once; tests and replay control it."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    """The real clock, in Asia/Shanghai whatever the server's zone."""

    def now(self) -> datetime:
        return datetime.now(SHANGHAI)


class ControlledClock(Clock):
    """A clock that only moves when told to; `pinned` makes one thread see a fixed time (replay)."""

    def __init__(self, start: datetime | None = None):
        self._now = (start or datetime(2025, 9, 26, 9, 0, tzinfo=SHANGHAI)).astimezone(SHANGHAI)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ControlledClock.set needs an aware datetime")
        with self._lock:
            self._now = when.astimezone(SHANGHAI)

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now = self._now + timedelta(**delta)
            return self._now


def to_utc(when: datetime) -> datetime:
    return when.astimezone(timezone.utc)
