"""The organisation as data: who belongs to which unit, who deputises for whom, who is away; and
what that means for work items.

- `groups_of`: the `unit:<code>` groups a person works for on a day — the units he is a member of,
  every unit below one he leads (role leader), and the same for each person he deputises for while
  the deputy period runs (with that person's `user:<name>` entry, so items naming him are open too).
  Account.actor adds them to the account's department/role groups (engine/access/accounts.py).
- `stand_ins`: the people a new work item is offered to instead of an absent assignee or candidate
  user — his deputies of that day (nobody else: an absent person without a deputy keeps the item).
- `OrganisationService`: the admin pages' and the import's changes, each checked by
  engine/access/org_rules.py and written in one transaction (an import replaces the whole
  organisation or, with a problem anywhere, writes nothing)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from yijianshi.engine.access.actors import personal_group
from yijianshi.engine.access.org_rules import (
    Absence, Deputy, Membership, OrgData, Unit, absence_problems, deputy_problems, in_cycle,
    membership_problems, org_problems, unit_group, unit_problems,
)
from yijianshi.engine.clock import Clock
from yijianshi.engine.errors import EngineError, NotFound
from yijianshi.storage import org_store
from yijianshi.storage.database import Database


class OrgError(EngineError):
    """An organisation change or file is refused; `problems` lists every sentence."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def groups_of(conn: Connection, username: str, day: date) -> frozenset[str]:
    """The unit groups (and deputised users' entries) `username` works for on `day`."""
    principals = org_store.principals_on(conn, username, day)
    rows = org_store.memberships_of(conn, [username, *principals])
    groups = {personal_group(p) for p in principals} | {unit_group(r.unit_code) for r in rows}
    led = {r.unit_code for r in rows if r.role == "leader"}
    if led:
        children: dict[str, list[str]] = {}
        for u in org_store.units(conn):
            if u.parent_code is not None:
                children.setdefault(u.parent_code, []).append(u.code)
        stack = list(led)
        while stack:
            code = stack.pop()
            for child in children.get(code, ()):
                if unit_group(child) not in groups:
                    groups.add(unit_group(child))
                    stack.append(child)
    return frozenset(groups)


def stand_ins(conn: Connection, usernames: list[str], day: date) -> dict[str, list[str]]:
    """absent person -> the deputies a new work item goes to instead, for those of `usernames` who
    are absent on `day` and have a deputy then."""
    absent = org_store.absent_on(conn, usernames, day)
    return {u: d for u, d in org_store.deputies_on(conn, absent, day).items() if d}


@dataclass(frozen=True)
class TreeLine:
    """A unit as the admin page lists it: indented by depth, with its members."""

    unit: Unit
    depth: int
    members: tuple[Membership, ...]
    member_ids: tuple[int, ...]


