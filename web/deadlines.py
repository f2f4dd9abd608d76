"""Deadline marks for work items: yellow once the warning time has passed, red once overdue, and
the time left in words, in working days where the engine's working calendar knows the dates."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.deadlines.timers import UNRESOLVED
from yijianshi.engine.errors import EngineError
from yijianshi.web.i18n import gettext as _
from yijianshi.web.i18n import ngettext

OVERDUE, WARNING = "overdue", "warning"


def mark(due_at: datetime | None, warning_at: datetime | None, now: datetime) -> str | None:
    if due_at is not None and now >= due_at:
        return OVERDUE
    if warning_at is not None and now >= warning_at:
        return WARNING
    return None


@dataclass(frozen=True)
class Remaining:
    text: str
    mark: str | None
    pending: bool = False  # waiting for a year's holiday schedule: no date to show


def awaited_year(engine, now: datetime) -> int:
    """The first year from now on whose holiday schedule the engine's calendar does not have."""
    calendar = getattr(getattr(engine, "calendar", None), "calendar", None)
    known = set(calendar.years) if calendar is not None and hasattr(calendar, "years") else set()
    year = now.astimezone(SHANGHAI).year
    while year in known:
        year += 1
    return year


def working_days_between(engine, start: datetime, end: datetime) -> int | None:
    """Working days after start up to end by the engine's calendar; None when it cannot tell
    (no calendar, or a year without a published schedule: never guess)."""
    holder = getattr(engine, "calendar", None)
    calendar = getattr(holder, "calendar", None)
    if calendar is None or not hasattr(calendar, "working_days_between"):
        return None
    try:
        return calendar.working_days_between(start, end)
    except EngineError:  # a year without a published schedule: fall back to calendar time
        return None


def remaining(engine, due_at: datetime | None, warning_at: datetime | None, now: datetime) -> Remaining | None:
    """"剩余 3 个工作日" / "剩余 5 小时" / "已超期 2 天"; None without a deadline."""
    if due_at is None:
        return None
    if due_at >= UNRESOLVED:  # the engine could not compute it (engine/deadlines/timers.py)
        return Remaining(_("期限待定（待导入 %(year)s 年节假日安排）", year=awaited_year(engine, now)), None, True)
    state = mark(due_at, warning_at, now)
    if state == OVERDUE:
        return Remaining(_("已超期 %(span)s", span=_span(now - due_at)), state)
    days = working_days_between(engine, now, due_at)
    if days is not None and days >= 1:
        return Remaining(ngettext("剩余 %(n)s 个工作日", "剩余 %(n)s 个工作日", days), state)
    return Remaining(_("剩余 %(span)s", span=_span(due_at - now)), state)


def _span(delta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours = rest // 3600
    if days:
        return _("%(d)s 天 %(h)s 小时", d=days, h=hours) if hours else ngettext("%(n)s 天", "%(n)s 天", days)
    if hours:
        return ngettext("%(n)s 小时", "%(n)s 小时", hours)
    return ngettext("%(n)s 分钟", "%(n)s 分钟", max(1, rest // 60))
