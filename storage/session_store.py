"""SQL for sign-in sessions (storage/tables/accounts.py: SignInSession), found by the SHA-256 of the
session id a browser's cookie carries."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, literal, select

from yijianshi.storage.tables import SignInSession, UTCDateTime

sessions = SignInSession.__table__


def add(conn: Connection, token_hash: str, username: str, now: datetime, expires_at: datetime) -> None:
    conn.execute(insert(sessions), dict(token_hash=token_hash, username=username, created_at=now,
                                        expires_at=expires_at))


def username_of(conn: Connection, token_hash: str, now: datetime) -> str | None:
    """Whose session this is, if it exists and has not expired."""
    return conn.execute(select(sessions.c.username).where(
        sessions.c.token_hash == token_hash, sessions.c.expires_at > literal(now, UTCDateTime))).scalar()


def remove(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))


def remove_of(conn: Connection, username: str, *, keep: str | None = None) -> int:
    """End every session of an account (but `keep`); returns how many ended."""
    statement = delete(sessions).where(sessions.c.username == username)
    if keep is not None:
        statement = statement.where(sessions.c.token_hash != keep)
    return conn.execute(statement).rowcount


def remove_expired(conn: Connection, now: datetime) -> None:
    conn.execute(delete(sessions).where(sessions.c.expires_at <= literal(now, UTCDateTime)))


def count_of(conn: Connection, username: str) -> int:
    return conn.execute(select(func.count()).select_from(sessions).where(sessions.c.username == username)).scalar_one()
