"""SQL of the notification outbox: queue rows (at most one per dedupe key, whichever transaction
comes first), claim due rows for one dispatcher (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: a
conditional UPDATE per row, so two processes never claim the same row), record each attempt, list
and re-queue failed rows, and find open work that passed its warning or due time without an alert."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Connection, and_, bindparam, exists, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from yijianshi.storage import case_store
from yijianshi.storage.prepared import Prepared
from yijianshi.storage.tables import Case, OutboxMessage, WorkItem
from yijianshi.storage.tables.base import TaskIdText
from yijianshi.storage.tables.notifications import DEDUPED

outbox = OutboxMessage.__table__
work_items = WorkItem.__table__
cases = Case.__table__
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=timezone.utc)  # due times at or after this are sentinels (no deadline, unresolved)


# Queueing runs in every case command that notifies (storage/prepared.py): INSERT ... ON CONFLICT
# (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING (the partial unique index uq_outbox_dedupe_key),
# one statement for each dialect.
_ADD = {name: Prepared(d.insert(outbox).on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=DEDUPED))
        for name, d in (("postgresql", postgresql), ("sqlite", sqlite))}
_TITLE = Prepared(select(cases.c.title).where(cases.c.id == bindparam("cid")))


def add(conn: Connection, rows: list[dict]) -> None:
    """Queue rows (all with the same keys); one whose dedupe key is already queued is left out."""
    if rows:
        _ADD["postgresql" if conn.dialect.name == "postgresql" else "sqlite"].execute_many(conn, rows)


def _claimable(now: datetime):
    return or_(and_(outbox.c.state == "pending", outbox.c.next_attempt_at <= now),
               and_(outbox.c.state == "sending", outbox.c.claimed_until < now))  # its dispatcher died


def claim(conn: Connection, now: datetime, holder: str, until: datetime, limit: int) -> list:
    """Claim up to `limit` due rows for `holder` until `until`; returns the claimed rows."""
    q = select(outbox.c.id).where(_claimable(now)).order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        ids = list(conn.execute(q.with_for_update(skip_locked=True)).scalars())
        if ids:
            conn.execute(update(outbox).where(outbox.c.id.in_(ids))
                         .values(state="sending", claimed_by=holder, claimed_until=until))
    else:
        ids = [i for i in conn.execute(q).scalars()
               if conn.execute(update(outbox).where(outbox.c.id == i, _claimable(now))
                               .values(state="sending", claimed_by=holder, claimed_until=until)).rowcount == 1]
    if not ids:
        return []
    return list(conn.execute(select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id)))


def _mine(row_id: int, holder: str):
    return and_(outbox.c.id == row_id, outbox.c.state == "sending", outbox.c.claimed_by == holder)


def sent(conn: Connection, row_id: int, holder: str, at: datetime, note: str | None = None) -> None:
    conn.execute(update(outbox).where(_mine(row_id, holder))
                 .values(state="sent", attempts=outbox.c.attempts + 1, sent_at=at, claimed_until=None,
                         last_error=note[:1000] if note else None))


def attempt_failed(conn: Connection, row_id: int, holder: str, error: str, retry_at: datetime | None) -> None:
    """Record a failed attempt: pending again at `retry_at`, or failed for good (None)."""
    values: dict = {"attempts": outbox.c.attempts + 1, "last_error": error[:1000], "claimed_until": None}
    values.update(state="pending", next_attempt_at=retry_at) if retry_at is not None else values.update(state="failed")
    conn.execute(update(outbox).where(_mine(row_id, holder)).values(**values))


def requeue(conn: Connection, row_id: int, now: datetime) -> bool:
    """Give a failed row its attempts again (an administrator's action)."""
    return conn.execute(update(outbox).where(outbox.c.id == row_id, outbox.c.state == "failed")
                        .values(state="pending", attempts=0, next_attempt_at=now, last_error=None,
                                claimed_by=None)).rowcount == 1


def listing(conn: Connection, state: str | None = None, limit: int = 200) -> list:
    q = select(outbox)
    if state:
        q = q.where(outbox.c.state == state)
    return list(conn.execute(q.order_by(outbox.c.id.desc()).limit(limit)))


def counts(conn: Connection) -> dict[str, int]:
    return {s: n for s, n in conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state))}


def of_case(conn: Connection, case_id: int) -> list:
    return list(conn.execute(select(outbox).where(outbox.c.case_id == case_id).order_by(outbox.c.id)))


def unalerted_work(conn: Connection, level: str, now: datetime, limit: int = 500) -> list:
    """Open work items past their warning (level 'warning') or due time ('overdue') for which no
    alert of that level was queued: (id, case_id, name, groups, title, due_at)."""
    column = work_items.c.warning_at if level == "warning" else work_items.c.due_at
    key = literal(level + ":") + TaskIdText(work_items.c.id)
    q = (select(work_items.c.id, work_items.c.case_id, work_items.c.name, work_items.c.groups, cases.c.title,
                work_items.c.due_at)
         .join(cases, cases.c.id == work_items.c.case_id)
         .where(work_items.c.id.in_(case_store.open_item_ids()), column.is_not(None), column <= now, column < FAR_FUTURE,
                ~exists().where(outbox.c.dedupe_key == key))
         .order_by(column).limit(limit))
    if level == "warning":  # already overdue: the overdue alert says it all
        q = q.where(or_(work_items.c.due_at.is_(None), work_items.c.due_at > now))
    return list(conn.execute(q))


def insert_rows(conn: Connection, rows: list[dict]) -> None:
    """Plain insert (rows without a dedupe key)."""
    if rows:
        conn.execute(insert(outbox), rows)


def case_title(conn: Connection, case_id: int) -> str:
    row = _TITLE.first(conn, {"cid": case_id})
    return (row[0] if row is not None else None) or f"办件 {case_id}"


def work_item_groups(conn: Connection, work_item_id: str) -> tuple[str, str] | None:
    """(name, groups) of a work item, or None."""
    row = conn.execute(select(work_items.c.name, work_items.c.groups).where(work_items.c.id == work_item_id)).first()
    return (row.name, row.groups) if row is not None else None


def cancel_watches(conn: Connection, case_id: int, channel: str, at: datetime, note: str) -> None:
    """Cancel the pending rows of one channel of a case (a watch answered)."""
    conn.execute(update(outbox).where(outbox.c.case_id == case_id, outbox.c.channel == channel,
                                      outbox.c.state == "pending")
                 .values(state="cancelled", last_error=note[:1000], sent_at=at))
