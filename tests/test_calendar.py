"""Tests for engine.calendar: the domain brief's worked examples, properties over 2025–2026, refusal of
unloaded years, region closures, time zones, and every validation error of a schedule file."""
from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yijianshi.engine.deadlines.working_calendar import (
    CalendarError,
    ScheduleMissing,
    WorkingCalendar,
    YearSchedule,
    bundled_schedules,
    parse_schedule,
)
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.errors import EngineError

CAL = WorkingCalendar(bundled_schedules())
SAMPLE = {"holidays": [["2025-10-01", "2025-10-08", "国庆节"]], "makeup_workdays": ["2025-09-28"]}


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 23, 59, 59, tzinfo=SHANGHAI)


def holiday_dates() -> set[date]:
    return {s + timedelta(days=i) for y in bundled_schedules() for s, e, _ in y.holidays
            for i in range((e - s).days + 1)}


HOLIDAYS = holiday_dates()
MAKEUPS = {d for y in bundled_schedules() for d in y.makeup_workdays}


def reference_add(start: date, n: int) -> date:
    """Day-by-day oracle straight from the definition, independent of the bisect implementation."""
    day = start
    while n:
        day += timedelta(days=1)
        if day.year > 2026:
            raise ScheduleMissing(day.year)
        if day in MAKEUPS or (day.weekday() < 5 and day not in HOLIDAYS):
            n -= 1
    return day


# --- worked examples from the domain brief ------------------------------------------------------

@pytest.mark.parametrize(("accepted", "expected"), [
    (date(2025, 9, 26), end_of(2025, 10, 13)),
    (date(2026, 2, 12), end_of(2026, 2, 28)),  # a make-up Saturday; Mon–Fri counting gives 03-03
    (date(2026, 9, 30), end_of(2026, 10, 15)),
])
def test_worked_examples(accepted: date, expected: datetime) -> None:
    result = CAL.add_working_days(accepted, 7)
    assert result == expected
    assert result.tzinfo is SHANGHAI and result.utcoffset() == timedelta(hours=8)
    assert CAL.add_working_days(datetime(accepted.year, accepted.month, accepted.day, 16, 45), 7) == expected


def test_february_2026_deadline_is_on_a_saturday() -> None:
    result = CAL.add_working_days(date(2026, 2, 12), 7)
    assert result.date().weekday() == 5 and CAL.is_working_day(result.date())


def test_n_zero_is_end_of_start_day_and_negative_is_refused() -> None:
    assert CAL.add_working_days(datetime(2025, 10, 3, 9, 0, tzinfo=SHANGHAI), 0) == end_of(2025, 10, 3)
    with pytest.raises(ValueError):
        CAL.add_working_days(date(2025, 9, 26), -1)


# --- properties ---------------------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(start=st.dates(date(2025, 1, 1), date(2026, 12, 31)), n=st.integers(1, 30))
def test_deadline_is_a_working_day_never_a_holiday_and_monotonic(start: date, n: int) -> None:
    try:
        result = CAL.add_working_days(start, n)
    except ScheduleMissing as exc:
        assert exc.year == 2027
        with pytest.raises(ScheduleMissing):
            reference_add(start, n)
        return
    day = result.date()
    assert result == end_of(day.year, day.month, day.day)
    assert day > start and day not in HOLIDAYS
    assert CAL.is_working_day(day)
    assert day == reference_add(start, n)
    assert CAL.working_days_between(start, result) == n
    assert n == 1 or CAL.add_working_days(start, n - 1) < result


def test_every_day_of_2025_and_2026_matches_the_definition() -> None:
    day = date(2025, 1, 1)
    while day.year < 2027:
        expected = day in MAKEUPS or (day.weekday() < 5 and day not in HOLIDAYS)
        assert CAL.is_working_day(day) is expected, day
        day += timedelta(days=1)


# --- unloaded years -----------------------------------------------------------------------------

def test_walk_into_2027_raises_schedule_missing_with_the_year() -> None:
    with pytest.raises(ScheduleMissing) as exc_info:
        CAL.add_working_days(date(2026, 12, 28), 7)
    assert exc_info.value.year == 2027
    assert isinstance(exc_info.value, CalendarError) and isinstance(exc_info.value, EngineError)
    assert "2027 年" in str(exc_info.value) and "yijianshi calendar load" in str(exc_info.value)
    # A deadline that stays inside 2026 does not need 2027.
    assert CAL.add_working_days(date(2026, 12, 28), 3) == end_of(2026, 12, 31)


