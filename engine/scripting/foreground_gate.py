"""The foreground gate: while anyone on this machine is serving a person (a web request, a case
command, a sign-in), the long script calls that were demoted (worker_pool.py) are paused; they go on
once no such work has been in progress for LINGER_S.

A demoted call already runs at SCHED_IDLE, so the kernel gives it only CPU time nobody else wants;
measured on a 2-vCPU machine that still left a request 1.5-2.5x slower at the 99th percentile while
a burner ran on the other core (shared caches, memory bandwidth, the hypervisor), and stopping and
starting it around every single request cost every request a few tenths of a millisecond instead.
So foreground work pauses the calls at once, and they stay paused through a quick succession of
requests. A paused call loses wall time, not CPU time (its limit counts CPU time); under constant
foreground work it can run into its wall-time ceiling, as a starved call always could.

Machine-wide, across every process of this user, with files in the long-call slots' directory:
- `foreground`: every process with foreground work in progress holds a shared `flock` on it, and
  sets its modification time when its work ends. Whether anyone holds it is seen by trying to take
  it exclusively for a moment.
- `running-<pid>`: one per demoted call that may run, locked exclusively by the process that waits
  for it. Foreground work beginning stops (SIGSTOP) every registered call (the directory is listed
  again only once its modification time changed); the waiting threads resume their own calls
  (SIGCONT) when the gate has been free for LINGER_S. A file whose lock is
  free belongs to a process that has died and is removed; a worker's pid cannot be reused before
  its waiting process has it reaped, and that process removes the file first, so a signal never
  reaches another process.

A thread waiting for its own script once that call has been demoted steps aside (`stepped_aside`):
a request whose script is long does not pause that script."""
from __future__ import annotations

import fcntl
import functools
import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, ParamSpec, TypeVar

from yijianshi.engine.scripting.long_call_slots import shared_directory

PREFIX = "running-"
LINGER_S = 0.01  # seconds without foreground work before paused calls go on
STABLE_NS = 3_000_000_000  # how old the directory's modification time must be for a listing to be kept


