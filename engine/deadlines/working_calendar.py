"""Working-day arithmetic for time limits (限时办结) on the official PRC holiday schedules, in Asia/Shanghai.

Convention (行政许可法 §82, 民法典 §201): acceptance day is day 0, not counted; N working days end at the end
of the Nth working day after it. A year whose schedule is not loaded is refused, never guessed."""
from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from datetime import date, datetime, time, timedelta
from importlib import resources
from itertools import count, pairwise
from typing import Any

from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.errors import EngineError

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR_KEY = re.compile(r"\d{4}")


class CalendarError(EngineError):
    """A schedule file is invalid or a working-day computation cannot be done; carries every problem."""

    def __init__(self, *problems: str):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ScheduleMissing(CalendarError):
    """A computation needs a year whose official holiday schedule is not loaded."""

    def __init__(self, year: int):
        self.year = year
        super().__init__(f"{year} 年的法定节假日安排尚未发布或尚未导入，无法计算工作日期限。"
                         "请管理员导入该年度安排（yijianshi calendar load）。")


@dataclass(frozen=True)
class YearSchedule:
    """One year's official schedule: inclusive holiday ranges and weekend make-up working days."""

    year: int
    holidays: tuple[tuple[date, date, str], ...]
    makeup_workdays: tuple[date, ...]

    def to_json(self) -> dict[str, Any]:
        """The year's entry in the holidays-cn.json format."""
        return {"holidays": [[s.isoformat(), e.isoformat(), name] for s, e, name in self.holidays],
                "makeup_workdays": [d.isoformat() for d in self.makeup_workdays]}

    @classmethod
    def from_json(cls, year: int, obj: Any) -> YearSchedule:
        """Parse and validate one year's entry; raises CalendarError listing every problem."""
        problems: list[str] = []
        if (schedule := _parse_year(year, obj, f"{year} 年", problems)) is None:
            raise CalendarError(*problems)
        return schedule


def _parse_date(value: object, where: str, problems: list[str]) -> date | None:
    # date.fromisoformat alone also accepts "20250101" and week dates; the file format is strictly YYYY-MM-DD.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    problems.append(f"{where}：{value!r} 不是有效日期，应为 YYYY-MM-DD 格式")
    return None


def _parse_year(year: int, obj: Any, where: str, problems: list[str]) -> YearSchedule | None:
    before = len(problems)
    if not isinstance(obj, dict):
        problems.append(f"{where}：应为包含 holidays 和 makeup_workdays 的对象")
        return None
    # A misspelt key would silently drop make-up days, so unknown keys are errors.
    for key in sorted(obj.keys() - {"holidays", "makeup_workdays"}):
        problems.append(f"{where}：未知字段 {key!r}（只允许 holidays 和 makeup_workdays）")
    raw_holidays, raw_makeups = obj.get("holidays"), obj.get("makeup_workdays", [])
    if not isinstance(raw_holidays, list) or not raw_holidays:
        problems.append(f"{where}：没有任何节假日（holidays 必须是非空列表）")
        raw_holidays = []
    if not isinstance(raw_makeups, list):
        problems.append(f"{where}：makeup_workdays 必须是日期列表")
        raw_makeups = []
    holidays: list[tuple[date, date, str]] = []
    for i, item in enumerate(raw_holidays, 1):
        at = f"{where}第 {i} 个节假日"
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[2], str) and item[2].strip()):
            problems.append(f"{at}：应为 [开始日期, 结束日期, 名称] 三项")
            continue
        start, end = _parse_date(item[0], at, problems), _parse_date(item[1], at, problems)
        if start is None or end is None:
            continue
        if end < start:
            problems.append(f"{at}「{item[2]}」：结束日期 {end} 早于开始日期 {start}")
        elif start.year != end.year:
            problems.append(f"{at}「{item[2]}」：区间 {start}～{end} 跨越年份，请拆分到各自年份下")
        elif start.year != year:
            problems.append(f"{at}「{item[2]}」：区间 {start}～{end} 不在 {year} 年内")
        else:
            holidays.append((start, end, item[2]))
    holidays.sort()
    for (s1, e1, n1), (s2, e2, n2) in pairwise(holidays):
        if s2 <= e1:
            problems.append(f"{where}：节假日「{n1}」（{s1}～{e1}）与「{n2}」（{s2}～{e2}）重叠")
    makeups: list[date] = []
    for i, item in enumerate(raw_makeups, 1):
        at = f"{where}第 {i} 个调休上班日"
        day = _parse_date(item, at, problems)
        if day is None:
            continue
        if day.year != year:
            problems.append(f"{at}：{day} 不在 {year} 年内")
        elif day.weekday() < 5:
            problems.append(f"{at}：{day} 是星期{'一二三四五'[day.weekday()]}，调休上班日只能是周六或周日")
        elif hit := next((h for h in holidays if h[0] <= day <= h[1]), None):
            problems.append(f"{at}：{day} 落在节假日「{hit[2]}」（{hit[0]}～{hit[1]}）之内")
        elif day in makeups:
            problems.append(f"{at}：{day} 重复列出")
        else:
            makeups.append(day)
    if len(problems) > before:
        return None
    return YearSchedule(year, tuple(holidays), tuple(sorted(makeups)))