def test_other_unloaded_years_are_refused() -> None:
    with pytest.raises(ScheduleMissing) as exc_info:
        CAL.is_working_day(date(2027, 1, 4))
    assert exc_info.value.year == 2027
    with pytest.raises(ScheduleMissing) as exc_info:
        CAL.add_working_days(date(2024, 12, 30), 1)
    assert exc_info.value.year == 2024
    # Day 0 is not counted, so its year need not be loaded.
    assert CAL.add_working_days(date(2024, 12, 31), 1) == end_of(2025, 1, 2)
    with pytest.raises(ScheduleMissing):
        CAL.working_days_between(date(2026, 12, 1), date(2027, 1, 10))


def test_a_gap_between_loaded_years_is_refused_not_skipped() -> None:
    y2025, y2026 = bundled_schedules()
    y2027 = YearSchedule(2027, ((date(2027, 1, 1), date(2027, 1, 3), "元旦"),), ())  # made up for the test
    gappy = WorkingCalendar([y2025, y2027])
    assert gappy.years == [2025, 2027]
    with pytest.raises(ScheduleMissing) as exc_info:
        gappy.add_working_days(date(2025, 12, 30), 5)
    assert exc_info.value.year == 2026
    full = WorkingCalendar([y2027, y2026, y2025])
    assert full.years == [2025, 2026, 2027]
    # 12-29, 12-30, 12-31, then 2027-01-01 (Fri) off and the weekend: 01-04 … 01-07.
    assert full.add_working_days(date(2026, 12, 28), 7) == end_of(2027, 1, 7)


# --- regions ------------------------------------------------------------------------------------

def test_region_closures_shift_deadlines_for_that_region_only() -> None:
    cal = WorkingCalendar(bundled_schedules(), closures={"120116": [date(2025, 10, 10)]})
    assert cal.add_working_days(date(2025, 9, 26), 7, region="120116") == end_of(2025, 10, 14)
    assert cal.add_working_days(date(2025, 9, 26), 7) == end_of(2025, 10, 13)
    assert cal.add_working_days(date(2025, 9, 26), 7, region="120101") == end_of(2025, 10, 13)
    assert not cal.is_working_day(date(2025, 10, 10), "120116")
    assert cal.is_working_day(date(2025, 10, 10)) and cal.is_working_day(date(2025, 10, 10), "120101")
    assert cal.working_days_between(date(2025, 9, 26), date(2025, 10, 13), "120116") == 6
    assert cal.next_working_day(date(2025, 10, 9), "120116") == date(2025, 10, 11)
    once = WorkingCalendar(bundled_schedules(), closures={"120116": (d for d in [date(2025, 10, 10)])})
    assert once.add_working_days(date(2025, 9, 26), 7, region="120116") == end_of(2025, 10, 14)


# --- time zones ---------------------------------------------------------------------------------

def test_results_do_not_depend_on_the_server_time_zone() -> None:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        cal = WorkingCalendar(bundled_schedules())
        assert cal.add_working_days(date(2025, 9, 26), 7) == end_of(2025, 10, 13)
        assert cal.add_working_days(datetime(2026, 2, 12, 23, 30), 7) == end_of(2026, 2, 28)
        # 2025-09-29T17:30Z is Tuesday 09-30 01:30 in Shanghai (still Monday in New York).
        assert cal.add_working_days(datetime(2025, 9, 29, 17, 30, tzinfo=UTC), 1) == end_of(2025, 10, 9)
        assert cal.add_working_days(datetime.now(SHANGHAI), 0).tzinfo is SHANGHAI
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


def test_aware_utc_datetime_counts_from_the_shanghai_date() -> None:
    late_friday_utc = datetime(2025, 9, 26, 17, 30, tzinfo=UTC)  # Sat 09-27 01:30 in Shanghai
    assert CAL.add_working_days(late_friday_utc, 7) == end_of(2025, 10, 13)
    assert CAL.working_days_between(late_friday_utc, date(2025, 9, 27)) == 0
    monday_utc = datetime(2025, 9, 29, 17, 30, tzinfo=UTC)  # Tue 09-30 01:30 in Shanghai
    assert CAL.add_working_days(monday_utc, 1) == end_of(2025, 10, 9)
    assert CAL.add_working_days(datetime(2025, 9, 29, 17, 30), 1) == end_of(2025, 9, 30)  # naive = Shanghai


