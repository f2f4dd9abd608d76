"""SQL for sign-in accounts. A sign-in attempt is counted, and the account locked when the count
reaches the limit, by one conditional UPDATE that also refuses a locked account: concurrent attempts
cannot all read "not locked" and then each check a password."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, case, insert, literal, or_, select, update

from yijianshi.storage.tables import UserAccount, UTCDateTime

accounts = UserAccount.__table__

_BY_NAME = select(accounts).where(accounts.c.username == bindparam("username"))


def get(conn: Connection, username: str):
    return conn.execute(_BY_NAME, {"username": username}).first()


def add(conn: Connection, values: dict) -> None:
    conn.execute(insert(accounts), values)


def change(conn: Connection, username: str, **values) -> None:
    conn.execute(update(accounts).where(accounts.c.username == username).values(**values))


def count_attempt(conn: Connection, username: str, now: datetime, lock_after: int,
                  lock_ends: Sequence[datetime]):
    """Count a sign-in attempt on an account that is not locked at `now`, before its password is
    checked; the attempt that reaches `lock_after` locks the account until lock_ends[n], n being the
    number of locks since the last success (the last entry for any more) and starts a new count.
    Returns the account row as it was before (None: no such account, or locked)."""
    c = accounts.c
    reaching = c.failed_logins + 1 >= lock_after
    ends = [literal(end, UTCDateTime) for end in lock_ends]
    lock_end = case(*((c.lockouts == n, end) for n, end in enumerate(ends[:-1])), else_=ends[-1]) \
        if len(ends) > 1 else ends[0]
    statement = (
        update(accounts)
        .where(c.username == username, or_(c.locked_until.is_(None), c.locked_until <= literal(now, UTCDateTime)))
        .values(failed_logins=case((reaching, 0), else_=c.failed_logins + 1),
                locked_until=case((reaching, lock_end), else_=c.locked_until),
                lockouts=case((reaching, c.lockouts + 1), else_=c.lockouts))
        .returning(c.username, c.password_hash, c.active)
    )
    return conn.execute(statement).first()


def record_success(conn: Connection, username: str, now: datetime, new_hash: str | None = None) -> None:
    """A correct password: the count, the locks and their doubling start again."""
    values: dict = dict(failed_logins=0, lockouts=0, locked_until=None, last_login_at=now)
    if new_hash is not None:
        values["password_hash"] = new_hash
    conn.execute(update(accounts).where(accounts.c.username == username).values(**values))


def all_accounts(conn: Connection) -> list:
    return list(conn.execute(select(accounts).order_by(accounts.c.role, accounts.c.username)))


def display_names(conn: Connection, usernames: Iterable[str]) -> dict[str, str]:
    """username -> display name for those of the given names that are accounts."""
    names = sorted(set(usernames))
    if not names:
        return {}
    q = select(accounts.c.username, accounts.c.display_name).where(accounts.c.username.in_(names))
    return {u: n for u, n in conn.execute(q)}
