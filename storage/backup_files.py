"""Backup files of the database: SQLite through its online backup API (a consistent snapshot taken
while the application keeps writing), PostgreSQL through pg_dump/pg_restore.

Nothing here knows about cases; engine/backup.py decides what a good backup is."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

SQLITE_HEADER = b"SQLite format 3\x00"
PG_ARCHIVE_HEADER = b"PGDMP"


class BackupToolError(RuntimeError):
    """A backup tool (sqlite3, pg_dump, pg_restore) failed; the message says how."""


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def file_kind(path: Path) -> str | None:
    """"sqlite", "pg_dump" (custom-format archive) or None, by the first bytes of the file."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(SQLITE_HEADER):
        return "sqlite"
    if head.startswith(PG_ARCHIVE_HEADER):
        return "pg_dump"
    return None


def copy_sqlite(source: Path, dest: Path) -> None:
    """Copy a SQLite database with the online backup API. One step copies every page inside one read
    transaction, so the copy is the database as of one commit even while other connections write
    (in WAL mode they are not blocked). The copy is made a self-contained single file."""
    src = sqlite3.connect(source, timeout=60)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
            out.execute("PRAGMA journal_mode=DELETE")
        finally:
            out.close()
    finally:
        src.close()


def integrity_problems(path: Path) -> list[str]:
    """SQLite's own integrity check of a file: empty when the file is sound."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        # A damaged file's messages may quote bytes that are not UTF-8.
        conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except (sqlite3.DatabaseError, UnicodeDecodeError) as err:  # the error text itself may not decode
        return [str(err)]
    messages = [r[0] for r in rows]
    return [] if messages == ["ok"] else messages


def schema_revision_sqlite(path: Path) -> str | None:
    """The Alembic revision stamped in a SQLite file, or None when there is none."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()
    return row[0] if row else None


def count_cases_sqlite(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    finally:
        conn.close()


def sqlite_in_use(path: Path) -> bool:
    """True when another connection has the (WAL-mode) database open: leaving WAL mode needs the
    database to ourselves, so a refusal means someone else is there. Leaves the file in rollback
    mode when nobody is (the caller is about to replace it)."""
    conn = sqlite3.connect(path, timeout=0)
    try:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            conn.execute("BEGIN EXCLUSIVE")
            conn.rollback()
            return False
        conn.execute("PRAGMA journal_mode=DELETE")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def replace_sqlite(new: Path, target: Path) -> None:
    """Move a checked copy into place; the old file's WAL and shared-memory files go first, or SQLite
    would apply the old log to the new file."""
    remove_sidecars(target)
    os.replace(new, target)


def remove_sidecars(path: Path) -> None:
    """The WAL, shared-memory and rollback-journal files SQLite keeps beside a database file."""
    for suffix in ("-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


# -- PostgreSQL ----------------------------------------------------------------------------------

def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupToolError(f"找不到 {name}：请安装与服务器版本一致的 PostgreSQL 客户端工具，并确保它在 PATH 中。")
    return found


def _libpq(url: str | URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password (kept out of the process list) and the environment
    that carries it."""
    url = make_url(url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess:
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupToolError(f"{what}失败：{' / '.join(detail[-5:]) or f'退出码 {result.returncode}'}")
    return result


def pg_dump(url: str | URL, dest: Path) -> None:
    """pg_dump in its custom format (compressed, restorable table by table with pg_restore). pg_dump
    works in one repeatable-read snapshot, so the dump is consistent while the application writes."""
    uri, env = _libpq(url)
    _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={dest}",
          f"--dbname={uri}"], env, "pg_dump ")


def pg_archive_tables(src: Path) -> list[str]:
    """The tables a pg_dump archive holds (pg_restore --list); raises if it is not a readable archive."""
    result = _run([_pg_tool("pg_restore"), "--list", str(src)], dict(os.environ), "读取 pg_dump 归档")
    tables = []
    for line in result.stdout.splitlines():
        parts = line.split()
        # "215; 1259 16390 TABLE public cases postgres"
        if len(parts) >= 6 and parts[3] == "TABLE" and not line.startswith(";"):
            tables.append(parts[5])
    return tables


def pg_restore(url: str | URL, src: Path) -> None:
    """Replace the database's objects by those of the archive, in one transaction (all or nothing)."""
    uri, env = _libpq(url)
    _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
          "--single-transaction", "--exit-on-error", f"--dbname={uri}", str(src)], env, "pg_restore ")


def pg_other_sessions(conn) -> int:
    """Connections to this database other than ours (the application, a scheduler, a console)."""
    return int(conn.exec_driver_sql(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).scalar_one())


def schema_revision(conn) -> str | None:
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def has_tables(conn) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(conn).get_table_names())
