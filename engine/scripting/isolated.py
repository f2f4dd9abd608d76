"""The script environment the engine runs with: every script, and every expression that is not
trivially cheap (cheap_expressions.py), runs in a script worker process with hard CPU-time and
memory limits (worker_pool.py), under the same RestrictedPython policy as before (sandbox.py).

The worker gets the task data, the command's time (what `now()` returns) and the working calendar
(sent once per worker and calendar), and sends back the value or the new task data. A calendar
function that needs a year the calendar lacks makes the engine reload its calendar and ask again,
as the in-process functions did. Errors arrive as ScriptError with the original exception's type
and arguments rebuilt as `__cause__` (built-in exception types only) and the failing script line
as `script_line`."""
from __future__ import annotations

import builtins
import pickle
from typing import Any

from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from yijianshi.engine.clock import Clock
from yijianshi.engine.deadlines.calendar_functions import HasCalendar
from yijianshi.engine.deadlines.timers import current_time
from yijianshi.engine.errors import ScriptError
from yijianshi.engine.scripting.cheap_expressions import is_cheap
from yijianshi.engine.scripting.functions import script_functions
from yijianshi.engine.scripting.sandbox import RestrictedEnvironment, short_source
from yijianshi.engine.scripting.worker_pool import ScriptLimits, ScriptWorker, ScriptWorkerPool, WorkerDied, \
    limit_message, shared_pool


class IsolatedEnvironment(BasePythonScriptEngineEnvironment):
    """Runs scripts and costly expressions in script workers; cheap expressions in-process."""

    def __init__(self, clock: Clock, calendar: HasCalendar, limits: ScriptLimits | None = None,
                 pool: ScriptWorkerPool | None = None):
        self.limits = limits or ScriptLimits()
        functions = script_functions(clock, calendar)
        super().__init__(functions)
        self.clock = clock
        self.calendar = calendar
        self.pool = pool or shared_pool(self.limits)
        self.local = RestrictedEnvironment(functions, time_limit_s=self.limits.cpu_seconds)

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict | None = None) -> Any:
        """The value of `expression` on the task data `context` (see RestrictedEnvironment.evaluate)."""
        if is_cheap(expression):
            return self.local.evaluate(expression, context, external_context)
        return self._remote("eval", expression, context, external_context or {})

    def execute(self, script: str, context: dict[str, Any], external_context: dict | None = None) -> bool:
        """Run `script` in a worker; on success the task data `context` becomes what the script left."""
        data = self._remote("exec", script, context, external_context or {})
        for key in [k for k in context if k not in data]:
            del context[key]
        context.update(data)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        """Service tasks are not available to sandboxed processes."""
        return self.local.call_service(context, **kwargs)

    def _remote(self, mode: str, source: str, context: dict, external: dict) -> Any:
        now = current_time(self.clock)
        calendar = self.calendar.calendar
        for attempt in range(2):
            try:
                status, result, missed, _ = self.pool.call(_Request(mode, source, context, external, now, calendar))
            except WorkerDied as died:
                raise ScriptError(f"{limit_message(died.reason, self.limits)}：{short_source(source)}") from None
            if missed and attempt == 0 and self.calendar_reloaded():
                calendar = self.calendar.calendar
                continue
            break
        if status == "ok":
            return result
        raise self._error(result, source)

    def calendar_reloaded(self) -> bool:
        refresh = getattr(self.calendar, "refresh_if_changed", None)
        return bool(refresh()) if refresh is not None else False

    def _error(self, detail: dict, source: str) -> ScriptError:
        if detail.get("kind") == "memory":
            err = ScriptError(f"{limit_message('memory', self.limits)}：{short_source(source)}")
        elif detail.get("kind") == "too_big":
            err = ScriptError(f"脚本的结果过大（超过 {self.limits.max_reply_bytes // (1024 * 1024)} MB），"
                              f"已被拒绝：{short_source(source)}")
        else:
            err = ScriptError(detail["message"])
        err.script_line = detail.get("line") or 0  # type: ignore[attr-defined]
        cause_type = getattr(builtins, detail.get("cause") or "", None)
        if isinstance(cause_type, type) and issubclass(cause_type, Exception) and detail.get("kind") is None:
            try:
                err.__cause__ = cause_type(*detail.get("args", ()))
            except Exception:  # an exception type whose constructor wants other arguments
                pass
        return err


class _Request:
    """Builds the request bytes for the worker that takes the call (the calendar only if it lacks it)."""

    def __init__(self, mode: str, source: str, context: dict, external: dict, now: Any, calendar: Any):
        self.mode, self.source, self.context, self.external, self.now, self.calendar = \
            mode, source, context, external, now, calendar

    def __call__(self, worker: ScriptWorker) -> bytes:
        sent = None if worker.calendar is self.calendar else self.calendar
        try:
            data = pickle.dumps((self.mode, self.source, self.context, self.external, self.now, sent),
                                protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as err:
            raise ScriptError(f"任务数据无法交给脚本运行：{type(err).__name__}: {err}"
                              f"（{short_source(self.source)}）") from err
        worker.calendar = self.calendar
        return data
