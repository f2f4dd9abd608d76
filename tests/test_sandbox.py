"""The restricted script engine: what it refuses, what business expressions it runs, and how it plugs into
SpiffWorkflow."""
from __future__ import annotations

import datetime as dt
import sys
import threading
import time

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.exceptions import WorkflowException

from yijianshi.engine.scripting import sandbox
from yijianshi.engine.errors import ScriptError
from yijianshi.engine.scripting.sandbox import RestrictedEnvironment, SafeScriptEngine, check_script


def add_working_days(start: dt.date, days: int) -> dt.date:
    day = start
    while days > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


@pytest.fixture
def env() -> RestrictedEnvironment:
    return RestrictedEnvironment(functions={"add_working_days": add_working_days}, time_limit_s=0.5)


# ---- refused -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", [
    "__import__('os')",
    "open('/etc/passwd')",
    "().__class__.__base__.__subclasses__()",
    "ValueError.mro()",
    "'x' * 10**9",
    "10 ** 10 ** 9",
    "len(range(10**9))",
])
def test_dangerous_expressions_are_refused(env, source):
    with pytest.raises(ScriptError):
        env.evaluate(source, {})


@pytest.mark.parametrize("script", [
    "os = __import__('os')\nos.system('true')",
    "import os\nos.system('true')",
    "f = open('/etc/passwd')\ndata = f.read()",
    "subs = ().__class__.__base__.__subclasses__()",
])
def test_dangerous_scripts_are_refused_and_leave_task_data_alone(env, script):
    data = {"a": 1}
    with pytest.raises(ScriptError):
        env.execute(script, data)
    assert data == {"a": 1}


def test_compile_error_message_is_chinese_and_carries_the_restrictedpython_text(env):
    with pytest.raises(ScriptError) as info:
        env.evaluate("__import__('os')", {})
    assert "表达式不允许使用" in str(info.value)
    assert "__import__" in str(info.value)


def test_runtime_error_names_expression_and_keeps_the_original_as_cause(env):
    with pytest.raises(ScriptError) as info:
        env.evaluate("amount / count", {"amount": 10, "count": 0})
    assert "amount / count" in str(info.value)
    assert "ZeroDivisionError" in str(info.value)
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_undefined_name_is_a_script_error(env):
    with pytest.raises(ScriptError) as info:
        env.evaluate("missing > 1", {})
    assert isinstance(info.value.__cause__, NameError)


# ---- time limit ----------------------------------------------------------------------------------------

def _assert_stopped_in_time(run) -> None:
    """Run in a daemon thread so a broken time limit fails the test instead of hanging the suite."""
    outcome: dict[str, object] = {}

    def work() -> None:
        started = time.monotonic()
        try:
            run()
        except BaseException as err:  # noqa: BLE001 - the test inspects whatever came out
            outcome["error"] = err
        outcome["elapsed"] = time.monotonic() - started

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "the time limit did not stop the script"
    assert isinstance(outcome.get("error"), ScriptError), outcome.get("error")
    assert 0.4 <= outcome["elapsed"] < 3
    assert "超过 0.5 秒" in str(outcome["error"])


@pytest.mark.parametrize("script", [
    "while True: pass",
    "while True:\n    continue",
    "n = 0\nwhile True:\n    n += 1",
    # a handler cannot swallow the timeout, even one whose type expression itself fails
    "while True:\n    try:\n        while True: pass\n    except: pass",
    ("while 1:\n    try:\n        try:\n            while True: pass\n        except nosuch: pass\n"
     "    except Exception: pass"),
])
def test_endless_script_is_stopped(env, script):
    _assert_stopped_in_time(lambda: env.execute(script, {}))


def test_endless_expression_is_stopped(env):
    _assert_stopped_in_time(lambda: env.evaluate("[i * j for i in range(10**6) for j in range(10**6)]", {}))


def test_endless_script_is_stopped_in_a_worker_thread(env):
    # _assert_stopped_in_time already runs outside the main thread; this also checks the main thread's own
    # tracing is left alone while a worker is being limited.
    before = sys.gettrace()
    _assert_stopped_in_time(lambda: env.execute("while True: pass", {}))
    assert threading.current_thread() is threading.main_thread()
    assert sys.gettrace() is before


def test_endless_script_is_stopped_in_the_calling_thread(env):
    started = time.monotonic()
    with pytest.raises(ScriptError, match="超过 0.5 秒"):
        env.execute("while True: pass", {})
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("handler", ["RuntimeError", "Exception"])
def test_recursion_that_kills_the_tracer_cannot_be_caught_to_run_on_untimed(env, handler):
    script = f"def f():\n    return f()\ntry:\n    f()\nexcept {handler}:\n    pass\nwhile True:\n    pass"
    outcome: dict[str, BaseException] = {}

    def work() -> None:
        try:
            env.execute(script, {})
        except BaseException as err:  # noqa: BLE001
            outcome["error"] = err

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert isinstance(outcome.get("error"), ScriptError)


