"""SQL for failed case commands and the stuck cases they make: running cases with a failure recorded
on their current version, i.e. no command has changed them since it failed."""
from __future__ import annotations

from sqlalchemy import Connection, and_, func, insert, select, update

from yijianshi.storage.tables import CommandFailure
from yijianshi.storage.tables import Case

failures = CommandFailure.__table__
cases = Case.__table__


def add(conn: Connection, values: dict) -> None:
    """Record a failure on the case's current version (read here: the failed transaction is gone).
    The same command failing the same way again on the same version counts one more attempt, so a
    scheduler retrying a broken timer every minute keeps one row."""
    found = prior(conn, values)
    if found is not None:
        write(conn, values, *found)


def prior(conn: Connection, values: dict) -> tuple[int, int | None] | None:
    """The case's current version and the row of the same failure on it, if any (None: no such case).
    A failure recorded outside a command reads this first, then writes in a short transaction."""
    version = conn.execute(select(cases.c.version).where(cases.c.id == values["case_id"])).scalar()
    if version is None:
        return None
    same = and_(failures.c.case_id == values["case_id"], failures.c.case_version == version,
                failures.c.command == values["command"], failures.c.error == values["error"])
    return version, conn.execute(select(failures.c.id).where(same).limit(1)).scalar()


def write(conn: Connection, values: dict, version: int, found: int | None) -> None:
    """One statement: a new failure row on `version`, or one more attempt on the row `found`."""
    if found is None:
        conn.execute(insert(failures), {**values, "case_version": version, "attempts": 1})
    else:
        conn.execute(update(failures).where(failures.c.id == found)
                     .values(attempts=failures.c.attempts + 1, failed_at=values["failed_at"], actor=values["actor"]))


def _since_last_change():
    return and_(failures.c.case_id == cases.c.id, failures.c.case_version == cases.c.version)


def stuck_cases(conn: Connection, limit: int = 200) -> list:
    """(id, title, definition_key, started_by, updated_at, failures, last_failed_at) of running cases
    whose commands failed since their last change, most recent failure first."""
    q = (select(cases.c.id, cases.c.title, cases.c.definition_key, cases.c.started_by, cases.c.updated_at,
                func.sum(failures.c.attempts).label("failures"), func.max(failures.c.failed_at).label("last_failed_at"))
         .select_from(cases.join(failures, _since_last_change()))
         .where(cases.c.status == "running")
         .group_by(cases.c.id, cases.c.title, cases.c.definition_key, cases.c.started_by, cases.c.updated_at)
         .order_by(func.max(failures.c.failed_at).desc(), cases.c.id).limit(limit))
    return list(conn.execute(q))


def failures_of(conn: Connection, case_id: int, limit: int = 50) -> list:
    """The case's failures, newest first."""
    return list(conn.execute(select(failures).where(failures.c.case_id == case_id)
                             .order_by(failures.c.failed_at.desc(), failures.c.id.desc()).limit(limit)))
