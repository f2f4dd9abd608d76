"""SQL for sign-in accounts."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, insert, select, update

from yijianshi.storage.tables import UserAccount

accounts = UserAccount.__table__

_BY_NAME = select(accounts).where(accounts.c.username == bindparam("username"))
_FAILURE = (update(accounts).where(accounts.c.username == bindparam("who"))
            .values(failed_logins=accounts.c.failed_logins + 1).returning(accounts.c.failed_logins))


def get(conn: Connection, username: str):
    return conn.execute(_BY_NAME, {"username": username}).first()


def add(conn: Connection, values: dict) -> None:
    conn.execute(insert(accounts), values)


def change(conn: Connection, username: str, **values) -> None:
    conn.execute(update(accounts).where(accounts.c.username == username).values(**values))


def record_failure(conn: Connection, username: str) -> int:
    """Count one more failed sign-in; returns the new count of consecutive failures."""
    return conn.execute(_FAILURE, {"who": username}).scalar_one()


def all_accounts(conn: Connection) -> list:
    return list(conn.execute(select(accounts).order_by(accounts.c.role, accounts.c.username)))


def display_names(conn: Connection, usernames: Iterable[str]) -> dict[str, str]:
    """username -> display name for those of the given names that are accounts."""
    names = sorted(set(usernames))
    if not names:
        return {}
    q = select(accounts.c.username, accounts.c.display_name).where(accounts.c.username.in_(names))
    return {u: n for u, n in conn.execute(q)}