def parse_schedule(data: bytes | str, source: str) -> list[YearSchedule]:
    """Parse a holidays-cn.json style file; raises CalendarError listing every problem found."""
    problems: list[str] = []

    def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # json.loads would keep the last of two "2026" entries without a word.
        keys = [key for key, _ in pairs]
        problems.extend(f"{source}：键 {k!r} 重复出现" for k in sorted({k for k in keys if keys.count(k) > 1}))
        return dict(pairs)

    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        doc = json.loads(text, object_pairs_hook=no_duplicate_keys)
    except UnicodeDecodeError as exc:
        raise CalendarError(f"{source}：文件不是 UTF-8 编码（第 {exc.start} 字节）") from None
    except json.JSONDecodeError as exc:
        raise CalendarError(f"{source}：第 {exc.lineno} 行第 {exc.colno} 列：JSON 格式错误（{exc.msg}）") from None
    if not isinstance(doc, dict):
        raise CalendarError(f"{source}：顶层应为以年份为键的对象")
    schedules: list[YearSchedule] = []
    for key, value in doc.items():
        if key == "_meta":
            continue
        if not _YEAR_KEY.fullmatch(key):
            problems.append(f"{source}：顶层键 {key!r} 不是四位年份（除 _meta 外）")
            continue
        if (schedule := _parse_year(int(key), value, f"{source}：{key} 年", problems)) is not None:
            schedules.append(schedule)
    if not schedules and not problems:
        problems.append(f"{source}：文件中没有任何年份的安排")
    if problems:
        raise CalendarError(*problems)
    return sorted(schedules, key=lambda s: s.year)


def bundled_schedules() -> list[YearSchedule]:
    """The official schedules shipped with the engine (engine/deadlines/data/holidays-cn.json)."""
    resource = resources.files("yijianshi.engine.deadlines") / "data" / "holidays-cn.json"
    return parse_schedule(resource.read_bytes(), "engine/deadlines/data/holidays-cn.json")


def _shanghai(value: date | datetime) -> datetime:
    # datetime is a subclass of date, so test it first; naive values are Shanghai wall time by contract.
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), SHANGHAI)
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value.astimezone(SHANGHAI)


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), SHANGHAI)


def _working_ordinals(schedule: YearSchedule) -> list[int]:
    off = {o for s, e, _ in schedule.holidays for o in range(s.toordinal(), e.toordinal() + 1)}
    makeup = {d.toordinal() for d in schedule.makeup_workdays}
    first, last = date(schedule.year, 1, 1).toordinal(), date(schedule.year, 12, 31).toordinal()
    return [o for o in range(first, last + 1)
            if o in makeup or (date.fromordinal(o).weekday() < 5 and o not in off)]


