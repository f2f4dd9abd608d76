"""JUEL (`${...}` / `#{...}`), Camunda's expression language: every supported operator and keyword
parses and evaluates to what Camunda computes, through the same restricted sandbox as Python
expressions; malformed and refused expressions give a Chinese message with the column."""
from __future__ import annotations

import pytest

from yijianshi.engine.errors import ScriptError
from yijianshi.engine.modeling.time_limits import Limit, limit_of
from yijianshi.engine.scripting.juel import JuelError, is_juel, to_python
from yijianshi.engine.scripting import sandbox
from yijianshi.engine.scripting.sandbox import RestrictedEnvironment, check_script

DATA = {"approved": True, "rejected": False, "amount": 120, "price": 2.5, "name": "张三", "blank": "", "none": None,
        "items": [1, 2, 3], "no_items": [], "no_map": {}, "text_five": "5",
        "applicant": {"name": "李四", "address": {"city": "成都"}}}


@pytest.fixture(scope="module")
def env() -> RestrictedEnvironment:
    return RestrictedEnvironment({"working_days": lambda n: f"+{n}wd", "add_working_days": lambda s, n: f"{s}+{n}wd",
                                  "now_iso": lambda: "2026-02-24T09:00:00+08:00", "today": lambda: "2026-02-24"})


@pytest.mark.parametrize(("expression", "expected"), [
    # variables and literals
    ("${approved}", True), ("#{approved}", True), ("${name}", "张三"), ("${'单引号'}", "单引号"),
    ('${"双引号"}', "双引号"), ("${'it\\'s'}", "it's"), ("${42}", 42), ("${2.5}", 2.5), ("${1e3}", 1000.0),
    ("${true}", True), ("${false}", False), ("${null}", None),
    # not / and / or, both spellings, short-circuit (the right side would fail)
    ("${!approved}", False), ("${not rejected}", True), ("${approved && rejected}", False),
    ("${approved and amount > 100}", True), ("${rejected || approved}", True), ("${rejected or rejected}", False),
    ("${rejected && undefined_name}", False), ("${approved || undefined_name}", True),
    # comparisons, both spellings
    ("${amount == 120}", True), ("${amount eq 121}", False), ("${amount != 120}", False), ("${amount ne 121}", True),
    ("${amount < 200}", True), ("${amount lt 100}", False), ("${amount > 100}", True), ("${amount gt 120}", False),
    ("${amount <= 120}", True), ("${amount le 119}", False), ("${amount >= 120}", True), ("${amount ge 121}", False),
    ("${name == '张三'}", True), ("${'abc' < 'abd'}", True), ("${none == null}", True), ("${amount == null}", False),
    ("${none < 5}", False),
    # JUEL coercions
    ("${text_five == 5}", True), ("${amount > '100'}", True), ("${approved == 'true'}", True),
    # empty
    ("${empty none}", True), ("${empty blank}", True), ("${empty no_items}", True), ("${empty no_map}", True),
    ("${empty items}", False), ("${empty name}", False), ("${not empty items}", True),
    # arithmetic
    ("${amount + 1}", 121), ("${amount - 20}", 100), ("${amount * 2}", 240), ("${price * 2}", 5.0),
    ("${amount / 8}", 15.0), ("${5 div 2}", 2.5), ("${7 % 3}", 1), ("${7 mod 3}", 1), ("${-7 mod 3}", -1),
    ("${-amount}", -120), ("${1 + 2 * 3}", 7), ("${(1 + 2) * 3}", 9), ("${none + 1}", 1), ("${'2' + 3}", 5),
    # property access on dicts and lists
    ("${applicant.name}", "李四"), ("${applicant.address.city}", "成都"), ("${applicant['name']}", "李四"),
    ("${applicant.phone}", None), ("${none.anything}", None), ("${items[0]}", 1), ("${items[9]}", None),
    # conditional
    ("${approved ? '通过' : '不通过'}", "通过"), ("${rejected ? 1 : amount > 100 ? 2 : 3}", 2),
    # functions
    ("${workingDays(7)}", "+7wd"), ("${addWorkingDays(now(), 3)}", "2026-02-24T09:00:00+08:00+3wd"),
    ("${today()}", "2026-02-24"),
])
def test_juel_evaluates_like_camunda(env, expression, expected):
    assert check_script(expression, "eval") == []
    value = env.evaluate(expression, dict(DATA))
    assert value == expected and type(value) is type(expected)


