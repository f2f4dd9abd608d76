"""SQLite WAL checkpoints off the command path. By default SQLite copies the write-ahead log back
into the database file inside the COMMIT that takes the log past 1,000 pages, so every ~45th case
command paid for a checkpoint (about half of all COMMIT time, bench/engine_throughput.py). Here a
thread of the process runs a PASSIVE checkpoint shortly after commits instead (`DELAY_S` after the
first commit since the last one, so a busy minute costs a checkpoint every few tens of
milliseconds and an idle one nothing); the COMMIT only writes its own pages to the log.

Durability under `synchronous=NORMAL`: a commit reaches the disk (fsync) at the next checkpoint.
Before, that was whenever the log next passed 1,000 pages — at a quiet counter, minutes later or at
shutdown; now it is within `DELAY_S` plus the checkpoint's own time of any commit. The COMMIT path
keeps a backstop (`BACKSTOP_PAGES`) in case this thread falls behind or is not running (a CLI
command, or another process without one): past it a COMMIT checkpoints as before.

PASSIVE never waits for readers or writers, so commands never wait on it; several processes on one
file each run their own and SQLite lets one at a time proceed (the others find it busy).

A fork (multiprocessing, a test's worker processes) waits until no checkpoint is running: a child
forked while this thread was inside SQLite would inherit SQLite's mutexes locked by a thread it does
not have, and hang at its first connection. In the child the thread and its events are made anew on
the first commit."""
from __future__ import annotations

import logging
import sqlite3
import os
import threading
import weakref
from pathlib import Path

log = logging.getLogger("yijianshi.storage")

DELAY_S = 0.05
BACKSTOP_PAGES = 20_000  # ~80 MB of log with 4 KiB pages: a COMMIT checkpoints only past this


# Held while a checkpoint runs; os.fork waits for it (see the module's docstring).
_FORK_GUARD = threading.Lock()
_LIVE: weakref.WeakSet[WalCheckpointer] = weakref.WeakSet()


class WalCheckpointer:
    """One thread per database file and process: `notify()` after a commit; the thread checkpoints
    `delay_s` later, all commits of that interval together."""

    def __init__(self, path: str | Path, delay_s: float = DELAY_S):
        self.path = Path(path)
        self.delay_s = delay_s
        self.checkpoints = 0  # PASSIVE checkpoints run, for tests and diagnostics
        self._thread: threading.Thread | None = None
        self._closed = False
        self._start()
        _LIVE.add(self)

    def _start(self) -> None:
        self._due = threading.Event()
        self._stopping = threading.Event()  # set by stop(): also cuts the delay short
        self._thread = threading.Thread(target=self._loop, name="sqlite-wal-checkpoint", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """A commit was written to the log (called on every COMMIT: one Event.set)."""
        if self._thread is None and not self._closed:  # a forked child's first commit
            self._start()
        self._due.set()

    def stop(self) -> None:
        """Checkpoint what is left and end the thread."""
        _LIVE.discard(self)
        self._closed = True
        if self._thread is None:  # a forked child that never committed: nothing of its own to do
            return
        self._stopping.set()
        self._due.set()
        self._thread.join(timeout=10)
        self._thread = None

    def _forked(self) -> None:
        """In a forked child: the parent's thread is not there, and its events may be mid-use."""
        self._thread = None

    def _loop(self) -> None:
        while True:
            self._due.wait()
            self._stopping.wait(self.delay_s)  # the commits of this interval share one checkpoint
            self._due.clear()
            self._checkpoint()
            if self._stopping.is_set():
                return

    def _checkpoint(self) -> None:
        # A connection of its own each time (~0.1 ms): nothing holds the file between checkpoints, so
        # a restore that replaces it (engine/ops/backup.py) meets no stale handle. mode=rw: a file
        # that was removed (a test's temporary folder) is not created again.
        with _FORK_GUARD:
            try:
                conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None,
                                       timeout=0)
            except sqlite3.Error:
                return
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self.checkpoints += 1
            except sqlite3.Error as err:  # busy: the next commit tries again
                log.debug("WAL checkpoint skipped: %s", err)
            finally:
                conn.close()


def _after_fork_in_child() -> None:
    global _FORK_GUARD
    _FORK_GUARD = threading.Lock()
    for checkpointer in list(_LIVE):
        checkpointer._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=lambda: _FORK_GUARD.acquire(), after_in_parent=lambda: _FORK_GUARD.release(),
                        after_in_child=_after_fork_in_child)