class WorkingCalendar:
    """Working days for the loaded years, optionally minus per-region closures (region code → dates)."""

    def __init__(self, years: Iterable[YearSchedule],
                 closures: Mapping[str, Iterable[date]] | None = None):
        by_year = {s.year: s for s in years}  # a later schedule for the same year replaces an earlier one
        self._years = frozenset(by_year)
        national = [o for y in sorted(by_year) for o in _working_ordinals(by_year[y])]
        # Sorted ordinals make "the n-th working day after X" one bisect plus an index: no day-by-day walk.
        shut = {region: {d.toordinal() for d in dates} for region, dates in (closures or {}).items()}
        self._days: dict[str | None, list[int]] = {None: national}
        self._days.update({region: [o for o in national if o not in off] for region, off in shut.items()})
        self._sets = {region: frozenset(days) for region, days in self._days.items()}
        # Lookups fall back to None: a region without closures works on the national calendar.

    @cached_property
    def fingerprint(self) -> str:
        """Names the national working days loaded: equal for calendars that count days alike."""
        return hashlib.sha256(json.dumps([sorted(self._years), self._days[None]]).encode()).hexdigest()[:16]

    @property
    def years(self) -> list[int]:
        """The years whose schedules are loaded, ascending."""
        return sorted(self._years)

    def _require(self, first: date, last: date) -> None:
        # The ordinal list silently skips unloaded years, so every year the walk crosses is checked.
        for year in range(first.year, last.year + 1):
            if year not in self._years:
                raise ScheduleMissing(year)

    def is_working_day(self, day: date | datetime, region: str | None = None) -> bool:
        """Whether the (Shanghai) date is a working day, for the region if given."""
        local = _shanghai(day).date()
        if local.year not in self._years:
            raise ScheduleMissing(local.year)
        return local.toordinal() in self._sets.get(region, self._sets[None])

    def add_working_days(self, start: date | datetime, n: int, region: str | None = None) -> datetime:
        """End of the n-th working day after start's date: 23:59:59 Shanghai, second precision; n=0: that date."""
        if n < 0:
            raise ValueError(f"工作日数不能为负数：{n}")
        day0 = _shanghai(start).date()
        if n == 0:
            return _end_of(day0)
        ordinals = self._days.get(region, self._days[None])
        index = bisect_right(ordinals, day0.toordinal()) + n - 1
        first = day0 + timedelta(days=1)
        if index >= len(ordinals):
            # The walk ran past every loaded day: the year it needs next is the first unloaded one.
            raise ScheduleMissing(next(y for y in count(first.year) if y not in self._years))
        target = date.fromordinal(ordinals[index])
        self._require(first, target)
        return _end_of(target)

    def working_days_between(self, start: date | datetime, end: date | datetime,
                             region: str | None = None) -> int:
        """Number of working days d with start's date < d ≤ end's date (0 if end is not after start)."""
        a, b = _shanghai(start).date(), _shanghai(end).date()
        if b <= a:
            return 0
        self._require(a + timedelta(days=1), b)
        ordinals = self._days.get(region, self._days[None])
        return bisect_right(ordinals, b.toordinal()) - bisect_right(ordinals, a.toordinal())

    def next_working_day(self, day: date | datetime, region: str | None = None) -> date:
        """The first working day strictly after day's (Shanghai) date."""
        return self.add_working_days(day, 1, region).date()

    def warning_time(self, start: date | datetime, n: int, warn_before: int = 1,
                     region: str | None = None) -> datetime:
        """预警 point: end of the (n - warn_before)-th working day, or start itself if that is ≤ 0."""
        if n - warn_before > 0:
            return self.add_working_days(start, n - warn_before, region)
        return _shanghai(start)
