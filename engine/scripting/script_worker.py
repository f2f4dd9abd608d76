"""The inside of a script worker process: it caps its own memory (RLIMIT_AS) and CPU time (RLIMIT_CPU,
a backstop; the parent kills it first, see worker_pool.py), then answers requests to evaluate an
expression or run a script under RestrictedPython (sandbox.py) until its pipe closes.

A request is a pickle of (mode, source, context, external, now, calendar) from the trusted parent;
`calendar` is None when the worker already has the one in force. The answer is a pickle of
("ok", value or new task data, missed, cpu) or ("error", error dict, missed, cpu), where `missed` tells
that a calendar function needed a year the calendar lacks (the parent reloads its calendar and asks
again) and `cpu` is the CPU time the worker has used so far (the parent's base for the next call).
A worker that ran out of memory answers, then exits, so that the next call gets a fresh one.
Started by worker_pool.py as `python -m yijianshi.engine.scripting.script_worker FD MEMORY CPU REPLY`
(FD: its end of a socket pair). When ready it sends ("ready", None, False, cpu)."""
from __future__ import annotations

import copyreg
import io
import math
import os
import pickle
import resource
import time
import traceback
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any
from zoneinfo import ZoneInfo

from yijianshi.engine.clock import Clock
from yijianshi.engine.errors import ScriptError

MEMORY_ERROR = "memory"
TOO_BIG = "too_big"


class _CallClock(Clock):
    """The clock of the call in progress: `now()` in a script is the time of the parent's command."""

    def __init__(self) -> None:
        self.at = datetime.now().astimezone()

    def now(self) -> datetime:
        return self.at


class _CallCalendar:
    """The calendar the parent sent; records when a script asked for a year it does not have."""

    def __init__(self) -> None:
        self.calendar: Any = None
        self.missed = False

    def refresh_if_changed(self) -> bool:
        self.missed = True  # only the parent can reload (it has the database)
        return False


def limit_resources(memory_bytes: int) -> None:
    """Cap this process's address space (allocations beyond it raise MemoryError)."""
    if memory_bytes > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _arm_cpu_backstop(cpu_seconds: float) -> None:
    # RLIMIT_CPU counts the whole life of the process in whole seconds: move the soft limit ahead of
    # what this process has used so far. Exceeding it sends SIGXCPU, which ends the process.
    soft = math.ceil(time.process_time() + cpu_seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _error_line(err: ScriptError) -> int:
    from yijianshi.engine.scripting.sandbox import FILENAME

    cause = err.__cause__
    if isinstance(cause, SyntaxError):
        return cause.lineno or 0
    if cause is None:
        return 0
    return next((fs.lineno or 0 for fs in reversed(traceback.extract_tb(cause.__traceback__))
                 if fs.filename == FILENAME), 0)


def _describe(err: BaseException) -> dict[str, Any]:
    cause = err.__cause__ if isinstance(err, ScriptError) else err
    args = tuple(a for a in getattr(cause, "args", ()) if isinstance(a, (str, int, float)))[:4]
    return {"message": str(err)[:4000], "line": _error_line(err) if isinstance(err, ScriptError) else 0,
            "cause": type(cause).__name__ if cause is not None else None, "args": args}


def serve(conn: Connection, memory_bytes: int, cpu_seconds: float, max_reply_bytes: int) -> None:
    """The worker's main loop (the target of the worker process)."""
    limit_resources(memory_bytes)
    from yijianshi.engine.scripting.functions import script_functions
    from yijianshi.engine.scripting.sandbox import RestrictedEnvironment

    clock, holder = _CallClock(), _CallCalendar()
    env = RestrictedEnvironment(script_functions(clock, holder), time_limit_s=cpu_seconds)
    conn.send_bytes(pickle.dumps(("ready", None, False, time.process_time())))
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):
            return
        retire = False
        try:
            mode, source, context, external, now, calendar = pickle.loads(request)
            clock.at = now
            if calendar is not None:
                holder.calendar = calendar
            holder.missed = False
            _arm_cpu_backstop(cpu_seconds)
            if mode == "eval":
                answer: tuple = ("ok", env.evaluate(source, context, external), holder.missed, time.process_time())
            else:
                env.execute(source, context, external)
                answer = ("ok", context, holder.missed, time.process_time())
            reply = dump_answer(answer)
            del answer
        except ScriptError as err:
            retire = isinstance(err.__cause__, MemoryError)
            reply = _error_reply(err, MEMORY_ERROR if retire else None, holder.missed)
        except MemoryError:
            retire = True
            reply = _error_reply(MemoryError(), MEMORY_ERROR, holder.missed)
        except Exception as err:  # a result that cannot be pickled (ScriptError covers the rest)
            reply = _error_reply(ScriptError(f"脚本结果无法保存为任务数据：{type(err).__name__}: {err}"), None,
                                 holder.missed)
        context = external = None
        if len(reply) > max_reply_bytes:
            reply = _error_reply(ValueError(len(reply)), TOO_BIG, holder.missed)
        try:
            conn.send_bytes(reply)
        except (EOFError, OSError):
            return
        if retire:
            return


def _zoneinfo_by_key(zone: ZoneInfo) -> tuple:
    return ZoneInfo, (zone.key,)


_DISPATCH = {**copyreg.dispatch_table, ZoneInfo: _zoneinfo_by_key}


def dump_answer(answer: tuple) -> bytes:
    """Pickle an answer in the form the parent's allow-list accepts (a zone by its key, without the
    getattr() that ZoneInfo's own pickling needs)."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(answer)
    return out.getvalue()


def _error_reply(err: BaseException, kind: str | None, missed: bool) -> bytes:
    try:
        detail = _describe(err)
    except MemoryError:
        detail = {"message": "", "line": 0, "cause": "MemoryError", "args": ()}
    detail["kind"] = kind
    return dump_answer(("error", detail, missed, time.process_time()))


if __name__ == "__main__":
    import sys

    fd, memory, cpu, reply = sys.argv[1:5]
    serve(Connection(int(fd)), int(memory), float(cpu), int(reply))
