"""The script workers' mother process: one fresh interpreter per parent process, started with
subprocess (single-threaded, no database connection, nothing of the parent's), that imports the
sandbox once and then forks each new script worker on request.

Starting a worker as a fresh interpreter costs a few hundred milliseconds of CPU at normal priority;
under a stream of hostile scripts (each worker killed at its CPU limit and replaced) those starts
took CPU time from web requests. A fork of the mother costs about a millisecond.

The parent talks to the mother over a Unix SOCK_SEQPACKET socket pair, one request at a time:
- ("spawn", memory_bytes, cpu_seconds, max_reply_bytes) with the worker's end of its own socket
  pair attached (SCM_RIGHTS): the mother forks, the child runs script_worker.serve on that socket;
  the answer is ("pid", pid).
- ("wait", pid): ("exit", code) once the worker has ended — code as subprocess gives it (negative:
  the signal that ended it) — else ("exit", None). The mother reaps a worker only when asked, so a
  pid the parent knows stays reserved (alive or a zombie) until the parent has waited for it: a kill
  never reaches a reused pid.
When the parent's end closes (the parent ended) the mother ends; its workers end when their own
sockets close."""
from __future__ import annotations

import gc
import os
import pickle
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

STARTUP_S = 30.0  # the mother must be ready within this (a fresh interpreter importing the sandbox)
_MESSAGE = 4096


class MotherGone(Exception):
    """The mother process could not be started or has ended."""


class Mother:
    """The parent's handle on its mother process."""

    def __init__(self) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "yijianshi.engine.scripting.worker_zygote", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, close_fds=True)
        self.sock = mine
        self.sock.settimeout(STARTUP_S)
        self._lock = threading.Lock()
        try:
            if self._receive() != ("ready",):
                raise MotherGone("unexpected greeting")
        except MotherGone:
            self.close()
            raise

    def spawn(self, child_end: socket.socket, memory_bytes: int, cpu_seconds: float,
              max_reply_bytes: int) -> int:
        """Fork a script worker that serves `child_end`; its pid."""
        with self._lock:
            self._send(("spawn", memory_bytes, cpu_seconds, max_reply_bytes), [child_end.fileno()])
            kind, pid = self._receive()
        return int(pid)

    def wait(self, pid: int) -> int | None:
        """The exit code of an ended worker (reaping it), or None while it runs (or if unknown)."""
        with self._lock:
            self._send(("wait", pid), [])
            return self._receive()[1]

    def _send(self, message: tuple, fds: list[int]) -> None:
        try:
            socket.send_fds(self.sock, [pickle.dumps(message)], fds)
        except OSError as err:
            raise MotherGone(str(err)) from err

    def _receive(self) -> tuple:
        try:
            data = self.sock.recv(_MESSAGE)
        except OSError as err:
            raise MotherGone(str(err)) from err
        if not data:
            raise MotherGone("ended")
        return pickle.loads(data)  # from our own child process, started from our own code

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        self.sock.close()  # the mother ends when it sees its socket close
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


_mother: Mother | None = None
_mother_pid = os.getpid()
_mother_lock = threading.Lock()


def mother() -> Mother:
    """This process's mother process (started on first use, and again if it has ended; a forked
    child of this process starts its own)."""
    global _mother, _mother_pid
    with _mother_lock:
        if _mother_pid != os.getpid():
            _mother, _mother_pid = None, os.getpid()  # the parent's socket is the parent's
        if _mother is None or not _mother.alive:
            if _mother is not None:
                _mother.sock.close()
            _mother = Mother()
        return _mother


def _exit_code(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _serve(control: socket.socket) -> None:
    """The mother's loop."""
    from yijianshi.engine.scripting import script_worker
    from yijianshi.engine.scripting.functions import script_functions
    from yijianshi.engine.scripting.sandbox import RestrictedEnvironment

    # What a worker sets up first, done once here so that each fork finds it done (modules imported,
    # lazy loads loaded); then the heap is frozen, so that the collector in a worker does not walk
    # (and so copy) the inherited objects: a fork is ready in about a millisecond of CPU, not 20.
    RestrictedEnvironment(script_functions(script_worker._CallClock(), script_worker._CallCalendar()))
    gc.collect()
    gc.freeze()
    control.send(pickle.dumps(("ready",)))
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(control, _MESSAGE, 1)
        except OSError:
            return
        if not data:
            return
        message = pickle.loads(data)
        if message[0] == "spawn":
            _, memory_bytes, cpu_seconds, max_reply_bytes = message
            pid = os.fork()
            if pid == 0:  # the worker
                code = 1
                try:
                    control.close()
                    script_worker.serve(Connection(fds[0]), memory_bytes, cpu_seconds, max_reply_bytes)
                    code = 0
                finally:
                    os._exit(code)
            for fd in fds:
                os.close(fd)
            control.send(pickle.dumps(("pid", pid)))
        elif message[0] == "wait":
            exit_code: int | None = None
            try:
                done, status = os.waitpid(message[1], os.WNOHANG)
                if done:
                    exit_code = _exit_code(status)
            except ChildProcessError:
                pass
            control.send(pickle.dumps(("exit", exit_code)))


if __name__ == "__main__":
    _serve(socket.socket(fileno=int(sys.argv[1])))
