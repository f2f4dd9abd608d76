"""SQL of in-app notifications: deliver them to people, list a person's newest, count the unread and
mark them read."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from yijianshi.storage.tables import Notification, UserAccount

notifications = Notification.__table__
accounts = UserAccount.__table__


def add(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(notifications), rows)


def delivered(conn: Connection, outbox_id: int) -> bool:
    return conn.execute(select(notifications.c.id).where(notifications.c.outbox_id == outbox_id).limit(1)).first() \
        is not None


def active_accounts(conn: Connection) -> list:
    """(username, role, departments) of every active account."""
    return list(conn.execute(select(accounts.c.username, accounts.c.role, accounts.c.departments)
                             .where(accounts.c.active.is_(True))))


def of_user(conn: Connection, username: str, limit: int = 50) -> list:
    return list(conn.execute(select(notifications).where(notifications.c.username == username)
                             .order_by(notifications.c.id.desc()).limit(limit)))


def unread_count(conn: Connection, username: str) -> int:
    return conn.execute(select(func.count()).select_from(notifications).where(
        notifications.c.username == username, notifications.c.read_at.is_(None))).scalar_one()


def mark_read(conn: Connection, username: str, at: datetime, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, every) unread notification of `username` read."""
    q = update(notifications).where(notifications.c.username == username, notifications.c.read_at.is_(None))
    if notification_id is not None:
        q = q.where(notifications.c.id == notification_id)
    return conn.execute(q.values(read_at=at)).rowcount
