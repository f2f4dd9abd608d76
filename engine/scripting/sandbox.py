"""Restricted script engine: BPMN/DMN expressions and scripts run under RestrictedPython with a time limit.

What a caller sees when something goes wrong:
- RestrictedEnvironment.evaluate/execute raise ScriptError (the original exception, if any, is ``__cause__``).
- SafeScriptEngine.evaluate/execute (what SpiffWorkflow calls) raise SpiffWorkflow's WorkflowTaskException
  whose ``__cause__`` (and ``__context__``) is that ScriptError; its ``error_type`` is "ScriptError" and, for
  runtime errors in scripts, ``line_number``/``error_line`` point at the failing script line.
- A few SpiffWorkflow paths (process completion conditions, message correlation) call the environment
  directly and therefore see the bare ScriptError.
A script that fails leaves the task data's top-level names untouched (they are copied back only on success);
in-place changes it made to lists/dicts in the data before failing do remain.
"""
from __future__ import annotations

import ast
import builtins
import functools
import operator
import sys
import textwrap
import time
import traceback
import types
from collections.abc import Callable
from typing import Any, Literal, cast

import RestrictedPython.Guards as guards
from RestrictedPython import CompileResult, PrintCollector, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Limits import limited_builtins
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from yijianshi.engine.errors import ScriptError
from yijianshi.engine.scripting import juel

FILENAME = "<bpmn-script>"
MAX_RANGE = 10**6
MAX_SIZE = 10**7  # characters/elements one `*` may produce
MAX_BITS = 10**6  # size of an int one `**` or `<<` may produce
TraceEvent = Literal["call", "line", "return", "exception", "opcode"]  # what sys.settrace reports


class _Timeout(BaseException):
    """Raised by the tracer; not an Exception so that no handler a script may write can swallow it."""


class _Refused(BaseException):
    """A guard refused something in a way the script must not be able to catch."""


def _check_size(sym: str, a: Any, b: Any) -> None:
    # These operators are the cheap ways to make CPython spend minutes (or all memory) inside one C call,
    # where the line tracer cannot interrupt it.
    if sym == "*":
        for seq, n in ((a, b), (b, a)):
            if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_SIZE:
                raise ValueError(f"结果过大：重复后超过 {MAX_SIZE} 个元素")
    elif isinstance(a, int) and isinstance(b, int) and b > 0:
        bits = a.bit_length() * b if sym == "**" and abs(a) > 1 else a.bit_length() + b if sym == "<<" else 0
        if bits > MAX_BITS:
            raise ValueError(f"结果过大：整数超过 {MAX_BITS} 位")


