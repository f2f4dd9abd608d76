"""SQL for the organisation: units, memberships, deputies (代理) and absences, read whole (an
organisation is hundreds of units, not millions) or for one person on one day."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import Connection, delete, insert, select, update

from yijianshi.storage.tables import OrgAbsence, OrgDeputy, OrgMembership, OrgUnit

units_t = OrgUnit.__table__
members_t = OrgMembership.__table__
deputies_t = OrgDeputy.__table__
absences_t = OrgAbsence.__table__


def units(conn: Connection) -> list:
    return list(conn.execute(select(units_t).order_by(units_t.c.position, units_t.c.code)))


def unit(conn: Connection, code: str):
    return conn.execute(select(units_t).where(units_t.c.code == code)).first()


def add_units(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(units_t), rows)


def change_unit(conn: Connection, code: str, **values) -> None:
    conn.execute(update(units_t).where(units_t.c.code == code).values(**values))


def memberships(conn: Connection, username: str | None = None) -> list:
    q = select(members_t).order_by(members_t.c.unit_code, members_t.c.username)
    if username is not None:
        q = q.where(members_t.c.username == username)
    return list(conn.execute(q))


def memberships_of(conn: Connection, usernames: Iterable[str]) -> list:
    names = sorted(set(usernames))
    if not names:
        return []
    return list(conn.execute(select(members_t).where(members_t.c.username.in_(names))))


def add_memberships(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(members_t), rows)


def remove_membership(conn: Connection, membership_id: int) -> int:
    return conn.execute(delete(members_t).where(members_t.c.id == membership_id)).rowcount


def deputies(conn: Connection) -> list:
    return list(conn.execute(select(deputies_t).order_by(deputies_t.c.starts_on, deputies_t.c.id)))


def principals_on(conn: Connection, deputy: str, day: date) -> list[str]:
    """The people `deputy` acts for on `day`."""
    q = select(deputies_t.c.principal).where(deputies_t.c.deputy == deputy, deputies_t.c.starts_on <= day,
                                             deputies_t.c.ends_on >= day)
    return sorted(set(conn.execute(q).scalars()))


def deputies_on(conn: Connection, principals: Iterable[str], day: date) -> dict[str, list[str]]:
    """principal -> the people acting for him on `day` (by user name)."""
    names = sorted(set(principals))
    if not names:
        return {}
    q = select(deputies_t.c.principal, deputies_t.c.deputy).where(
        deputies_t.c.principal.in_(names), deputies_t.c.starts_on <= day, deputies_t.c.ends_on >= day
    ).order_by(deputies_t.c.principal, deputies_t.c.id)
    found: dict[str, list[str]] = {}
    for principal, deputy in conn.execute(q):
        found.setdefault(principal, []).append(deputy)
    return found


def add_deputies(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(deputies_t), rows)


def remove_deputy(conn: Connection, deputy_id: int) -> int:
    return conn.execute(delete(deputies_t).where(deputies_t.c.id == deputy_id)).rowcount


def absences(conn: Connection) -> list:
    return list(conn.execute(select(absences_t).order_by(absences_t.c.starts_on, absences_t.c.id)))


def absent_on(conn: Connection, usernames: Iterable[str], day: date) -> set[str]:
    """Those of the given people who are absent on `day`."""
    names = sorted(set(usernames))
    if not names:
        return set()
    q = select(absences_t.c.username).where(absences_t.c.username.in_(names), absences_t.c.starts_on <= day,
                                            absences_t.c.ends_on >= day)
    return set(conn.execute(q).scalars())


def add_absences(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(absences_t), rows)


def remove_absence(conn: Connection, absence_id: int) -> int:
    return conn.execute(delete(absences_t).where(absences_t.c.id == absence_id)).rowcount


def clear(conn: Connection) -> None:
    """Remove the whole organisation (before an import replaces it, in the same transaction)."""
    for table in (absences_t, deputies_t, members_t):
        conn.execute(delete(table))
    # Children before parents: clear the parent links first so the foreign key never objects.
    conn.execute(update(units_t).values(parent_code=None))
    conn.execute(delete(units_t))