class OrganisationService:
    def __init__(self, db: Database, clock: Clock | None = None):
        self.db = db
        self.clock = clock or Clock()

    def today(self) -> date:
        return self.clock.now().date()

    def groups_of(self, username: str) -> frozenset[str]:
        with self.db.reader.connect() as conn:
            return groups_of(conn, username, self.today())

    # -- reading -------------------------------------------------------------------------------

    def load(self) -> OrgData:
        with self.db.reader.connect() as conn:
            return OrgData(
                units=[_unit(r) for r in org_store.units(conn)],
                memberships=[Membership(r.username, r.unit_code, r.role) for r in org_store.memberships(conn)],
                deputies=[Deputy(r.deputy, r.principal, r.starts_on, r.ends_on, id=r.id)
                          for r in org_store.deputies(conn)],
                absences=[Absence(r.username, r.starts_on, r.ends_on, r.reason, id=r.id)
                          for r in org_store.absences(conn)])

    def tree(self) -> list[TreeLine]:
        """Every unit, each after its parent, siblings by position and code."""
        with self.db.reader.connect() as conn:
            units = [_unit(r) for r in org_store.units(conn)]
            members = org_store.memberships(conn)
        by_unit: dict[str, list] = {}
        for m in members:
            by_unit.setdefault(m.unit_code, []).append(m)
        children: dict[str | None, list[Unit]] = {}
        codes = {u.code for u in units}
        for u in units:
            children.setdefault(u.parent if u.parent in codes else None, []).append(u)
        lines: list[TreeLine] = []

        def walk(parent: str | None, depth: int) -> None:
            for u in children.get(parent, ()):
                rows = by_unit.get(u.code, [])
                lines.append(TreeLine(u, depth, tuple(Membership(r.username, r.unit_code, r.role) for r in rows),
                                      tuple(r.id for r in rows)))
                walk(u.code, depth + 1)

        walk(None, 0)
        return lines

    # -- changing ------------------------------------------------------------------------------

    def replace(self, data: OrgData) -> None:
        """Replace the whole organisation by `data` (an import), or refuse it with every problem."""
        problems = org_problems(data)
        if problems:
            raise OrgError(problems)
        with self.db.writer.begin() as conn:
            org_store.clear(conn)
            # Parents first: a unit's row is inserted after its parent's.
            for batch in _by_depth(data.units):
                org_store.add_units(conn, [_unit_row(u) for u in batch])
            org_store.add_memberships(conn, [dict(username=m.username, unit_code=m.unit, role=m.role)
                                             for m in data.memberships])
            org_store.add_deputies(conn, [dict(deputy=d.deputy, principal=d.principal, starts_on=d.starts_on,
                                               ends_on=d.ends_on) for d in data.deputies])
            org_store.add_absences(conn, [dict(username=a.username, starts_on=a.starts_on, ends_on=a.ends_on,
                                               reason=a.reason) for a in data.absences])

    def save_unit(self, unit: Unit, *, new: bool) -> None:
        """Add a unit, or change the name, parent and position of an existing one (not its kind)."""
        with self.db.writer.begin() as conn:
            known = {u.code: u for u in map(_unit, org_store.units(conn))}
            existing = known.pop(unit.code, None)
            if new and existing is not None:
                raise OrgError([f"单位代码“{unit.code}”已存在。"])
            if not new and existing is None:
                raise NotFound(f"单位“{unit.code}”不存在。")
            if existing is not None:
                unit = Unit(unit.code, unit.name, existing.kind, unit.parent, unit.position)
            problems = unit_problems(unit, known)
            parents = {c: u.parent for c, u in known.items()} | {unit.code: unit.parent}
            if not problems and in_cycle(unit.code, parents):
                problems.append(f"单位“{unit.code}”不能隶属于它自己的下级单位。")
            if problems:
                raise OrgError(problems)
            if new:
                org_store.add_units(conn, [_unit_row(unit)])
            else:
                org_store.change_unit(conn, unit.code, name=unit.name.strip(), parent_code=unit.parent,
                                      position=unit.position)

    def add_membership(self, membership: Membership) -> None:
        try:
            with self.db.writer.begin() as conn:
                known = {u.code: u for u in map(_unit, org_store.units(conn))}
                problems = membership_problems(membership, known)
                if problems:
                    raise OrgError(problems)
                org_store.add_memberships(conn, [dict(username=membership.username, unit_code=membership.unit,
                                                      role=membership.role)])
        except IntegrityError:
            raise OrgError([f"{membership.username} 已是单位“{membership.unit}”的成员。"]) from None

    def remove_membership(self, membership_id: int) -> None:
        self._remove(org_store.remove_membership, membership_id, "成员关系")

    def add_deputy(self, deputy: Deputy) -> None:
        problems = deputy_problems(deputy)
        if problems:
            raise OrgError(problems)
        with self.db.writer.begin() as conn:
            org_store.add_deputies(conn, [dict(deputy=deputy.deputy, principal=deputy.principal,
                                               starts_on=deputy.starts_on, ends_on=deputy.ends_on)])

    def remove_deputy(self, deputy_id: int) -> None:
        self._remove(org_store.remove_deputy, deputy_id, "代理安排")

    def add_absence(self, absence: Absence) -> None:
        problems = absence_problems(absence)
        if problems:
            raise OrgError(problems)
        with self.db.writer.begin() as conn:
            org_store.add_absences(conn, [dict(username=absence.username, starts_on=absence.starts_on,
                                               ends_on=absence.ends_on, reason=absence.reason.strip())])

    def remove_absence(self, absence_id: int) -> None:
        self._remove(org_store.remove_absence, absence_id, "缺勤记录")

    def _remove(self, remove, row_id: int, what: str) -> None:
        with self.db.writer.begin() as conn:
            if not remove(conn, row_id):
                raise NotFound(f"{what}不存在（可能已被删除）。")


def _unit(row) -> Unit:
    return Unit(row.code, row.name, row.kind, row.parent_code, row.position)


def _unit_row(u: Unit) -> dict:
    return dict(code=u.code, name=u.name.strip(), kind=u.kind, parent_code=u.parent or None, position=u.position)


def _by_depth(units: list[Unit]) -> list[list[Unit]]:
    """The units in batches: the top ones, then their children, and so on (the input has no cycle)."""
    batches: list[list[Unit]] = []
    placed: set[str] = set()
    left = list(units)
    while left:
        batch = [u for u in left if not u.parent or u.parent in placed]
        if not batch:
            raise OrgError(["单位的上级关系构成循环。"])
        batches.append(batch)
        placed.update(u.code for u in batch)
        left = [u for u in left if u.code not in placed]
    return batches
