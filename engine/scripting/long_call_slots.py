"""Machine-wide slots for long script calls: at most one fewer than this machine's cores (at least
one) demoted script workers burn CPU at the same time, across every process of this user, so that
however many hostile scripts arrive at once, one core always stays free of them.

A demoted call (worker_pool.py) takes a slot; when none is free its worker is stopped (SIGSTOP)
until one is, which costs it wall time but no CPU time (its limit counts CPU; its wall-time ceiling
still applies). Slots are `flock` locks on files in a directory of this user's under the system's
temporary directory: the kernel releases a lock when its holder closes it or dies, so a crashed
process never keeps a slot."""
from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path


def default_count() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


class Slot:
    """A held slot; `release` gives it back (so does the end of the process that holds it)."""

    def __init__(self, fd: int | None):
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops its lock
            self._fd = None


def shared_directory(directory: Path | None = None) -> tuple[Path, bool]:
    """The directory of this user's machine-wide script locks (also the foreground gate's), and
    whether it can be used."""
    directory = directory or Path(tempfile.gettempdir()) / f"yijianshi-long-scripts-{os.getuid()}"
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        return directory, os.access(directory, os.W_OK)
    except OSError:
        return directory, False


class LongCallSlots:
    def __init__(self, count: int | None = None, directory: Path | None = None):
        self.count = count or default_count()
        # without a usable directory there is nowhere to keep the locks: long calls are not limited
        self.directory, self.usable = shared_directory(directory)

    def try_acquire(self) -> Slot | None:
        """A free slot, or None when all are held."""
        if not self.usable:
            return Slot(None)
        for index in range(self.count):
            try:
                fd = os.open(self.directory / f"slot-{index}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                return Slot(None)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            return Slot(fd)
        return None