# --- counting, next day, warnings ---------------------------------------------------------------

@pytest.mark.parametrize(("start", "end", "expected"), [
    (date(2025, 9, 26), date(2025, 10, 13), 7),
    (date(2026, 2, 12), date(2026, 2, 28), 7),
    (date(2026, 2, 12), date(2026, 3, 2), 8),
    (date(2025, 12, 31), date(2026, 1, 5), 2),  # 01-01..03 off, 01-04 Sunday make-up, 01-05 Monday
    (date(2025, 10, 1), date(2025, 10, 8), 0),
    (date(2025, 9, 26), date(2025, 9, 26), 0),
    (date(2025, 10, 13), date(2025, 9, 26), 0),
    (date(2025, 1, 1), date(2025, 12, 31), 248),  # 261 weekdays - 18 on holiday + 5 make-up
    (date(2025, 12, 31), date(2026, 12, 31), 248),  # 261 weekdays - 19 on holiday + 6 make-up
])
def test_working_days_between(start: date, end: date, expected: int) -> None:
    assert CAL.working_days_between(start, end) == expected


def test_working_days_between_uses_dates_not_hours() -> None:
    accepted = datetime(2025, 9, 26, 16, 0, tzinfo=SHANGHAI)
    assert CAL.working_days_between(accepted, datetime(2025, 9, 28, 9, 0, tzinfo=SHANGHAI)) == 1
    assert CAL.working_days_between(accepted, datetime(2025, 9, 26, 17, 0, tzinfo=SHANGHAI)) == 0


def test_make_up_days_are_working_days_and_holidays_are_not() -> None:
    assert CAL.is_working_day(date(2025, 9, 28))  # Sunday make-up
    assert CAL.is_working_day(date(2026, 2, 28))  # Saturday make-up
    assert not CAL.is_working_day(date(2025, 10, 8))  # Wednesday inside 国庆
    assert not CAL.is_working_day(date(2025, 9, 27))  # ordinary Saturday
    assert CAL.is_working_day(datetime(2025, 9, 27, 16, 30, tzinfo=UTC))  # Sunday 00:30 Shanghai


def test_next_working_day() -> None:
    assert CAL.next_working_day(date(2025, 9, 26)) == date(2025, 9, 28)
    assert CAL.next_working_day(date(2025, 9, 30)) == date(2025, 10, 9)
    assert CAL.next_working_day(date(2026, 2, 13)) == date(2026, 2, 14)


def test_warning_time() -> None:
    accepted = datetime(2025, 9, 26, 10, 0, tzinfo=SHANGHAI)
    assert CAL.warning_time(accepted, 7) == end_of(2025, 10, 11)
    assert CAL.warning_time(accepted, 7, warn_before=2) == end_of(2025, 10, 10)
    assert CAL.warning_time(accepted, 7, warn_before=7) == accepted
    assert CAL.warning_time(accepted, 1, warn_before=3) == accepted
    utc = datetime(2025, 9, 26, 2, 0, tzinfo=UTC)
    assert CAL.warning_time(utc, 1).tzinfo is SHANGHAI and CAL.warning_time(utc, 1) == utc
    assert CAL.warning_time(date(2025, 9, 26), 1) == datetime(2025, 9, 26, tzinfo=SHANGHAI)


def test_add_working_days_is_fast() -> None:
    starts = [date(2025, 1, 1) + timedelta(days=i % 700) for i in range(20_000)]
    began = time.perf_counter()
    for start in starts:
        CAL.add_working_days(start, 20)
    assert time.perf_counter() - began < 2.0  # ~µs each; generous for loaded CI machines


# --- bundled data and parsing -------------------------------------------------------------------

def test_bundled_file_has_2025_and_2026() -> None:
    years = bundled_schedules()
    assert [y.year for y in years] == [2025, 2026]
    assert CAL.years == [2025, 2026]
    y2025 = years[0]
    national_day = (date(2025, 10, 1), date(2025, 10, 8), "国庆节、中秋节 National Day + Mid-autumn (merged)")
    assert national_day in y2025.holidays
    assert date(2025, 9, 28) in y2025.makeup_workdays


def test_year_schedule_json_round_trip() -> None:
    for year in bundled_schedules():
        assert YearSchedule.from_json(year.year, json.loads(json.dumps(year.to_json()))) == year
    assert parse_schedule(json.dumps({"_meta": {"x": 1}, "2025": SAMPLE}), "t.json")[0].to_json() == SAMPLE