_SIZED: dict[type, str] = {ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<"}
_BINOPS: dict[str, Callable[[Any, Any], Any]] = {"*": operator.mul, "**": operator.pow, "<<": operator.lshift}
_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _binop(sym: str, a: Any, b: Any) -> Any:
    _check_size(sym, a, b)
    return _BINOPS[sym](a, b)


def _inplacevar(op: str, a: Any, b: Any) -> Any:
    _check_size(op[:-1], a, b)
    return _INPLACE[op](a, b)


def _pow(a: Any, b: Any, mod: Any = None) -> Any:
    return _binop("**", a, b) if mod is None else pow(a, b, mod)


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise ValueError(f"range() 最多允许 {MAX_RANGE} 个元素")
    return r


def _catchable(thunk: Callable[[], Any] = lambda: Exception) -> Any:
    # Runs before the handler's type expression (which arrives as a thunk), so a timeout can neither be
    # caught nor be turned into an ordinary, catchable error by a type expression that itself fails.
    pending = sys.exc_info()[1]
    if isinstance(pending, (_Timeout, _Refused)):
        raise pending
    if sys.gettrace() is None:  # CPython drops a tracer that raised (e.g. RecursionError); nothing may go on
        raise _Refused("脚本的运行时间监控已失效（可能是递归过深），已终止") from pending
    caught = thunk()
    for t in caught if isinstance(caught, tuple) else (caught,):
        if not (isinstance(t, type) and issubclass(t, Exception)):
            raise _Refused(f"脚本只能捕获 Exception 的子类，不能捕获 {t!r}")
    return caught


def _getattr(obj: Any, name: str, default: Any = None) -> Any:
    # mro() is the one non-underscore path from a builtin exception class to BaseException.
    if name == "mro":
        raise AttributeError('"mro" is not allowed')
    return guards.safer_getattr(obj, name, default)


def _call(name: str, args: list[ast.expr], where: ast.AST) -> ast.Call:
    return ast.fix_missing_locations(ast.copy_location(ast.Call(ast.Name(name, ast.Load()), args, []), where))


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus what the time limit and size limits need."""

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name not in juel.HELPERS:  # what translated JUEL calls (harmless for Python to call too)
            super().check_name(node, name, allow_magic_methods)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> Any:
        # There is no __import__ at run time anyway; saying so at compile time lets the linter catch it.
        self.error(node, "import is not allowed; use the helper functions the engine provides.")
        return node

    visit_ImportFrom = visit_Import

    def visit_Try(self, node: ast.Try) -> Any:
        if node.finalbody:  # a finally block would run after the timeout, with the tracer already gone
            self.error(node, "try ... finally is not allowed.")
        return super().visit_Try(node)

    def visit_While(self, node: ast.While) -> Any:
        node = cast(ast.While, super().visit_While(node))  # RestrictedPython returns the node it visited
        # `while True: pass` compiles to a jump onto itself, for which CPython emits no line event; one
        # real instruction in the body makes every iteration visible to the tracer.
        tick = ast.copy_location(ast.Expr(ast.Name("_getiter_", ast.Load())), node)
        node.body.insert(0, ast.fix_missing_locations(tick))
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        node = cast(ast.ExceptHandler, super().visit_ExceptHandler(node))  # RestrictedPython returns the node it visited
        thunk = ast.Lambda(ast.arguments([], [], None, [], [], None, []), node.type) if node.type else None
        node.type = _call("_catchable_", [thunk] if thunk else [], node)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = cast(ast.BinOp, super().visit_BinOp(node))  # RestrictedPython returns the node it visited
        sym = _SIZED.get(type(node.op))
        return _call("_binop_", [ast.Constant(sym), node.left, node.right], node) if sym else node


_UTILITIES = ("len", "min", "max", "sum", "sorted", "any", "all", "abs", "round", "enumerate", "zip", "str",
              "int", "float", "bool", "list", "dict", "set", "tuple", "isinstance", "map", "filter")
_BUILTINS: dict[str, Any] = {**guards.safe_builtins, **limited_builtins}
_BUILTINS.update({n: getattr(builtins, n) for n in _UTILITIES})
_BUILTINS.update(range=_bounded_range, pow=_pow)
for _name in ("__build_class__", "BaseException", "KeyboardInterrupt", "SystemExit", "GeneratorExit"):
    _BUILTINS.pop(_name, None)

_GUARDS: dict[str, Any] = {
    "__builtins__": _BUILTINS, "_getattr_": _getattr, "_getitem_": operator.getitem, "_getiter_": iter,
    "_iter_unpack_sequence_": guards.guarded_iter_unpack_sequence,
    "_unpack_sequence_": guards.guarded_unpack_sequence,
    "_write_": guards.full_write_guard, "_inplacevar_": _inplacevar, "_print_": PrintCollector,
    "_apply_": lambda f, *a, **kw: f(*a, **kw), "_binop_": _binop, "_catchable_": _catchable,
    **juel.HELPERS,
}
_CODE_CARRIERS = (types.FunctionType, types.GeneratorType)


def _restricted_compile(source: str, mode: str) -> CompileResult:
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    compile_fn = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    return compile_fn(source, filename=FILENAME, policy=_Policy)


def _normalise(source: str, mode: str) -> str:
    # A `${...}` expression is Camunda's JUEL: parsed and translated to Python (juel.JuelError if not).
    if mode == "eval" and juel.is_juel(source):
        return juel.to_python(source.strip())
    # BPMN XML text often carries the indentation of the surrounding element.
    return source.strip() if mode == "eval" else textwrap.dedent(source)


def check_script(source: str, mode: str) -> list[str]:
    """Compile `source` ("eval" or "exec" mode) without running it; return the problems (empty if fine)."""
    try:
        normalised = _normalise(source, mode)
    except juel.JuelError as err:
        return [str(err)]
    return list(_restricted_compile(normalised, mode).errors)


@functools.lru_cache(maxsize=4096)
def _compiled(mode: str, source: str) -> types.CodeType:
    result = _restricted_compile(source, mode)
    if result.errors or result.code is None:
        what = "表达式" if mode == "eval" else "脚本"
        raise ScriptError(f"{what}不允许使用或有语法错误：{'; '.join(result.errors)}（{short_source(source)}）")
    return result.code


def short_source(source: str) -> str:
    return repr(source if len(source) <= 200 else source[:200] + "…")


def _has_set(value: Any, depth: int = 0) -> bool:
    if isinstance(value, (set, frozenset)):
        return True
    if depth > 50:
        return False
    if isinstance(value, dict):
        return any(_has_set(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_set(v, depth + 1) for v in value)
    return False


def _sets_to_lists(key: str, value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        items = [_sets_to_lists(key, v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            raise ScriptError(f"变量 {key} 中的集合（set）含有无法排序的元素，不能存入办件数据；请改用列表（list）。"
                              ) from None
    if isinstance(value, dict):
        return {k: _sets_to_lists(key, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sets_to_lists(key, v) for v in value]
    if isinstance(value, tuple):
        return tuple(_sets_to_lists(key, v) for v in value)
    return value


def _plain_data(key: str, value: Any) -> Any:
    """Task data as it is stored and replayed: a set (whose order of iteration varies from one Python
    process to the next, so the stored state and a re-execution would disagree) becomes a sorted list."""
    return _sets_to_lists(key, value) if _has_set(value) else value


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Runs expressions and scripts under RestrictedPython with helper functions and a per-call time limit."""

    def __init__(self, functions: dict[str, Any] | None = None, time_limit_s: float = 1.0):
        super().__init__(dict(functions or {}))
        self.time_limit_s = time_limit_s

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict | None = None) -> Any:
        """Evaluate `expression` with the task data `context` as variables and return its value."""
        code = _compiled("eval", _normalise(expression, "eval"))
        value = self._run(code, self._namespace(context, external_context or {}), expression, "表达式")
        if isinstance(value, _CODE_CARRIERS):  # calling or iterating it later would run code untimed
            raise ScriptError(f"表达式的结果不能是函数或生成器：{short_source(expression)}")
        return value

    def execute(self, script: str, context: dict[str, Any], external_context: dict | None = None) -> bool:
        """Run `script`; top-level names it assigns or deletes are copied into/removed from `context`."""
        external = external_context or {}
        clash = (set(self.globals) | set(external)) & set(context)
        if clash:
            raise ScriptError(f"任务数据中的变量与预定义函数同名，请改名：{', '.join(sorted(clash))}")
        namespace = self._namespace(context, external)
        self._run(_compiled("exec", _normalise(script, "exec")), namespace, script, "脚本")
        # Only now touch the task data, so a script that fails half-way leaves its top-level names unchanged.
        for key in [k for k in context if k not in namespace]:
            del context[key]
        for key, value in namespace.items():
            if key.startswith("_") or key in self.globals or key in external:
                continue
            if callable(value) or isinstance(value, _CODE_CARRIERS):  # not data, and would run untimed later
                context.pop(key, None)
            else:
                context[key] = _plain_data(key, value)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        """Service tasks are not available to sandboxed processes."""
        raise ScriptError(f"流程中不允许直接调用外部服务：{kwargs.get('operation_name', '')}")

    def _namespace(self, context: dict[str, Any], external: dict[str, Any]) -> dict[str, Any]:
        # Guards go last so task data can never shadow them.
        return {**self.globals, **external, **context, **_GUARDS}

    def _run(self, code: types.CodeType, namespace: dict[str, Any], source: str, what: str) -> Any:
        deadline = time.monotonic() + self.time_limit_s
        prior = sys.gettrace()

        def local(frame: types.FrameType, event: TraceEvent, arg: Any) -> Callable | None:
            if time.monotonic() > deadline:
                raise _Timeout
            return local

        def tracer(frame: types.FrameType, event: TraceEvent, arg: Any) -> Callable | None:
            # Only sandboxed frames get a line tracer; everything else keeps the prior tracer (e.g. coverage).
            if frame.f_code.co_filename == FILENAME:
                return local(frame, event, arg)
            return prior(frame, event, arg) if prior is not None else None

        sys.settrace(tracer)
        try:
            return eval(code, namespace)
        except _Timeout:
            raise ScriptError(f"脚本运行超过 {self.time_limit_s:g} 秒，已被终止，请检查是否有死循环：{short_source(source)}"
                              ) from None
        except _Refused as err:
            raise ScriptError(f"{err}（{short_source(source)}）") from None
        except Exception as err:
            raise ScriptError(f"{what}运行出错：{short_source(source)}：{type(err).__name__}: {err}") from err
        finally:
            sys.settrace(prior)


