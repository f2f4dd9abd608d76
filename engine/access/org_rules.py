"""What an organisation is and when it is well formed: units (district → 街镇 → 片区; departments →
sub-units), memberships, deputies (代理) and absences as plain records, and the checks an imported
file and every change made in the admin pages pass. Each problem is a Chinese sentence naming the
record (and the file line where there is one); a file with any problem is refused whole.

Routing convention: a work item whose candidate group is `unit:<code>` is for the members of that
unit, for the leaders (role leader, 负责人) of any unit above it, and for their deputies while a
deputy period runs (engine/access/organisation.py turns these into an Actor's groups)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

UNIT_PREFIX = "unit:"
KINDS = {"district": "区", "street": "街镇", "grid": "片区", "department": "部门", "sub_unit": "科室/下属单位"}
# The kinds a unit of each kind may hang under (None: at the top of the tree).
PARENT_KINDS: dict[str, tuple[str | None, ...]] = {
    "district": (None,),
    "street": ("district",),
    "grid": ("street",),
    "department": (None, "district"),
    "sub_unit": ("department", "sub_unit"),
}
MEMBER_ROLES = {"member": "办事人员", "leader": "负责人（可见下级单位的事项）"}
CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
USERNAME_RE = re.compile(r"[a-z][a-z0-9_.-]{1,63}")


def unit_group(code: str) -> str:
    """The candidate group of a work item routed to a unit."""
    return UNIT_PREFIX + code


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    kind: str
    parent: str | None = None
    position: int = 0
    line: int | None = None  # where the record was read (files only)


@dataclass(frozen=True)
class Membership:
    username: str
    unit: str
    role: str = "member"
    line: int | None = None


@dataclass(frozen=True)
class Deputy:
    deputy: str
    principal: str
    starts_on: date
    ends_on: date
    id: int | None = None
    line: int | None = None

    def runs_on(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


@dataclass(frozen=True)
class Absence:
    username: str
    starts_on: date
    ends_on: date
    reason: str = ""
    id: int | None = None
    line: int | None = None


@dataclass
class OrgData:
    """A whole organisation (as imported, exported or seeded)."""

    units: list[Unit] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    deputies: list[Deputy] = field(default_factory=list)
    absences: list[Absence] = field(default_factory=list)


def where(line: int | None, what: str) -> str:
    return f"第 {line} 行（line {line}）：" if line is not None else f"{what}："


def unit_problems(unit: Unit, known: dict[str, Unit]) -> list[str]:
    """A unit's own problems; `known`: the other units by code (its parent must be among them)."""
    at = where(unit.line, f"单位 {unit.code}")
    problems = []
    if not CODE_RE.fullmatch(unit.code):
        problems.append(f"{at}单位代码“{unit.code}”无效：须以小写字母开头，只含小写字母、数字和下划线（至多 64 个字符）。")
    if not unit.name.strip() or len(unit.name) > 100:
        problems.append(f"{at}单位“{unit.code}”须有中文名称（至多 100 个字符）。")
    if unit.kind not in KINDS:
        problems.append(f"{at}单位类型“{unit.kind}”无效，可选：{'、'.join(f'{k}（{v}）' for k, v in KINDS.items())}。")
        return problems
    parent = known.get(unit.parent) if unit.parent else None
    if unit.parent and parent is None:
        problems.append(f"{at}上级单位“{unit.parent}”不存在。")
    elif (parent.kind if parent else None) not in PARENT_KINDS[unit.kind]:
        allowed = "、".join(KINDS[k] if k else "无（顶层）" for k in PARENT_KINDS[unit.kind])
        problems.append(f"{at}{KINDS[unit.kind]}“{unit.code}”的上级只能是：{allowed}。")
    return problems


def membership_problems(m: Membership, units: dict[str, Unit]) -> list[str]:
    at = where(m.line, f"成员 {m.username}")
    problems = _username_problems(m.username, at)
    if m.unit not in units:
        problems.append(f"{at}单位“{m.unit}”不存在。")
    if m.role not in MEMBER_ROLES:
        problems.append(f"{at}成员角色“{m.role}”无效，可选：{'、'.join(MEMBER_ROLES)}。")
    return problems


def deputy_problems(d: Deputy) -> list[str]:
    at = where(d.line, f"代理 {d.deputy}")
    problems = _username_problems(d.deputy, at) + _username_problems(d.principal, at)
    if d.deputy == d.principal:
        problems.append(f"{at}代理人不能代理自己（{d.deputy}）。")
    if d.ends_on < d.starts_on:
        problems.append(f"{at}代理结束日期 {d.ends_on} 早于开始日期 {d.starts_on}。")
    return problems


def absence_problems(a: Absence) -> list[str]:
    at = where(a.line, f"缺勤 {a.username}")
    problems = _username_problems(a.username, at)
    if a.ends_on < a.starts_on:
        problems.append(f"{at}缺勤结束日期 {a.ends_on} 早于开始日期 {a.starts_on}。")
    if len(a.reason) > 200:
        problems.append(f"{at}缺勤事由过长（至多 200 个字符）。")
    return problems


def org_problems(data: OrgData) -> list[str]:
    """Every problem of a whole organisation: each record's, duplicates, and parent cycles."""
    problems: list[str] = []
    units: dict[str, Unit] = {}
    for u in data.units:
        if u.code in units:
            problems.append(f"{where(u.line, f'单位 {u.code}')}单位代码“{u.code}”重复。")
        else:
            units[u.code] = u
    for u in data.units:
        problems += unit_problems(u, units)
        if in_cycle(u.code, {c: x.parent for c, x in units.items()}):
            problems.append(f"{where(u.line, f'单位 {u.code}')}单位“{u.code}”的上级关系构成循环。")
    seen: set[tuple[str, str]] = set()
    for m in data.memberships:
        problems += membership_problems(m, units)
        if (m.username, m.unit) in seen:
            problems.append(f"{where(m.line, f'成员 {m.username}')}{m.username} 在单位“{m.unit}”中重复出现。")
        seen.add((m.username, m.unit))
    for d in data.deputies:
        problems += deputy_problems(d)
    for a in data.absences:
        problems += absence_problems(a)
    return problems


def in_cycle(code: str, parents: dict[str, str | None]) -> bool:
    """Whether following the parents from `code` comes back to a unit already passed."""
    passed = {code}
    current = parents.get(code)
    while current is not None and current in parents:
        if current in passed:
            return True
        passed.add(current)
        current = parents[current]
    return False


def parse_day(text: str, at: str, problems: list[str]) -> date:
    """A YYYY-MM-DD date; a problem is added (and an arbitrary day returned) when it is not one."""
    try:
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        problems.append(f"{at}日期“{text}”无效，应为 YYYY-MM-DD，例如 2026-01-05。")
        return date.min


def _username_problems(username: str, at: str) -> list[str]:
    if USERNAME_RE.fullmatch(username or ""):
        return []
    return [f"{at}用户名“{username}”无效：须以小写字母开头，只含小写字母、数字、下划线、点或连字符。"]