@pytest.mark.parametrize("source", ["(x for x in xs)", "lambda: 1"])
def test_expression_may_not_return_code_that_would_run_untimed_later(env, source):
    with pytest.raises(ScriptError):
        env.evaluate(source, {"xs": [1]})


def test_try_finally_is_refused_because_it_could_outlive_the_timeout(env):
    with pytest.raises(ScriptError):
        env.execute("try:\n    x = 1\nfinally:\n    y = 2", {})


def test_prior_trace_function_is_restored_and_still_sees_other_code(env):
    seen: list[str] = []

    def prior(frame, event, arg):
        if event == "call":
            seen.append(frame.f_code.co_name)

    old = sys.gettrace()
    sys.settrace(prior)
    try:
        assert env.evaluate("add_working_days(d, 1)", {"d": dt.date(2024, 5, 31)}) == dt.date(2024, 6, 3)
        assert sys.gettrace() is prior
    finally:
        sys.settrace(old)
    assert "add_working_days" in seen  # helper calls were chained to the prior tracer
    assert "<module>" not in seen and "<genexpr>" not in seen


# ---- ordinary business expressions and scripts ---------------------------------------------------------

@pytest.mark.parametrize("source, data, expected", [
    ('amount > 1000 and region == "和平区"', {"amount": 1500, "region": "和平区"}, True),
    ('amount > 1000 and region == "和平区"', {"amount": 1500, "region": "南开区"}, False),
    ("len(materials) >= 2", {"materials": ["身份证", "营业执照"]}, True),
    ('sum(x["days"] for x in items)', {"items": [{"days": 3}, {"days": 4}]}, 7),
    ("name.strip().upper()", {"name": "  abc "}, "ABC"),
    ('"approved" if score >= 60 else "rejected"', {"score": 59}, "rejected"),
    ("sorted(set(codes))[:2]", {"codes": [3, 1, 3, 2]}, [1, 2]),
    ('{k: v for k, v in zip(keys, values)}', {"keys": ["a", "b"], "values": [1, 2]}, {"a": 1, "b": 2}),
    ("max(abs(x) for x in xs) + min(xs)", {"xs": [-5, 2]}, 0),
    ('f"{name}-{n}"', {"name": "证照", "n": 2}, "证照-2"),
    ("\n    amount > 1\n  ", {"amount": 2}, True),
])
def test_business_expressions(env, source, data, expected):
    assert env.evaluate(source, data) == expected


def test_helper_function_is_callable(env):
    due = env.evaluate("add_working_days(submitted, 3)", {"submitted": dt.date(2024, 5, 31)})
    assert due == dt.date(2024, 6, 5)


def test_script_assignments_land_in_task_data_and_helpers_do_not(env):
    data = {"score": 75, "items": [{"days": 2}, {"days": 5}], "obsolete": 1}
    script = """
result = "approved" if score >= 60 else "rejected"
summary = {"total": sum(x["days"] for x in items), "names": []}
summary["names"].append("审批")
count = 0
for i, item in enumerate(items):
    count += item["days"] * 2
del obsolete
def helper():
    return 1
due = add_working_days(start, 1)
"""
    data["start"] = dt.date(2024, 6, 7)
    assert env.execute(script, data) is True
    assert data["result"] == "approved"
    assert data["summary"] == {"total": 7, "names": ["审批"]}
    assert data["count"] == 14
    assert data["due"] == dt.date(2024, 6, 10)
    assert "obsolete" not in data
    assert "helper" not in data
    assert "add_working_days" not in data
    assert not [k for k in data if k.startswith("_")]
    assert set(data) == {"score", "items", "start", "result", "summary", "count", "i", "item", "due"}


def test_script_can_mutate_lists_and_dicts_in_task_data(env):
    data = {"materials": ["身份证"], "form": {"name": "张三"}}
    env.execute('materials.append("营业执照")\nform["checked"] = True', data)
    assert data == {"materials": ["身份证", "营业执照"], "form": {"name": "张三", "checked": True}}


def test_failing_script_leaves_top_level_task_data_unchanged(env):
    data = {"a": 1, "old": 2}
    with pytest.raises(ScriptError):
        env.execute("x = 1\ndel old\ny = a / 0", data)
    assert data == {"a": 1, "old": 2}


def test_script_may_handle_ordinary_exceptions(env):
    data: dict = {}
    env.execute("try:\n    x = 1 / 0\nexcept ZeroDivisionError:\n    x = -1", data)
    assert data == {"x": -1}


def test_task_data_colliding_with_a_helper_name_is_refused(env):
    with pytest.raises(ScriptError) as info:
        env.execute("x = 1", {"add_working_days": 3})
    assert "add_working_days" in str(info.value)


def test_external_context_is_visible_but_not_copied_into_task_data(env):
    data = {"a": 1}
    env.execute("b = a + limit", data, external_context={"limit": 10})
    assert data == {"a": 1, "b": 11}
    assert env.evaluate("a < limit", data, external_context={"limit": 10}) is True


def test_service_calls_are_refused(env):
    with pytest.raises(ScriptError):
        env.call_service({}, operation_name="http/get")