def _link_cause(wte: WorkflowTaskException) -> None:
    # SpiffWorkflow raises its wrapper inside `except`, which sets only __context__; make the link explicit.
    if wte.__cause__ is None and isinstance(wte.__context__, ScriptError):
        wte.__cause__ = wte.__context__


class SafeScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine that runs everything in a RestrictedEnvironment, in this process,
    or in the `environment` given (the engine's: isolated.IsolatedEnvironment, with hard limits)."""

    def __init__(self, functions: dict[str, Any] | None = None, time_limit_s: float = 1.0, *,
                 environment: BasePythonScriptEngineEnvironment | None = None):
        super().__init__(environment=environment or RestrictedEnvironment(functions, time_limit_s))

    def evaluate(self, task: Any, expression: str, external_context: dict | None = None) -> Any:
        """Like PythonScriptEngine.evaluate; a WorkflowTaskException gets the ScriptError as __cause__."""
        try:
            return super().evaluate(task, expression, external_context)
        except WorkflowTaskException as wte:
            _link_cause(wte)
            raise

    def execute(self, task: Any, script: str, external_context: dict | None = None) -> Any:
        """Like PythonScriptEngine.execute; a WorkflowTaskException gets the ScriptError as __cause__."""
        try:
            return super().execute(task, script, external_context)
        except WorkflowTaskException as wte:
            _link_cause(wte)
            raise

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        """Refuse service calls (the base class would fail with an unrelated NameError)."""
        try:
            return self.environment.call_service(task.data, **kwargs)
        except ScriptError as err:
            raise WorkflowTaskException(str(err), task=task, exception=err) from err

    def get_error_line_number_and_content(self, script: str, err: Exception) -> tuple[int, str]:
        """Locate the failing line from the sandboxed frames in the original exception's traceback."""
        line = getattr(err, "script_line", 0)  # reported by a script worker (isolated.py)
        cause = err.__cause__ if isinstance(err, ScriptError) else err
        if line:
            pass
        elif isinstance(err, SyntaxError):
            line = err.lineno or 0
        elif cause is not None:
            line = next((fs.lineno or 0 for fs in reversed(traceback.extract_tb(cause.__traceback__))
                         if fs.filename == FILENAME), 0)
        lines = _normalise(script, "exec").splitlines()
        return line, lines[line - 1] if 0 < line <= len(lines) else ""
