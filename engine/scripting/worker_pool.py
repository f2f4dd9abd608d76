"""Script worker processes: the hard limits on what one expression or script may cost.

Each worker (script_worker.py) is a long-lived process, forked from this process's mother process
(worker_zygote.py: a fresh interpreter that has the sandbox imported; never a fork of a process
with threads and open database connections), that caps its own address space (RLIMIT_AS) and keeps
an RLIMIT_CPU backstop. The parent sends a request over a socket and waits on it: it reads the
worker's CPU clock every millisecond only until the call has used a few milliseconds of CPU (then it
demotes it to SCHED_IDLE), and after that only when the call could first have reached its next mark,
killing the worker (SIGKILL) as soon as the call has used more CPU than allowed, or after a generous
wall-time ceiling. A killed, crashed or memory-exhausted
worker is replaced by a fresh one on the next call. Calls from several threads each take a worker
of their own (up to ScriptLimits.max_workers), so one hostile script never queues the others.

Answers are unpickled with an allow-list of classes (plain data, dates and times, Decimal), so even
a worker whose sandbox were broken could not make the parent run code."""
from __future__ import annotations

import io
import os
import pickle
import select
import signal
import socket
import threading
import time
from contextlib import ExitStack
from multiprocessing.connection import Connection
from dataclasses import dataclass
from typing import Any

from yijianshi.engine.scripting.foreground_gate import FOREGROUND
from yijianshi.engine.scripting.long_call_slots import LongCallSlots, Slot
from yijianshi.engine.scripting.worker_zygote import MotherGone, mother


SPARE_WORKERS = 2  # idle workers kept started beyond those in use
STARTUP_S = 30.0  # a new worker must be ready within this
# Once demoted, a call is looked at again only when it could next have reached a mark (its slot
# threshold or its CPU limit: CPU time never runs ahead of wall time on a single-threaded worker), but
# at least this far apart; a stopped call (waiting for a slot) every STOPPED_CHECK_S.
MIN_CHECK_S = 0.005
STOPPED_CHECK_S = 0.05
# A demoted call that may run is paused while anyone on the machine is serving a person
# (foreground_gate.py), and its waiting thread resumes it once the gate has been free for a moment:
# it looks this often while the call has not run since its last look (paused, or starved), and at
# least every GATE_RUNNING_CHECK_S while it runs.
GATE_CHECK_S = 0.01
GATE_RUNNING_CHECK_S = 0.1
# A call that has used this much CPU time (ordinary scripts and expressions use 0.2-1.7 ms, the first
# calls on a fresh worker the most) is demoted to Linux's SCHED_IDLE policy for the rest of its life:
# whatever it burns up to its CPU limit then comes only from time no other process wants, so web
# requests, the scheduler and other cases' scripts are not slowed by it. Its limit counts CPU time.
# The parent checks the worker's CPU clock every DEMOTE_CHECK_S of the call's wall time.
DEMOTE_AFTER_CPU_S = 0.005
DEMOTE_CHECK_S = 0.001
# Calls that have used more CPU than this (a script doing real work takes milliseconds; the rest are
# mostly hostile) need one of this machine's long-call slots to go on (long_call_slots.py): at most
# one fewer than the cores run at once, so one core always stays free of them; more wait, stopped.
SLOT_AFTER_CPU_S = 0.1
LONG_CALLS = LongCallSlots()


@dataclass(frozen=True)
class ScriptLimits:
    """What one expression or script may cost (Settings: YIJIANSHI_SCRIPT_CPU_SECONDS,
    YIJIANSHI_SCRIPT_MEMORY_MB, YIJIANSHI_SCRIPT_WORKERS)."""

    cpu_seconds: float = 1.0
    memory_mb: int = 256
    max_workers: int = 8  # calls running at the same time; more wait for a free worker
    max_reply_bytes: int = 16 * 1024 * 1024  # a result (value or task data) larger than this is refused

    @property
    def wall_seconds(self) -> float:
        """The ceiling on wall time, for a worker that is starved or stuck rather than busy."""
        return max(10 * self.cpu_seconds, self.cpu_seconds + 10)