def problems_of(doc: object, raw: str | bytes | None = None) -> list[str]:
    with pytest.raises(CalendarError) as exc_info:
        parse_schedule(raw if raw is not None else json.dumps(doc, ensure_ascii=False), "upload.json")
    assert all(p.startswith("upload.json") for p in exc_info.value.problems)
    return exc_info.value.problems


def year_with(**changes: object) -> dict[str, object]:
    return {"2025": {**SAMPLE, **changes}}


def test_bad_json_reports_line_and_column() -> None:
    [problem] = problems_of(None, raw='{\n  "2025": {\n    "holidays": [,]\n  }\n}')
    assert "第 3 行第 18 列" in problem and "JSON 格式错误" in problem
    assert "UTF-8" in problems_of(None, raw=b'{"2025": "\xff"}')[0]


@pytest.mark.parametrize(("doc", "fragment"), [
    ([], "顶层应为以年份为键的对象"),
    ({"_meta": {}}, "没有任何年份"),
    ({"25": SAMPLE}, "不是四位年份"),
    ({"2025": []}, "应为包含 holidays"),
    (year_with(holidays=[]), "没有任何节假日"),
    ({"2025": {"makeup_workdays": []}}, "没有任何节假日"),
    (year_with(makeup_workday=[]), "未知字段 'makeup_workday'"),
    (year_with(makeup_workdays="2025-09-28"), "makeup_workdays 必须是日期列表"),
    (year_with(holidays=[["2025-10-01", "2025-10-08"]]), "应为 [开始日期, 结束日期, 名称] 三项"),
    (year_with(holidays=[["2025/10/01", "2025-10-08", "国庆节"]]), "'2025/10/01' 不是有效日期"),
    (year_with(holidays=[["20251001", "2025-10-08", "国庆节"]]), "'20251001' 不是有效日期"),
    (year_with(holidays=[["2025-02-30", "2025-03-01", "假"]]), "'2025-02-30' 不是有效日期"),
    (year_with(holidays=[["2025-10-08", "2025-10-01", "国庆节"]]), "早于开始日期"),
    (year_with(holidays=[["2025-12-31", "2026-01-01", "元旦"]]), "跨越年份"),
    (year_with(holidays=[["2026-10-01", "2026-10-07", "国庆节"]]), "不在 2025 年内"),
    (year_with(makeup_workdays=["2026-09-20"]), "2026-09-20 不在 2025 年内"),
    (year_with(makeup_workdays=["2025-09-29"]), "2025-09-29 是星期一，调休上班日只能是周六或周日"),
    (year_with(makeup_workdays=["2025-10-04"]), "落在节假日「国庆节」"),
    (year_with(makeup_workdays=["2025-09-28", "2025-09-28"]), "重复列出"),
    (year_with(holidays=[["2025-10-01", "2025-10-08", "国庆节"], ["2025-10-06", "2025-10-06", "中秋节"]]),
     "节假日「国庆节」（2025-10-01～2025-10-08）与「中秋节」（2025-10-06～2025-10-06）重叠"),
])
def test_each_validation_error(doc: object, fragment: str) -> None:
    problems = problems_of(doc)
    assert any(fragment in p for p in problems), problems


def test_reversed_range_message() -> None:
    [problem] = problems_of(year_with(holidays=[["2025-10-08", "2025-10-01", "国庆节"]]))
    assert "国庆节" in problem and "结束日期 2025-10-01 早于开始日期 2025-10-08" in problem


def test_duplicate_year_key_is_reported() -> None:
    raw = f'{{"2025": {json.dumps(SAMPLE)}, "2025": {json.dumps(SAMPLE)}}}'
    assert any("'2025' 重复出现" in p for p in problems_of(None, raw=raw))


def test_all_problems_are_reported_at_once() -> None:
    doc = {"2025": {"holidays": [["2025-10-08", "2025-10-01", "国庆节"]],
                    "makeup_workdays": ["2025-09-29", "bad"]},
           "2026": {"holidays": []}, "foo": {}}
    problems = problems_of(doc)
    assert len(problems) == 5, problems
    assert "upload.json：2025 年" in problems[0]


def test_from_json_validates_too() -> None:
    with pytest.raises(CalendarError) as exc_info:
        YearSchedule.from_json(2025, {"holidays": [], "makeup_workdays": ["2025-09-29"]})
    assert len(exc_info.value.problems) == 2