class ForegroundGate:
    def __init__(self, directory: Path, usable: bool = True):
        self.directory = directory
        self.usable = usable
        self._lock = threading.RLock()  # also guards the files (a transition probes them too)
        self._depth: dict[int, int] = {}  # pieces of foreground work in progress, per thread
        self._count = 0  # their sum: this process holds the gate while it is above zero
        self._held = False  # whether this process holds the gate file shared
        self._files: tuple[int, Path, int, int] | None = None  # pid, directory, hold and probe fds
        # The last listing of the registrations: directory, its mtime then, the names (_registered).
        self._listed: tuple[Path, int, list[str]] | None = None

    def _fds(self) -> tuple[int, int]:
        """This process's two open files of the gate: one to hold it shared, one to probe it
        exclusively (flock locks belong to an open file, so a forked child opens its own)."""
        files = self._files
        if files is None or files[0] != os.getpid() or files[1] != self.directory:
            path = self.directory / "foreground"
            hold = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                probe = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except OSError:
                os.close(hold)
                raise
            if files is not None and files[0] == os.getpid():
                os.close(files[2])
                os.close(files[3])
            files = self._files = (os.getpid(), self.directory, hold, probe)
        return files[2], files[3]

    def _try_exclusive(self) -> bool | None:
        """Take the gate exclusively for a moment: True when nobody holds it, and then the caller
        must `_end_exclusive`; False when someone does; None when it cannot be opened."""
        try:
            probe = self._fds()[1]
        except OSError:
            return None
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _end_exclusive(self) -> None:
        fcntl.flock(self._fds()[1], fcntl.LOCK_UN)

    # -- the foreground side ------------------------------------------------------------------
    @contextmanager
    def foreground(self) -> Iterator[None]:
        """Foreground work for the duration of the block (blocks may nest)."""
        token = self.enter()
        try:
            yield
        finally:
            self.leave(token)

    def enter(self) -> int:
        """Foreground work begins in this thread; returns the token to give `leave`."""
        thread = threading.get_ident()
        with self._lock:
            self._depth[thread] = self._depth.get(thread, 0) + 1
            self._add(1)
        return thread

    def leave(self, token: int) -> None:
        """The foreground work `enter` began ends (the token lets another thread end it)."""
        with self._lock:
            depth = self._depth.get(token, 0)
            if depth <= 0:
                return
            if depth == 1:
                del self._depth[token]
            else:
                self._depth[token] = depth - 1
            self._add(-1)

    @contextmanager
    def stepped_aside(self) -> Iterator[None]:
        """While this thread waits for something else (its own script), its foreground work does not
        count."""
        thread = threading.get_ident()
        with self._lock:
            depth = self._depth.pop(thread, 0)
            self._add(-depth)
        try:
            yield
        finally:
            if depth:
                with self._lock:
                    self._depth[thread] = self._depth.get(thread, 0) + depth
                    self._add(depth)

    def _add(self, change: int) -> None:
        """Change this process's count (under the lock): hold the gate and pause the running calls
        when it leaves zero, mark the time and let go when it comes back to zero."""
        before = self._count
        self._count += change
        if not self.usable or not change:
            return
        if before == 0:
            try:
                fcntl.flock(self._fds()[0], fcntl.LOCK_SH)
            except OSError:
                return
            self._held = True
            self._signal_running(signal.SIGSTOP)
        elif self._count == 0:
            if self._held:
                self._held = False
                hold = self._fds()[0]
                os.utime(hold)  # when foreground work last ended here: the paused calls wait LINGER_S more
                fcntl.flock(hold, fcntl.LOCK_UN)

    # -- the paused calls' side ---------------------------------------------------------------
    def busy(self) -> bool:
        """Whether foreground work is in progress anywhere on this machine."""
        if not self.usable:
            return False
        with self._lock:
            free = self._try_exclusive()
            if free:
                self._end_exclusive()
            return free is False

    def may_run(self) -> bool:
        """Whether a paused call may go on: no foreground work in progress on this machine, and
        none ended within the last LINGER_S (work that comes in a quick succession of pieces keeps
        the calls paused, rather than stopping and starting them between every two)."""
        if self.busy():
            return False
        try:
            ended = os.stat(self._fds()[0]).st_mtime_ns
        except OSError:
            return True
        return time.time_ns() - ended >= LINGER_S * 1e9

    def register(self, pid: int) -> int | None:
        """Mark a demoted worker as one to pause; returns the held file (for `unregister`)."""
        if not self.usable:
            return None
        path = self.directory / f"{PREFIX}{pid}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a stale file of a dead process being cleared right now: not paused then
            os.close(fd)
            return None
        return fd

    def unregister(self, pid: int, fd: int | None) -> None:
        if fd is None:
            return
        try:
            os.unlink(self.directory / f"{PREFIX}{pid}")
        except OSError:
            pass
        os.close(fd)

    def _registered(self) -> list[str]:
        """The names of the registration files (under the lock). Listing the directory costs a
        case command more than a look at its modification time, which every file made or removed
        in it sets: the last listing is used again while that time is the one it was listed at. It
        is kept only when that time was STABLE_NS old by then, so that a file made since cannot
        have been given the very same time (a file system's clock ticks in steps of milliseconds,
        on some in whole seconds)."""
        directory = self.directory
        changed = os.stat(directory).st_mtime_ns
        listed = self._listed
        if listed is not None and listed[0] == directory and listed[1] == changed:
            return listed[2]
        names = [e.name for e in os.scandir(directory) if e.name.startswith(PREFIX)]
        self._listed = (directory, changed, names) if time.time_ns() - changed > STABLE_NS else None
        return names

    def _signal_running(self, sig: int) -> None:
        try:
            names = self._registered()
        except OSError:
            return
        for name in names:
            path = self.directory / name
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue  # unregistered meanwhile
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except OSError:  # its waiting process holds it: a live registration
                    try:
                        os.kill(int(name[len(PREFIX):]), sig)
                    except (ValueError, OSError):
                        pass
                else:  # nobody holds it: left by a process that died
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
            finally:
                os.close(fd)


FOREGROUND = ForegroundGate(*shared_directory())


P = ParamSpec("P")
R = TypeVar("R")


def foreground_work(function: Callable[P, R]) -> Callable[P, R]:
    """A function whose every call is foreground work (a case command, a sign-in)."""
    @functools.wraps(function)
    def within(*args: P.args, **kwargs: P.kwargs) -> R:
        with FOREGROUND.foreground():
            return function(*args, **kwargs)
    return within