class _AnswerUnpickler(pickle.Unpickler):
    """Only the classes task data is made of: a worker's answer can describe data, never run code."""

    ALLOWED = {
        ("builtins", n) for n in ("set", "frozenset", "complex", "bytearray", "slice", "range")
    } | {("datetime", n) for n in ("date", "datetime", "time", "timedelta", "timezone")} | {
        ("decimal", "Decimal"), ("zoneinfo", "ZoneInfo"), ("collections", "OrderedDict"),
        ("fractions", "Fraction"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name}")


def load_answer(data: bytes) -> Any:
    return _AnswerUnpickler(io.BytesIO(data)).load()


class WorkerDied(Exception):
    """The worker was killed or ended; `reason` is "cpu", "wall" (starved or stuck), "memory",
    "crash" or "refused" (its answer held a type outside the allow-list)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ScriptWorker:
    """One worker process (forked by the mother process, worker_zygote.py) and the parent's end of
    the socket pair it talks over."""

    def __init__(self, limits: ScriptLimits):
        self.limits = limits
        mine, theirs = socket.socketpair()
        with theirs:
            for attempt in range(2):
                self.mother = mother()
                try:
                    self.pid = self.mother.spawn(theirs, limits.memory_mb * 1024 * 1024, limits.cpu_seconds,
                                                 limits.max_reply_bytes)
                    break
                except MotherGone:
                    if attempt:  # a mother started just now failed too
                        mine.close()
                        raise
        self.exit_code: int | None = None  # once the mother has reaped it
        self.conn = Connection(mine.detach())
        self.calendar: Any = None  # the calendar object this worker has (sent with an earlier call)
        self.cpu_base: float | None = None  # the worker's CPU seconds after its last answer
        self.demoted = False  # set for a call that ran long: the worker is retired after it
        self._cpu_clock = ((~self.pid) << 3) | 2  # Linux: the process CPU clock id of a pid (CPUCLOCK_SCHED)
        self.slot: Slot | None = None  # a long-call slot, held while a demoted call runs
        self.stopped = False  # a demoted call waiting for a slot (SIGSTOP)
        self.gated: int | None = None  # registered with the foreground gate (a held lock file)
        self.stalled = False  # a gated call that had not run since the look before
        self.checks = 0  # times the parent woke to look at a call in progress (for tests and figures)
        self._reply = select.poll()  # one poll object per worker: waiting costs a system call, nothing more
        self._reply.register(self.conn.fileno(), select.POLLIN)

    def _answered(self, seconds: float) -> bool:
        """Wait up to `seconds` for the worker's answer (or its end); whether one came."""
        self.checks += 1
        return bool(self._reply.poll(max(0.0, seconds) * 1000))

    def call(self, request: bytes) -> tuple:
        """Send one request and wait for its answer within the limits; raises WorkerDied."""
        with ExitStack() as aside:
            return self._call(request, aside)

    def _call(self, request: bytes, aside: ExitStack) -> tuple:
        limits = self.limits
        try:
            if not self.ready and not self.conn.poll(STARTUP_S):
                self.kill()
                raise WorkerDied("crash")
            if self.cpu_base is None:
                self.cpu_base = load_answer(self.conn.recv_bytes(4096))[3]
            started = time.monotonic()
            self.conn.send_bytes(request)
            ready = self._answered(DEMOTE_CHECK_S)
            while not ready and not self.demoted:
                used = self.cpu_time()
                if used is None or used - self.cpu_base > DEMOTE_AFTER_CPU_S:
                    self.demote()  # a long call: from now on it runs only on CPU time nobody else wants
                    # The thread waiting for it is no longer serving anyone (a short call keeps it
                    # foreground work: waiting on one does not let long calls elsewhere run).
                    aside.enter_context(FOREGROUND.stepped_aside())
                    self._gate()
                else:
                    ready = self._answered(DEMOTE_CHECK_S)  # waiting for a core, or for a reply
            ran = -1.0  # the call's CPU time at the last look
            while not ready:
                over = self._over_limit(started)
                if over is not None:
                    self.kill()
                    raise WorkerDied(over)
                used = self._used()
                self.stalled = used <= ran
                if self.slot is None and (self.stopped or used > SLOT_AFTER_CPU_S):
                    self._take_slot()
                elif not self.stopped and (self.gated is None or self.stalled):
                    self._gate()  # it has not run since the last look: paused by the gate, or starved
                ran = used
                ready = self._answered(self._next_look(started, used))
            data = self.conn.recv_bytes(limits.max_reply_bytes + 4096)
        except (EOFError, OSError) as err:
            code = self._wait(1.0)
            self.kill()
            raise WorkerDied(_death_reason(code)) from err
        finally:
            self._ungate()
            if self.slot is not None:
                self.slot.release()
                self.slot = None
        try:
            answer = load_answer(data)
        except Exception as err:  # a type outside the allow-list: this worker is not to be trusted again
            self.kill()
            raise WorkerDied("refused") from err
        self.cpu_base = answer[3]
        return answer

    def _next_look(self, started: float, used: float) -> float:
        """Seconds until the call in progress next needs looking at: when it could first reach its
        next mark (its slot threshold, then its CPU limit) or its wall-time ceiling."""
        if self.stopped:
            return STOPPED_CHECK_S
        mark = SLOT_AFTER_CPU_S if self.slot is None and used <= SLOT_AFTER_CPU_S else self.limits.cpu_seconds
        wall_left = self.limits.wall_seconds - (time.monotonic() - started)
        gate = wall_left if self.gated is None else GATE_CHECK_S if self.stalled else GATE_RUNNING_CHECK_S
        return max(MIN_CHECK_S, min(mark - used, wall_left, gate))

    @property
    def ready(self) -> bool:
        """Whether the worker has started (a new one says so, with what its start cost in CPU)."""
        try:
            if self.cpu_base is None and self.conn.poll(0):
                self.cpu_base = load_answer(self.conn.recv_bytes(4096))[3]
        except (EOFError, OSError, pickle.UnpicklingError):
            return False  # the call that takes it finds out what happened
        return self.cpu_base is not None

    def _over_limit(self, started: float) -> str | None:
        """"cpu" or "wall" when the call in progress has run out of time."""
        if time.monotonic() - started > self.limits.wall_seconds:
            return "wall"
        used = self.cpu_time()
        if used is None or self.cpu_base is None:  # no /proc: wall time is all there is to go by
            return "cpu" if time.monotonic() - started > self.limits.cpu_seconds else None
        return "cpu" if used - self.cpu_base > self.limits.cpu_seconds else None

    def cpu_time(self) -> float | None:
        """The worker's CPU seconds so far (user + system): from its CPU clock (nanoseconds), else
        from /proc (clock ticks); None where there is neither."""
        try:
            return time.clock_gettime(self._cpu_clock)
        except (AttributeError, OSError):
            pass
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _used(self) -> float:
        """CPU seconds the call in progress has used so far."""
        used = self.cpu_time()
        return 0.0 if used is None or self.cpu_base is None else used - self.cpu_base

    def _take_slot(self) -> bool:
        """Take a long-call slot for this demoted call; without one the worker is stopped until one
        is free (the caller retries). Whether it runs."""
        self.slot = LONG_CALLS.try_acquire()
        if self.slot is None and not self.stopped:
            self._ungate()  # so that the end of foreground work does not resume it
            os.kill(self.pid, signal.SIGSTOP)
            self.stopped = True
        elif self.slot is not None and self.stopped:
            self.stopped = False
            self._gate()
        return self.slot is not None

    def _gate(self) -> None:
        """Let this demoted call run, unless foreground work is in progress on the machine: then it
        stays paused until that work ends (foreground_gate.py)."""
        if self.gated is None:
            self.gated = FOREGROUND.register(self.pid)
        try:
            if self.gated is None or FOREGROUND.may_run():
                os.kill(self.pid, signal.SIGCONT)
                if self.gated is None or not FOREGROUND.busy():
                    return
                # foreground work began meanwhile: its pause may have come before this resume
            os.kill(self.pid, signal.SIGSTOP)
        except OSError:
            pass  # gone already: the call finds out

    def _ungate(self) -> None:
        if self.gated is not None:
            FOREGROUND.unregister(self.pid, self.gated)
            self.gated = None

    def demote(self) -> None:
        """Run this worker only on otherwise idle CPU from now on (it is retired after this call,
        since an unprivileged process cannot be raised back)."""
        self.demoted = True
        try:
            os.sched_setscheduler(self.pid, os.SCHED_IDLE, os.sched_param(0))
        except (AttributeError, OSError):
            try:
                os.setpriority(os.PRIO_PROCESS, self.pid, 19)
            except OSError:
                pass  # gone already: the call finds out

    def kill(self) -> None:
        self._ungate()  # before it can be reaped: its pid must never be signalled once reused
        if self.exit_code is None:
            try:
                os.kill(self.pid, signal.SIGKILL)  # not yet reaped: still this worker's pid
            except ProcessLookupError:
                pass
            self._wait(5.0)
        self.conn.close()

    def _wait(self, timeout: float) -> int | None:
        """The worker's exit code, waiting up to `timeout` seconds for it to end (None if it has not,
        or if the mother is gone, in which case nobody can reap it but init)."""
        ends = time.monotonic() + timeout
        while self.exit_code is None:
            try:
                self.exit_code = self.mother.wait(self.pid)
            except MotherGone:
                return None
            if self.exit_code is not None or time.monotonic() > ends:
                break
            time.sleep(0.005)
        return self.exit_code

    @property
    def alive(self) -> bool:
        """Whether the worker process has not ended (a zombie, not yet reaped, has ended)."""
        if self.exit_code is not None:
            return False
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
        except OSError:
            return not os.path.isdir("/proc/self")  # no /proc: the next call finds out


def _death_reason(exit_code: int | None) -> str:
    if exit_code == -signal.SIGXCPU:
        return "cpu"
    return "memory" if exit_code == -signal.SIGKILL else "crash"  # a SIGKILL not ours: the OOM killer


class ScriptWorkerPool:
    """Idle workers to reuse, at most `limits.max_workers` busy at once."""

    def __init__(self, limits: ScriptLimits):
        self.limits = limits
        self._idle: list[ScriptWorker] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(limits.max_workers)
        self.started = 0  # workers started so far (for tests and figures)

    def call(self, build_request: Any) -> tuple:
        """Run one request on a worker: `build_request(worker)` makes the request bytes (it may
        depend on what the worker already has). Returns the worker's answer; raises WorkerDied."""
        with self._slots:
            worker = self._take()
            try:
                request = build_request(worker)
            except BaseException:
                self._give_back(worker)
                raise
            try:
                answer = worker.call(request)
            except BaseException:
                worker.kill()
                raise
            if answer[0] == "error" and answer[1].get("kind") == "memory":
                worker.kill()  # it ends itself after such an answer
            elif worker.demoted:
                worker.kill()  # it cannot be raised back to the normal priority; a fresh one replaces it
            else:
                self._give_back(worker)
            return answer

    def _give_back(self, worker: ScriptWorker) -> None:
        with self._lock:
            self._idle.append(worker)

    def _take(self) -> ScriptWorker:
        """An idle worker, preferably one that has finished starting; a new one if none is idle."""
        with self._lock:
            for worker in [w for w in self._idle if not w.alive]:
                self._idle.remove(worker)
                worker.kill()
            if self._idle:
                worker = next((w for w in reversed(self._idle) if w.ready), self._idle[-1])
                self._idle.remove(worker)
            else:
                worker = self._new()
            # Keep spares starting, so that a call rarely waits for an interpreter to start (one
            # killed by a hostile script is replaced the same way).
            while len(self._idle) < SPARE_WORKERS:
                self._idle.append(self._new())
            return worker

    def _new(self) -> ScriptWorker:
        self.started += 1
        try:
            return ScriptWorker(self.limits)
        except MotherGone as err:
            raise WorkerDied("crash") from err

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


_pools: dict[ScriptLimits, ScriptWorkerPool] = {}
_pools_pid = os.getpid()
_pools_lock = threading.Lock()


def shared_pool(limits: ScriptLimits) -> ScriptWorkerPool:
    """The pool of this process for these limits (created on first use; a forked child makes its own,
    the parent's pipes being the parent's)."""
    global _pools_pid
    with _pools_lock:
        if _pools_pid != os.getpid():
            _pools.clear()
            _pools_pid = os.getpid()
        pool = _pools.get(limits)
        if pool is None:
            pool = _pools[limits] = ScriptWorkerPool(limits)
        return pool


def limit_message(reason: str, limits: ScriptLimits) -> str:
    if reason == "cpu":
        return f"脚本超出 {limits.cpu_seconds:g} 秒 CPU 时间限制，已被终止"
    if reason == "wall":
        return f"脚本运行时间过长（超过 {limits.wall_seconds:g} 秒），已被终止"
    if reason == "memory":
        return f"脚本超出内存限制（{limits.memory_mb} MB），已被终止"
    if reason == "refused":
        return "脚本的结果含有不能保存为任务数据的类型，已被拒绝"
    return "脚本进程意外退出，已被终止"

