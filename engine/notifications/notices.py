"""What the notification planner works with: which channels are on (Notices, set from the settings
by setup.py and held by the command runner) and one planned message before its case id is known
(Planned, turned into outbox rows in the command's write transaction)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable


@dataclass
class Notices:
    """Which channels are on (in-app always is), and how long the hotline has for its revisit.
    `add_working_days(start, n)` comes from the working calendar."""

    email: bool = False
    sms: bool = False
    hotline_url: str | None = None
    revisit_working_days: int = 5
    add_working_days: Callable[[datetime, int], datetime] | None = field(default=None, repr=False)


@dataclass
class Planned:
    """One message before the case id is known: turned into outbox rows in the write transaction."""

    kind: str
    audience: str  # "applicant", "clerks", "hotline", "watch"
    step: str = ""
    groups: str = ""
    outcome: str = ""
    dedupe: str | None = None  # suffix of the dedupe key; the case id is put in front
    payload: dict | None = None
    due: datetime | None = None
