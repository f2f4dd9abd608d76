"""`yijianshi backup` / `restore`: SQLite's online backup taken while another thread keeps completing
work items is a consistent snapshot whose every case verifies and re-executes after a restore; a
restore checks the backup first and refuses a database in use or one that exists without --force;
PostgreSQL goes through pg_dump/pg_restore."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from yijianshi.cli.main import main
from yijianshi.engine.access.actors import Actor
from yijianshi.engine.ops.backup import BackupError, backup, restore
from yijianshi.engine.clock import Clock
from yijianshi.engine.errors import WorkItemUnavailable
from yijianshi.engine.runtime import Engine
from yijianshi.engine.deadlines.scheduler import LEASE_NAME
from yijianshi.storage import case_store
from yijianshi.storage import deadline_store
from yijianshi.storage.database import Database
from tests.conftest import FIXTURES, check_every_case, make_engine

CLERK = Actor("clerk", frozenset({"front_desk", "market", "health", "fire", "tax"}))


def _start_cases(engine: Engine, n: int) -> list[int]:
    engine.deploy([FIXTURES / "parallel_review.bpmn"])
    return [engine.cases.start_case("parallel_review", {"applicant": f"申请人{i}"}, CLERK).id for i in range(n)]


def _ready_items(engine: Engine) -> list:
    with engine.db.reader.connect() as conn:
        return case_store.query_work_items(conn, state="ready", limit=10_000)


def _complete(engine: Engine, item) -> None:
    with engine.db.reader.connect() as conn:
        meta = engine.definitions.by_id(conn, item.definition_id).meta_for(item.process_id, item.task_spec)
    data = {f.id: _value(f) for f in meta.form.fields if not f.readonly} if meta and meta.form else {}
    try:
        engine.cases.complete_work_item(item.id, data, CLERK)
    except WorkItemUnavailable:
        pass


def _value(field):
    checked = {"idcard": "120101199001011239", "mobile": "13800000000", "uscc": "91120221MA05TEQ0A0"}
    if field.format in checked:  # a checked number must be a valid one
        return checked[field.format]
    if field.type == "string":
        return "同" * max(1, field.minlength or 1)
    fallback = field.options[0][0] if field.options else ""
    return {"boolean": True, "long": 1, "date": "2025-10-01"}.get(field.type, fallback)


def _snapshot(engine: Engine) -> dict[int, tuple[int, str]]:
    with engine.db.reader.connect() as conn:
        return {cid: (case_store.case_head(conn, cid).version, case_store.case_head(conn, cid).status)
                for cid in case_store.all_case_ids(conn)}


def test_backup_while_work_items_are_completed_restores_every_case(tmp_path, migrated_sqlite_url):
    engine = make_engine(migrated_sqlite_url)
    _start_cases(engine, 30)
    stop, done = threading.Event(), []

    def keep_working():
        while not stop.is_set():
            items = _ready_items(engine)
            if not items:
                break
            for item in items[:5]:
                _complete(engine, item)
                done.append(item.id)

    worker = threading.Thread(target=keep_working)
    worker.start()
    copies = []
    try:
        while len(done) < 10:
            stop.wait(0.01)
        for i in range(3):  # three backups, each while the worker commits
            copies.append(backup(engine.db, tmp_path / f"b{i}.sqlite3").path)
            assert worker.is_alive()
    finally:
        stop.set()
        worker.join()
    assert len(done) > 10
    counts = []
    for i, copy in enumerate(copies):
        target = tmp_path / f"restored{i}.sqlite3"
        report = restore(f"sqlite:///{target}", copy)
        assert report.cases == 30
        restored = Engine(Database(f"sqlite:///{target}"))
        check_every_case(restored)  # every case's chain verifies and it re-executes to its state
        counts.append(sum(version for version, _ in _snapshot(restored).values()))
        restored.db.dispose()
    assert counts == sorted(counts)  # later backups hold more of the work
    check_every_case(engine)
    engine.db.dispose()


def test_restore_refuses_an_existing_database_without_force_and_one_in_use(tmp_path, migrated_sqlite_url):
    engine = make_engine(migrated_sqlite_url)
    _start_cases(engine, 3)
    copy = backup(engine.db, tmp_path / "copy.sqlite3").path
    with pytest.raises(BackupError, match="已存在"):
        backup(engine.db, copy)
    with pytest.raises(BackupError, match="已存在.*--force"):
        restore(migrated_sqlite_url, copy)

    engine.cases.start_case("parallel_review", {}, CLERK)  # the app holds the database open
    with pytest.raises(BackupError, match="正被其他进程打开"):
        restore(migrated_sqlite_url, copy, force=True)

    now = Clock().now()
    with engine.db.writer.begin() as conn:  # a scheduler is running against it (maybe elsewhere)
        deadline_store.try_lead(conn, LEASE_NAME, "host:42", now, now.replace(year=now.year + 1))
    engine.db.dispose()
    with pytest.raises(BackupError, match="host:42"):
        restore(migrated_sqlite_url, copy, force=True)
    scheduler_db = Database(migrated_sqlite_url)
    with scheduler_db.writer.begin() as conn:  # it stops
        deadline_store.release(conn, LEASE_NAME, "host:42")
    scheduler_db.dispose()
    unchanged = Engine(Database(migrated_sqlite_url))
    assert len(_snapshot(unchanged)) == 4  # refusals changed nothing
    unchanged.db.dispose()

    report = restore(migrated_sqlite_url, copy, force=True, reexecute=True)
    assert report.cases == 3 and "3 个案件重新执行结果与存储状态一致" in report.lines()
    after = Engine(Database(migrated_sqlite_url))
    assert len(_snapshot(after)) == 3
    check_every_case(after)
    after.db.dispose()


def test_restore_checks_the_backup_first_and_says_what_is_wrong(tmp_path, migrated_sqlite_url):
    engine = make_engine(migrated_sqlite_url)
    (case_id,) = _start_cases(engine, 1)
    good = backup(engine.db, tmp_path / "good.sqlite3").path
    engine.db.dispose()
    target = f"sqlite:///{tmp_path / 'target.sqlite3'}"

    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello")
    with pytest.raises(BackupError, match="不是 SQLite 数据库文件"):
        restore(target, not_db)
    with pytest.raises(BackupError, match="不存在"):
        restore(target, tmp_path / "missing.sqlite3")

    damaged = tmp_path / "damaged.sqlite3"
    data = bytearray(good.read_bytes())
    page = 4096
    for offset in range(page + 200, len(data), page):  # scribble over every page but the header
        data[offset:offset + 64] = b"\xff" * 64
    damaged.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="已损坏|完整性"):
        restore(target, damaged)

    foreign = tmp_path / "foreign.sqlite3"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE things (x)")
    conn.commit()
    conn.close()
    with pytest.raises(BackupError, match="alembic_version"):
        restore(target, foreign)

    future = tmp_path / "future.sqlite3"
    future.write_bytes(good.read_bytes())
    conn = sqlite3.connect(future)
    conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.commit()
    conn.close()
    with pytest.raises(BackupError, match="9999_from_the_future.*不认识"):
        restore(target, future)

    tampered = tmp_path / "tampered.sqlite3"
    tampered.write_bytes(good.read_bytes())
    conn = sqlite3.connect(tampered)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"):
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.execute("UPDATE events SET data = '{\"forged\": true}' WHERE seq = 1")
    conn.commit()
    conn.close()
    with pytest.raises(BackupError, match=rf"1 个案件的历史链不完整.*{case_id}"):
        restore(target, tampered)
    assert not (tmp_path / "target.sqlite3").exists() or \
        (tmp_path / "target.sqlite3").stat().st_size == 0  # nothing restored from a bad backup

    assert restore(target, good).cases == 1


def test_backup_and_restore_commands(tmp_path, migrated_sqlite_url, capsys):
    engine = make_engine(migrated_sqlite_url)
    _start_cases(engine, 2)
    engine.db.dispose()
    folder = tmp_path / "backups"
    folder.mkdir()
    assert main(["--db", migrated_sqlite_url, "backup", str(folder)]) == 0
    (made,) = folder.iterdir()
    assert made.name.startswith("yijianshi-") and made.suffix == ".sqlite3"
    out = capsys.readouterr().out
    assert f"已备份到 {made}" in out and "包含 2 个案件" in out

    target = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    assert main(["--db", target, "restore", str(made)]) == 0
    assert "2 个案件，历史链全部完整" in capsys.readouterr().out
    assert main(["--db", target, "restore", str(made)]) == 1
    refused = capsys.readouterr().err
    assert "已存在" in refused and "--force" in refused
    assert main(["--db", target, "restore", "--force", str(made)]) == 0
    restored = Engine(Database(target))
    check_every_case(restored)
    restored.db.dispose()


def test_postgresql_backup_and_restore_with_pg_dump(tmp_path, pg_cluster, migrated_pg_url, sqlite_url):
    engine = make_engine(migrated_pg_url)
    ids = _start_cases(engine, 4)
    for item in _ready_items(engine)[:3]:
        _complete(engine, item)
    before = _snapshot(engine)
    report = backup(engine.db, tmp_path / "pg.dump")
    assert report.kind == "pg_dump" and report.cases == 4
    engine.db.dispose()

    with pytest.raises(BackupError, match="pg_dump 归档"):
        restore(sqlite_url, report.path)
    name = "restored_" + Path(tmp_path).name.replace("-", "_")[-20:].lower()
    target = pg_cluster.create_database(name)
    try:
        restored_report = restore(target, report.path)
        assert restored_report.cases == 4
        restored = Engine(Database(target))
        assert _snapshot(restored) == before and sorted(before) == ids
        check_every_case(restored)
        with pytest.raises(BackupError, match="已有数据.*--force"):
            restore(target, report.path)
        with pytest.raises(BackupError, match="其他连接"):  # our engine is still connected
            restore(target, report.path, force=True)
        restored.db.dispose()
        assert restore(target, report.path, force=True).cases == 4
    finally:
        pg_cluster.drop_database(name)
    not_dump = tmp_path / "x.sqlite3"
    sqlite3.connect(not_dump).close()
    not_dump.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with pytest.raises(BackupError, match="不是 pg_dump"):
        restore(migrated_pg_url, not_dump)
