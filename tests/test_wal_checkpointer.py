"""SQLite WAL checkpoints run in a thread shortly after commits, not inside a COMMIT
(storage/wal_checkpointer.py)."""
from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from yijianshi.storage.database import Database
from yijianshi.storage.wal_checkpointer import WalCheckpointer

pytestmark = pytest.mark.unit

ROW = "x" * 3000  # about one page a row: the log grows fast


def _in_main_file(path: Path, tmp_path: Path) -> int:
    """Rows of `t` in the database file alone, without its write-ahead log: what a checkpoint has
    copied back."""
    copy = tmp_path / "main-only.sqlite3"
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as conn:
        try:
            return conn.execute("SELECT count(*) FROM t").fetchone()[0]
        except sqlite3.OperationalError:  # the CREATE TABLE itself is still only in the log
            return 0


def _write(db: Database, rows: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)"))
    for _ in range(rows):  # one commit a row, as case commands do
        with db.writer.begin() as conn:
            conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": ROW})


def _wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_commits_reach_the_database_file_shortly_after_through_the_thread(tmp_path):
    path = tmp_path / "a folder #1" / "db%.sqlite3"  # characters a file: URI must escape
    path.parent.mkdir()
    db = Database(f"sqlite:///{path}")
    try:
        assert db.checkpointer is not None
        _write(db, 20)
        assert _wait_for(lambda: _in_main_file(path, tmp_path) == 20)
        # the thread counts a checkpoint after SQLite returns from it: the pages can reach the file
        # a moment before the count does (a CI run once read 0 in that gap)
        assert _wait_for(lambda: db.checkpointer.checkpoints >= 1)
    finally:
        db.dispose()


def test_a_commit_past_a_thousand_log_pages_does_not_checkpoint_itself(tmp_path):
    """SQLite's own default checkpoints inside the COMMIT that takes the log past 1,000 pages; with
    the thread held back, 1,500 pages of commits stay in the log."""
    path = tmp_path / "db.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.checkpointer.delay_s = 60  # the thread waits: only a COMMIT could checkpoint now
    try:
        _write(db, 1500)
        assert _in_main_file(path, tmp_path) == 0
    finally:
        db.checkpointer.delay_s = 0
        db.dispose()
    assert _in_main_file(path, tmp_path) == 1500  # stopping checkpoints what was left


def test_without_the_thread_the_commit_checkpoints_as_sqlite_does(tmp_path):
    path = tmp_path / "db.sqlite3"
    db = Database(f"sqlite:///{path}", background_checkpoint=False)
    try:
        assert db.checkpointer is None
        _write(db, 1500)
        assert _in_main_file(path, tmp_path) >= 900  # checkpointed by COMMITs along the way
    finally:
        db.dispose()


def test_a_database_file_that_is_gone_is_not_created_again(tmp_path):
    path = tmp_path / "gone.sqlite3"
    checkpointer = WalCheckpointer(path, delay_s=0)
    checkpointer.notify()
    checkpointer.stop()
    assert not path.exists()
    assert checkpointer.checkpoints == 0


def test_an_in_memory_database_has_no_thread():
    db = Database("sqlite://")
    try:
        assert db.checkpointer is None
    finally:
        db.dispose()


def test_stopping_does_not_wait_out_the_delay(tmp_path):
    """Database.dispose() stops the thread at once, still checkpointing what is left (a suite of tests
    disposes thousands of databases)."""
    path = tmp_path / "db.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.checkpointer.delay_s = 30
    _write(db, 3)
    started = time.monotonic()
    db.dispose()
    assert time.monotonic() - started < 5
    assert _in_main_file(path, tmp_path) == 3


def test_a_fork_waits_for_a_running_checkpoint():
    """A child forked while the thread is inside SQLite would inherit SQLite's mutexes locked by a
    thread it does not have (and hang at its first connection): os.fork waits for the checkpoint."""
    from yijianshi.storage import wal_checkpointer

    held = threading.Event()

    def checkpoint_running():  # as WalCheckpointer._checkpoint holds it
        with wal_checkpointer._FORK_GUARD:
            held.set()
            time.sleep(0.3)

    runner = threading.Thread(target=checkpoint_running)
    runner.start()
    held.wait(5)
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    waited = time.monotonic() - started
    os.waitpid(pid, 0)
    runner.join()
    assert waited >= 0.2


def test_a_forked_child_checkpoints_with_a_thread_of_its_own(tmp_path):
    path = tmp_path / "db.sqlite3"
    db = Database(f"sqlite:///{path}")
    try:
        _write(db, 2)
        checkpointer = db.checkpointer
        pid = os.fork()
        if pid == 0:  # the parent's thread is not here: the first commit starts one
            before = checkpointer.checkpoints
            checkpointer.notify()
            ok = _wait_for(lambda: checkpointer.checkpoints > before)
            os._exit(0 if ok and checkpointer._thread is not None else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        db.dispose()