# ---- compile cache and linter entry point --------------------------------------------------------------

def test_compile_runs_once_for_a_repeated_expression(env, monkeypatch):
    calls: list[str] = []
    real = sandbox.compile_restricted_eval

    def counting(source, *args, **kwargs):
        calls.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(sandbox, "compile_restricted_eval", counting)
    sandbox._compiled.cache_clear()
    for amount in range(50):
        data = {"amount": amount, "cache_probe_marker": True}
        assert env.evaluate("amount >= 25 and cache_probe_marker", data) is (amount >= 25)
    assert calls == ["amount >= 25 and cache_probe_marker"]
    assert sandbox._compiled.cache_info().hits >= 49


def test_check_script_reports_problems_without_running():
    assert check_script("import os", "exec")
    assert any("__class__" in p for p in check_script("x.__class__", "eval"))
    assert check_script("a + b", "eval") == []
    assert check_script("total = a + b\nresult = total > 10", "exec") == []
    assert check_script("a +", "eval")  # syntax errors are problems too
    assert check_script("while True: pass", "exec") == []  # nothing is executed


# ---- SpiffWorkflow integration -------------------------------------------------------------------------

def _diagram(process_id: str, script: str, high: str, low: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  id="defs" targetNamespace="http://example.org/bpmn">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="compute" name="计算" scriptFormat="python">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>to_high</bpmn:outgoing><bpmn:outgoing>to_low</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="end_high"><bpmn:incoming>to_high</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_low"><bpmn:incoming>to_low</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute"/>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="gw"/>
    <bpmn:sequenceFlow id="to_high" sourceRef="gw" targetRef="end_high">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{high}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_low" sourceRef="gw" targetRef="end_low">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{low}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>""".encode()


def _workflow(xml: bytes, process_id: str, data: dict) -> BpmnWorkflow:
    parser = BpmnParser()
    parser.add_bpmn_str(xml)
    workflow = BpmnWorkflow(parser.get_spec(process_id), script_engine=SafeScriptEngine())
    workflow.data.update(data)
    for task in workflow.get_tasks():
        task.data.update(data)
    return workflow


def _finished_ends(workflow: BpmnWorkflow) -> set[str]:
    from SpiffWorkflow.util.task import TaskState
    return {t.task_spec.name for t in workflow.get_tasks(state=TaskState.COMPLETED)} & {"end_high", "end_low"}


@pytest.mark.parametrize("a, b, branch", [(7, 8, "end_high"), (3, 4, "end_low")])
def test_workflow_takes_the_branch_the_sandboxed_condition_selects(a, b, branch):
    workflow = _workflow(_diagram("sum_route", "total = a + b", "total &gt; 10", "total &lt;= 10"),
                         "sum_route", {"a": a, "b": b})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert _finished_ends(workflow) == {branch}
    end = next(t for t in workflow.get_tasks() if t.task_spec.name == branch)
    assert end.data["total"] == a + b


def _cause_chain(err: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        chain.append(err)
        err = err.__cause__ or err.__context__
    return chain


def test_workflow_gateway_condition_cannot_import_os():
    xml = _diagram("evil_route", "total = a + b", "__import__('os').system('true') == 0", "total &lt;= 10")
    workflow = _workflow(xml, "evil_route", {"a": 7, "b": 8})
    with pytest.raises(WorkflowException) as info:
        workflow.do_engine_steps()
    assert any(isinstance(e, ScriptError) for e in _cause_chain(info.value))
    assert isinstance(info.value.__cause__, ScriptError)
    assert not workflow.is_completed()


def test_workflow_script_error_reports_the_failing_line():
    workflow = _workflow(_diagram("bad_script", "x = 1\ntotal = a / 0", "True", "False"),
                         "bad_script", {"a": 1, "b": 2})
    with pytest.raises(WorkflowException) as info:
        workflow.do_engine_steps()
    assert isinstance(info.value.__cause__, ScriptError)
    assert isinstance(info.value.__cause__.__cause__, ZeroDivisionError)
    assert info.value.line_number == 2
    assert info.value.error_line == "total = a / 0"


def test_sets_become_sorted_lists_at_the_script_boundary(env):
    """A set's order of iteration differs between Python processes, so a stored set and a
    re-execution disagreed (`verify --reexecute` reported a false mismatch): task data keeps them as
    sorted lists; a set that cannot be sorted is refused by name."""
    data = {"items": [{"days": 2}]}
    env.execute('tags = {"消防", "食品", "招牌"}\nitems.append({"depts": {3, 1, 2}})\nplain = [1, {"a": 2}]', data)
    assert data["tags"] == sorted(["消防", "食品", "招牌"])
    assert data["items"] == [{"days": 2}, {"depts": [1, 2, 3]}]
    assert data["plain"] == [1, {"a": 2}]
    with pytest.raises(ScriptError, match="变量 mixed 中的集合（set）含有无法排序的元素"):
        env.execute('mixed = {1, "a"}', data)
    assert "mixed" not in data
