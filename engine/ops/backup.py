"""Backing up and restoring the whole database, checked: a restore first proves the backup is sound
(SQLite's integrity check, a schema version this program knows, every case's history chain intact)
and refuses to replace a database that is in use or that exists, unless told to (`force`).

SQLite: the online backup API, consistent while the application writes. PostgreSQL: pg_dump's
custom format and pg_restore in one transaction (the procedure is in the README)."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from alembic.script import ScriptDirectory

from yijianshi.engine.clock import Clock, to_utc
from yijianshi.engine.deadlines.lease import LEASE_NAME
from yijianshi.engine.errors import EngineError
from yijianshi.storage import backup_files as files
from yijianshi.storage import case_store
from yijianshi.storage import deadline_store
from yijianshi.storage.database import Database


class BackupError(EngineError):
    """The backup or restore was refused or failed; the message says what is wrong and what to do."""


@dataclass
class BackupReport:
    path: Path
    kind: str  # "sqlite" | "pg_dump"
    size: int
    cases: int | None = None
    revision: str | None = None

    def lines(self) -> list[str]:
        what = "SQLite 数据库副本" if self.kind == "sqlite" else "pg_dump 归档（custom 格式）"
        out = [f"已备份到 {self.path}（{what}，{self.size / 1024:.0f} KB）"]
        if self.cases is not None:
            out.append(f"包含 {self.cases} 个案件，数据库结构版本 {self.revision}")
        return out


@dataclass
class RestoreReport:
    target: str
    cases: int = 0
    revision: str | None = None
    upgraded_from: str | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"已恢复到 {self.target}：{self.cases} 个案件，历史链全部完整"]
        if self.upgraded_from:
            out.append(f"数据库结构已从版本 {self.upgraded_from} 升级到 {self.revision}")
        return out + self.notes


def _revisions(db: Database) -> tuple[str, set[str]]:
    script = ScriptDirectory.from_config(db.alembic_config())
    head = script.get_current_head()
    if head is None:
        raise BackupError("本程序的数据库迁移脚本缺失，无法核对备份的数据库结构版本。")
    return head, {r.revision for r in script.walk_revisions()}


def _scheduler_running(db: Database, clock: Clock) -> str | None:
    """The holder of an unexpired scheduler lease on this database, if any (a sign it is in use)."""
    try:
        with db.reader.connect() as conn:
            lease = deadline_store.holder_of(conn, LEASE_NAME)
    except Exception:  # no lease table: not one of our databases, or an empty one
        return None
    if lease is not None and lease.expires_at > to_utc(clock.now()):
        return lease.holder
    return None


# -- backup --------------------------------------------------------------------------------------

def backup(db: Database, dest: Path, *, overwrite: bool = False) -> BackupReport:
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / default_backup_name(Clock().now(), db.url)
    if dest.exists() and not overwrite:
        raise BackupError(f"{dest} 已存在：请换一个文件名，或加 --force 覆盖。")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    temp = Path(temp_name)
    try:
        source = files.sqlite_path(db.url)
        if source is not None:
            if not source.exists():
                raise BackupError(f"数据库文件 {source} 不存在，没有可备份的内容。")
            files.copy_sqlite(source, temp)
            problems = files.integrity_problems(temp)
            if problems:
                raise BackupError(f"备份副本未通过完整性检查：{'; '.join(problems[:5])}")
            report = _sqlite_report(temp, dest)
        elif db.url.get_backend_name() == "postgresql":
            files.pg_dump(db.url, temp)
            with db.reader.connect() as conn:
                cases = len(case_store.all_case_ids(conn))
                revision = files.schema_revision(conn)
            report = BackupReport(dest, "pg_dump", temp.stat().st_size, cases, revision)
        else:
            raise BackupError(f"不支持备份 {db.url.get_backend_name()} 数据库（只支持 SQLite 和 PostgreSQL）。")
        os.replace(temp, dest)
        return report
    except files.BackupToolError as err:
        raise BackupError(str(err)) from None
    finally:
        temp.unlink(missing_ok=True)


def _sqlite_report(copy: Path, dest: Path) -> BackupReport:
    return BackupReport(dest, "sqlite", copy.stat().st_size, files.count_cases_sqlite(copy),
                        files.schema_revision_sqlite(copy))


# -- restore -------------------------------------------------------------------------------------

def restore(url: str, src: Path, *, force: bool = False, reexecute: bool = False,
            clock: Clock | None = None) -> RestoreReport:
    """Restore the backup `src` into the database at `url`."""
    src = Path(src)
    clock = clock or Clock()
    if not src.is_file():
        raise BackupError(f"备份文件 {src} 不存在。")
    kind = files.file_kind(src)
    target = Database(url)
    try:
        if files.sqlite_path(target.url) is not None:
            if kind != "sqlite":
                raise BackupError(f"{src} 不是 SQLite 数据库文件，不能恢复到 SQLite 数据库"
                                  + ("（它是 pg_dump 归档，请恢复到 PostgreSQL 数据库）。" if kind == "pg_dump" else "。"))
            return _restore_sqlite(target, src, force, reexecute, clock)
        if target.url.get_backend_name() == "postgresql":
            if kind != "pg_dump":
                raise BackupError(f"{src} 不是 pg_dump 的 custom 格式归档（用 yijianshi backup 或 pg_dump -Fc 生成），"
                                  "不能恢复到 PostgreSQL 数据库。")
            return _restore_postgres(target, src, force, reexecute, clock)
        raise BackupError(f"不支持恢复到 {target.url.get_backend_name()} 数据库。")
    except files.BackupToolError as err:
        raise BackupError(str(err)) from None
    finally:
        target.dispose()


def _refuse_if_in_use(db: Database, clock: Clock) -> None:
    holder = _scheduler_running(db, clock)
    if holder:
        raise BackupError(f"目标数据库正在使用中：期限调度器 {holder} 持有租约。请先停止网页服务和调度器，再恢复。")


def _restore_sqlite(target: Database, src: Path, force: bool, reexecute: bool, clock: Clock) -> RestoreReport:
    path = files.sqlite_path(target.url)
    if path is None:
        raise BackupError("不能恢复到内存中的 SQLite 数据库。")
    exists = path.exists() and path.stat().st_size > 0
    if exists and not force:
        raise BackupError(f"目标数据库 {path} 已存在。恢复会用备份替换其中的全部数据；确认后请加 --force。")
    if exists:
        _refuse_if_in_use(target, clock)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.restore.", dir=path.parent)
    os.close(fd)
    temp = Path(temp_name)
    try:
        problems = files.integrity_problems(src)
        if problems:
            raise BackupError(f"备份文件 {src} 已损坏（SQLite 完整性检查：{'; '.join(problems[:5])}），不能恢复。")
        files.copy_sqlite(src, temp)
        report = _check_restored(Database(f"sqlite:///{temp}"), str(path), reexecute, clock,
                                 files.schema_revision_sqlite(temp))
        target.dispose()
        if exists and files.sqlite_in_use(path):
            raise BackupError(f"目标数据库 {path} 正被其他进程打开（网页服务、调度器或命令行）。请先停止它们，再恢复。")
        files.replace_sqlite(temp, path)
        return report
    finally:
        temp.unlink(missing_ok=True)
        files.remove_sidecars(temp)


def _restore_postgres(target: Database, src: Path, force: bool, reexecute: bool,
                      clock: Clock) -> RestoreReport:
    tables = files.pg_archive_tables(src)
    missing = {"alembic_version", "cases", "events"} - set(tables)
    if missing:
        raise BackupError(f"{src} 不是 yijianshi 数据库的备份（缺少表 {', '.join(sorted(missing))}）。")
    with target.reader.connect() as conn:
        exists = files.has_tables(conn)
        others = files.pg_other_sessions(conn)
    if exists and not force:
        raise BackupError(f"目标数据库 {target.url.database} 已有数据。恢复会用备份替换其中的全部数据；确认后请加 --force。")
    _refuse_if_in_use(target, clock)
    if others:
        raise BackupError(f"目标数据库 {target.url.database} 还有 {others} 个其他连接（网页服务、调度器或控制台）。"
                          "请先停止它们，再恢复。")
    target.dispose()
    files.pg_restore(target.url, src)
    with target.reader.connect() as conn:
        revision = files.schema_revision(conn)
    try:
        return _check_restored(target, target.url.render_as_string(hide_password=True), reexecute, clock,
                               revision, dispose=False)
    except BackupError as err:
        # pg_restore has run: say so, rather than the "not restored" of a check made beforehand.
        raise BackupError(f"pg_restore 已完成，但核验恢复后的数据库时发现问题：{err}") from None


def _check_restored(db: Database, target: str, reexecute: bool, clock: Clock, revision: str | None, *,
                    dispose: bool = True) -> RestoreReport:
    """Schema version known (upgraded when older), every history chain intact, optionally every case
    re-executed. Raises BackupError saying which cases are broken."""
    from yijianshi.engine.runtime import Engine

    try:
        head, known = _revisions(db)
        if revision is None:
            raise BackupError("备份中没有数据库结构版本（alembic_version），它不是 yijianshi 的数据库备份。")
        if revision not in known:
            raise BackupError(f"备份的数据库结构版本 {revision} 是本程序不认识的（本程序最新为 {head}）："
                              "它可能来自更新版本的 yijianshi，请用那个版本恢复。")
        report = RestoreReport(target, revision=head)
        if revision != head:
            db.upgrade()
            report.upgraded_from = revision
        engine = Engine(db, clock)
        broken = [r for r in engine.verify() if not r.ok]
        if broken:
            listed = "；".join(str(r) for r in broken[:10])
            raise BackupError(f"备份中有 {len(broken)} 个案件的历史链不完整，未恢复：{listed}")
        with db.reader.connect() as conn:
            ids = case_store.all_case_ids(conn)
        report.cases = len(ids)
        if reexecute:
            failed = [rep for rep in map(engine.reexecute, ids) if not rep.ok]
            if failed:
                raise BackupError(f"备份中有 {len(failed)} 个案件重新执行的结果与存储状态不一致，未恢复："
                                  + "；".join(str(r) for r in failed[:10]))
            report.notes.append(f"{len(ids)} 个案件重新执行结果与存储状态一致")
        return report
    finally:
        if dispose:
            db.dispose()


def default_backup_name(now: datetime, url) -> str:
    suffix = ".sqlite3" if files.sqlite_path(url) is not None else ".pgdump"
    return f"yijianshi-{now.strftime('%Y%m%d-%H%M%S')}{suffix}"