def test_python_expressions_keep_working(env):
    assert env.evaluate("approved and amount > 100", dict(DATA)) is True
    assert env.evaluate('"P3D"', {}) == "P3D"
    assert not is_juel("approved") and is_juel("  ${approved}") and is_juel("#{x}")


def test_juel_is_translated_node_by_node_not_substituted():
    assert to_python("${a.b and not c}") == "_juel_bool_(_juel_get_(a, 'b')) and _juel_bool_(not _juel_bool_(c))"
    # Words inside strings stay words: "and" in a literal is not an operator.
    assert to_python("${x == 'a and b'}") == "_juel_cmp_('eq', x, 'a and b')"


@pytest.mark.parametrize(("expression", "column", "words"), [
    ("${amount >}", 11, "不完整"),
    ("${(amount > 1}", 14, "不完整"),
    ("${amount = 1}", 10, "== 或 eq"),
    ("${amount # 1}", 10, "无法识别的字符“#”"),
    ("${amount > > 1}", 12, "不应出现“>”"),
    ("${}", 3, "没有表达式"),
])
def test_malformed_juel_says_where(expression, column, words):
    with pytest.raises(JuelError) as err:
        to_python(expression)
    assert err.value.column == column and words in str(err.value)
    (message,) = check_script(expression, "eval")
    assert words in message


@pytest.mark.parametrize(("expression", "words"), [
    ("${execution.getVariable('approved')}", "写成 ${x}"),
    ("${execution}", "Camunda 引擎内部对象"),
    ("${name.toUpperCase()}", "不支持调用方法“toUpperCase"),
    ("${S(json).prop('a')}", "不支持的函数“S”"),
    ("${dateTime()}", "不支持的函数“dateTime”"),
    ("${class}", "保留字"),
    ("${_juel_get_}", "下划线"),
    ("unit:${name", "没有对应的右花括号"),
    ("unit:${amount >}", "第 16 列"),
])
def test_refused_constructs_name_the_fix(env, expression, words):
    (message,) = check_script(expression, "eval")
    assert words in message
    with pytest.raises(ScriptError) as err:
        env.evaluate(expression, dict(DATA))
    assert words in str(err.value)


@pytest.mark.parametrize(("expression", "expected"), [
    ("unit:${applicant.address.city}", "unit:成都"),
    ("申请 ${name}，金额 ${amount + 1} 元", "申请 张三，金额 121 元"),
    ("${approved}-${none}-${price}", "true--2.5"),
    ("${name}${amount}", "张三120"),
    ("unit:${blank == '' ? 'hub' : '}'}", "unit:hub"),
    ("  ${amount}  ", 120),
])
def test_composite_templates_join_their_parts_as_text(env, expression, expected):
    assert is_juel(expression)
    assert env.evaluate(expression, dict(DATA)) == expected
    assert check_script(expression, "eval") == []


@pytest.mark.parametrize(("expression", "words"), [
    ("${name * 2}", "无法把 '张三' 当作数字"),
    ("${approved + 1}", "布尔值 true 不能参与算术运算"),
    ("${amount.x}", "不是字典或列表"),
    ("${missing_variable}", "missing_variable"),
    ("${amount / 0}", "ZeroDivisionError"),
])
def test_runtime_errors_are_script_errors(env, expression, words):
    with pytest.raises(ScriptError) as err:
        env.evaluate(expression, dict(DATA))
    assert words in str(err.value)


def test_sandbox_guards_apply_to_juel(env):
    # Compiled by the sandbox's RestrictedPython policy: multiplication goes through its size guard.
    assert "_binop_" in sandbox._compiled("eval", to_python("${amount * 2}")).co_names
    with pytest.raises(JuelError, match="过长"):
        to_python("${" + "a + " * 600 + "a}")


def test_limits_read_off_juel_and_iso_timers():
    assert limit_of("${workingDays(7)}") == Limit(7, "working_days")
    assert limit_of("${addWorkingDays(accepted_at, 5)}") == Limit(5, "working_days")
    assert limit_of("P3D") == Limit(3, "days") and limit_of("PT2H") == Limit(2, "hours")
    assert limit_of("${workingDays(}") is None
