"""SQL for deployed definitions and their source files."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, case, func, insert, select

from yijianshi.storage.prepared import Prepared
from yijianshi.storage.tables import Case, Definition, DefinitionFile

definitions = Definition.__table__
files = DefinitionFile.__table__
cases = Case.__table__


_LATEST_ID = (select(definitions.c.id, definitions.c.key, definitions.c.version, definitions.c.name,
                     definitions.c.content_hash)
              .where(definitions.c.key == bindparam("key")).order_by(definitions.c.version.desc())
              .limit(bindparam("one")).offset(bindparam("skip")))  # named: SQLite writes both
_LATEST = Prepared(_LATEST_ID)  # read by every case start


def latest(conn: Connection, key: str):
    """The newest version's identity (id, key, version, name, content_hash), without its spec."""
    return _LATEST.first(conn, {"key": key, "one": 1, "skip": 0})


def by_id(conn: Connection, definition_id: int):
    return conn.execute(select(definitions).where(definitions.c.id == definition_id)).first()


def by_key_version(conn: Connection, key: str, version: int):
    return conn.execute(
        select(definitions).where(definitions.c.key == key, definitions.c.version == version)
    ).first()


def insert_definition(conn: Connection, values: dict) -> int:
    return conn.execute(insert(definitions).values(**values).returning(definitions.c.id)).scalar_one()


def store_file_if_new(conn: Connection, sha256: str, filename: str, kind: str, content: str) -> None:
    exists = conn.execute(select(files.c.sha256).where(files.c.sha256 == sha256)).first()
    if not exists:
        conn.execute(insert(files).values(sha256=sha256, filename=filename, kind=kind, content=content))


def file_content(conn: Connection, sha256: str):
    return conn.execute(select(files).where(files.c.sha256 == sha256)).first()


def summary(conn: Connection) -> list:
    """Every definition version with its count of running cases, newest first per key."""
    running = (
        select(cases.c.definition_id, func.count().label("running"))
        .where(cases.c.status == "running").group_by(cases.c.definition_id).subquery()
    )
    q = (
        select(definitions.c.id, definitions.c.key, definitions.c.version, definitions.c.name,
               definitions.c.content_hash, definitions.c.deployed_at, definitions.c.deployed_by,
               func.coalesce(running.c.running, 0).label("running"))
        .outerjoin(running, running.c.definition_id == definitions.c.id)
        .order_by(definitions.c.key, definitions.c.version.desc())
    )
    return list(conn.execute(q))


def versions_with_case_counts(conn: Connection) -> list:
    """Every definition version (without its spec) with its running and total case counts, newest
    first per key: one grouped query over the indexed cases.definition_id."""
    counts = (
        select(cases.c.definition_id, func.count().label("total"),
               func.sum(case((cases.c.status == "running", 1), else_=0)).label("running"))
        .group_by(cases.c.definition_id).subquery()
    )
    q = (
        select(definitions.c.id, definitions.c.key, definitions.c.version, definitions.c.name,
               definitions.c.content_hash, definitions.c.deployed_at, definitions.c.deployed_by,
               definitions.c.files_json,
               func.coalesce(counts.c.running, 0).label("running"),
               func.coalesce(counts.c.total, 0).label("total"))
        .outerjoin(counts, counts.c.definition_id == definitions.c.id)
        .order_by(definitions.c.key, definitions.c.version.desc())
    )
    return list(conn.execute(q))


def versions_of(conn: Connection, key: str) -> list:
    """The versions of one key (id, version, name, content_hash, files_json), newest first."""
    q = (select(definitions.c.id, definitions.c.key, definitions.c.version, definitions.c.name,
                definitions.c.content_hash, definitions.c.files_json, definitions.c.deployed_at,
                definitions.c.deployed_by)
         .where(definitions.c.key == key).order_by(definitions.c.version.desc()))
    return list(conn.execute(q))


def latest_versions(conn: Connection) -> list:
    """The newest version of every key: id, key, version, content_hash, files_json."""
    newest = (select(definitions.c.key, func.max(definitions.c.version).label("version"))
              .group_by(definitions.c.key).subquery())
    q = (select(definitions.c.id, definitions.c.key, definitions.c.version, definitions.c.content_hash,
                definitions.c.files_json)
         .join(newest, (newest.c.key == definitions.c.key) & (newest.c.version == definitions.c.version))
         .order_by(definitions.c.key))
    return list(conn.execute(q))


def file_contents(conn: Connection, sha256s: list[str]) -> dict[str, Row[Any]]:
    """Stored source files by content hash (sha256 -> row with filename, kind, content)."""
    if not sha256s:
        return {}
    rows = conn.execute(select(files).where(files.c.sha256.in_(sorted(set(sha256s)))))
    return {r.sha256: r for r in rows}
