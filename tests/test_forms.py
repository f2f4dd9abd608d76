"""Tests for engine.forms: typed cleaning, every constraint, all errors at once, hostile input."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yijianshi.engine.errors import FormErrors
from yijianshi.engine.modeling.forms import MAX_STRING_CHARS, Form, FormField, validate_submission

NAME = FormField(id="name", label="姓名", type="string", required=True, minlength=2, maxlength=10)
AGE = FormField(id="age", label="年龄", type="long", min=0, max=100)
AGREE = FormField(id="agree", label="同意", type="boolean")
BIRTH = FormField(id="birth", label="出生日期", type="date", min="2000-01-01", max="2030-12-31")
KIND = FormField(id="kind", label="类别", type="enum", options=(("local", "本地"), ("other", "外地")))
CASE_NO = FormField(id="case_no", label="案卷号", type="string", readonly=True, default="A-1")
NOTE = FormField(id="note", label="备注", type="string", default="无")
FORM = Form((NAME, AGE, AGREE, BIRTH, KIND, CASE_NO, NOTE))


def errors_of(form: Form, submitted: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(FormErrors) as exc_info:
        validate_submission(form, submitted)
    return exc_info.value.errors


def test_full_valid_submission_is_typed_and_cleaned() -> None:
    result = validate_submission(FORM, {"name": "  张三  ", "age": "42", "agree": "on",
                                        "birth": "2024-02-29", "kind": "local", "note": "加急"})
    assert result == {"name": "张三", "age": 42, "agree": True, "birth": "2024-02-29",
                      "kind": "local", "note": "加急"}
    assert type(result["age"]) is int and type(result["agree"]) is bool


def test_missing_optional_fields_are_omitted_or_defaulted() -> None:
    result = validate_submission(FORM, {"name": "张三"})
    # age/birth/kind have no default -> absent; note falls back to its default; unchecked box -> False.
    assert result == {"name": "张三", "note": "无", "agree": False}


def test_defaults_are_converted_to_the_field_type() -> None:
    form = Form((FormField(id="n", label="n", type="long", default="7"),
                 FormField(id="d", label="d", type="date", default="2025-01-02")))
    assert validate_submission(form, {}) == {"n": 7, "d": "2025-01-02"}


def test_blank_values_count_as_missing() -> None:
    assert errors_of(FORM, {"name": "   "}) == {"name": "此项为必填项"}
    assert errors_of(FORM, {"name": None}) == {"name": "此项为必填项"}


@pytest.mark.parametrize(("field", "value", "message"), [
    (NAME, "张", "长度不能少于 2 个字符"),
    (NAME, "一二三四五六七八九十一", "长度不能超过 10 个字符"),
    (NAME, 12345, "请输入文本"),
    (AGE, "101", "不能大于 100"),
    (AGE, "-1", "不能小于 0"),
    (AGE, "4.5", "请输入整数"),
    (AGE, "abc", "请输入整数"),
    (AGE, "١٢", "请输入整数"),
    (AGE, "1_0", "请输入整数"),
    (AGE, True, "请输入整数"),
    (AGE, 4.5, "请输入整数"),
    (BIRTH, "2025-02-30", "请输入有效日期（YYYY-MM-DD）"),
    (BIRTH, "2025/01/01", "请输入有效日期（YYYY-MM-DD）"),
    (BIRTH, "20250101", "请输入有效日期（YYYY-MM-DD）"),
    (BIRTH, "1999-12-31", "不能早于 2000-01-01"),
    (BIRTH, "2031-01-01", "不能晚于 2030-12-31"),
    (KIND, "alien", "请选择列表中的一项"),
    (KIND, "本地", "请选择列表中的一项"),
    (KIND, ["local"], "请选择列表中的一项"),
    (AGREE, "maybe", "请选择“是”或“否”"),
    (AGREE, 2, "请选择“是”或“否”"),
])
def test_each_constraint_reports_its_message(field: FormField, value: Any, message: str) -> None:
    form = Form((field,))
    assert errors_of(form, {field.id: value}) == {field.id: message}


def test_long_bounds_are_inclusive_and_ints_pass_through() -> None:
    form = Form((AGE,))
    assert validate_submission(form, {"age": 0}) == {"age": 0}
    assert validate_submission(form, {"age": "100"}) == {"age": 100}
    assert validate_submission(form, {"age": 7.0}) == {"age": 7}
    assert validate_submission(form, {"age": " +5 "}) == {"age": 5}


def test_long_out_of_java_range_is_rejected() -> None:
    form = Form((FormField(id="n", label="n", type="long"),))
    assert validate_submission(form, {"n": str(2**63 - 1)}) == {"n": 2**63 - 1}
    assert errors_of(form, {"n": str(2**63)}) == {"n": "数值超出允许范围"}
    assert errors_of(form, {"n": "9" * 5000}) == {"n": "请输入整数"}


def test_multiple_errors_are_reported_together_and_nothing_is_returned() -> None:
    errors = errors_of(FORM, {"name": "", "age": "200", "birth": "2025-13-01", "kind": "x", "agree": "?"})
    assert errors == {"name": "此项为必填项", "age": "不能大于 100", "birth": "请输入有效日期（YYYY-MM-DD）",
                      "kind": "请选择列表中的一项", "agree": "请选择“是”或“否”"}


def test_readonly_field_is_never_taken_from_the_submission() -> None:
    result = validate_submission(FORM, {"name": "张三", "case_no": "HACKED"})
    assert "case_no" not in result


def test_readonly_required_field_does_not_block_submission() -> None:
    form = Form((FormField(id="ro", label="ro", type="string", readonly=True, required=True),))
    assert validate_submission(form, {}) == {}


def test_unknown_keys_are_rejected_by_name() -> None:
    errors = errors_of(FORM, {"name": "张三", "is_admin": True, "approved": "yes"})
    assert set(errors) == {"__all__"}
    assert "approved" in errors["__all__"] and "is_admin" in errors["__all__"]


def test_unknown_keys_and_field_errors_are_reported_together() -> None:
    errors = errors_of(FORM, {"evil": 1})
    assert set(errors) == {"__all__", "name"}


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), ("true", True), ("TRUE", True), ("on", True), ("1", True), (1, True),
    ("false", False), ("0", False), (0, False), ("", False), (None, False),
])
def test_boolean_spellings(value: Any, expected: bool) -> None:
    assert validate_submission(Form((AGREE,)), {"agree": value}) == {"agree": expected}


def test_boolean_missing_is_false_even_with_default_true() -> None:
    # The box was rendered ticked but the person unticked it; the browser then sends nothing.
    form = Form((FormField(id="b", label="b", type="boolean", default="true"),))
    assert validate_submission(form, {}) == {"b": False}


def test_required_boolean_means_it_has_a_value_and_false_is_one() -> None:
    # As in Camunda: a required yes/no accepts "no", so the reject path behind ${!approved} is reachable.
    form = Form((FormField(id="approved", label="同意", type="boolean", required=True),))
    assert validate_submission(form, {"approved": "false"}) == {"approved": False}
    assert validate_submission(form, {"approved": False}) == {"approved": False}
    assert validate_submission(form, {"approved": "on"}) == {"approved": True}
    assert errors_of(form, {}) == {"approved": "此项为必填项，请选择“是”或“否”"}
    assert errors_of(form, {"approved": ""}) == {"approved": "此项为必填项，请选择“是”或“否”"}


def test_checked_boolean_must_be_ticked() -> None:
    form = Form((FormField(id="consent", label="同意", type="boolean", checked=True),))
    assert errors_of(form, {}) == {"consent": "请勾选此项"}
    assert errors_of(form, {"consent": "false"}) == {"consent": "请勾选此项"}
    assert validate_submission(form, {"consent": "on"}) == {"consent": True}
    assert FormField.from_dict(form.fields[0].to_dict()) == form.fields[0]


def test_dates_accept_real_dates_only() -> None:
    form = Form((FormField(id="d", label="d", type="date"),))
    assert validate_submission(form, {"d": "2024-02-29"}) == {"d": "2024-02-29"}
    assert validate_submission(form, {"d": dt.date(2025, 3, 1)}) == {"d": "2025-03-01"}
    assert errors_of(form, {"d": "2025-02-29"}) == {"d": "请输入有效日期（YYYY-MM-DD）"}
    assert errors_of(form, {"d": dt.datetime(2025, 3, 1, 12)}) == {"d": "请输入有效日期（YYYY-MM-DD）"}


def test_enum_returns_the_option_id() -> None:
    assert validate_submission(Form((KIND,)), {"kind": " other "}) == {"kind": "other"}


def test_string_is_capped_even_without_maxlength() -> None:
    form = Form((FormField(id="s", label="s", type="string"),))
    assert validate_submission(form, {"s": "x" * MAX_STRING_CHARS}) == {"s": "x" * MAX_STRING_CHARS}
    assert errors_of(form, {"s": "x" * (MAX_STRING_CHARS + 1)}) == {"s": f"长度不能超过 {MAX_STRING_CHARS} 个字符"}


def test_invalid_default_is_dropped_not_blamed_on_the_person() -> None:
    form = Form((FormField(id="n", label="n", type="long", default="abc"),))
    assert validate_submission(form, {}) == {}


def test_form_round_trips_through_json() -> None:
    restored = Form.from_dict(json.loads(json.dumps(FORM.to_dict())))
    assert restored == FORM
    assert restored.field("kind") == KIND
    assert restored.field("missing") is None
    assert isinstance(restored.field("kind").options[0], tuple)


# --- property test ------------------------------------------------------------------------------

EXPECTED_TYPES = {"string": str, "long": int, "boolean": bool, "date": str, "enum": str}
FIELD_IDS = [f.id for f in FORM.fields]

scalar_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(["2024-02-29", "2025-02-30", "local", "on", "0", " 7 ", "张三"]),
    st.dates(), st.binary(max_size=5),
)
values = st.one_of(scalar_values, st.lists(scalar_values, max_size=3),
                   st.dictionaries(st.text(max_size=3), scalar_values, max_size=2))
keys = st.one_of(st.sampled_from(FIELD_IDS), st.text(max_size=8), st.integers())
plausible = {
    "name": st.text(alphabet="张三李四ab", min_size=2, max_size=10),
    "age": st.integers(-5, 120).map(str), "agree": st.booleans(),
    "birth": st.dates(dt.date(1995, 1, 1), dt.date(2035, 1, 1)).map(dt.date.isoformat),
    "kind": st.sampled_from(["local", "other"]), "case_no": st.text(max_size=5), "note": st.text(max_size=20),
}


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.dictionaries(keys, values, max_size=8),
    # Known keys only, so a good share of examples get past the unknown-key check and succeed.
    st.fixed_dictionaries({}, optional={k: st.one_of(v, scalar_values) for k, v in plausible.items()}),
    st.fixed_dictionaries({"name": plausible["name"]},
                          optional={k: v for k, v in plausible.items() if k != "name"}),
))
def test_property_returns_declared_types_or_raises_form_errors(submitted: dict[Any, Any]) -> None:
    try:
        result = validate_submission(FORM, submitted)
    except FormErrors as exc:
        assert exc.errors and all(isinstance(v, str) and v for v in exc.errors.values())
        return
    assert set(result) <= {f.id for f in FORM.fields if not f.readonly}
    for key, value in result.items():
        field = FORM.field(key)
        if value is None:  # a non-text field sent blank clears the earlier value
            assert field.type not in ("string", "boolean") and not field.required
            assert submitted[key] is None or not str(submitted[key]).strip()
            continue
        assert type(value) is EXPECTED_TYPES[field.type]
        if field.type == "date":
            assert dt.date.fromisoformat(value).isoformat() == value
        if field.type == "enum":
            assert value in {opt for opt, _ in field.options}
        if field.type == "long":
            assert 0 <= value <= 100


def test_blank_optional_field_clears_an_earlier_value():
    form = Form(fields=(
        FormField(id="missing_materials", label="缺少的材料", type="string"),
        FormField(id="floor_area", label="面积", type="long"),
        FormField(id="note", label="备注", type="string"),
    ))
    cleaned = validate_submission(form, {"missing_materials": "", "floor_area": " "})
    assert cleaned == {"missing_materials": "", "floor_area": None}
    assert "note" not in cleaned  # not sent: the case data keeps whatever it had


# -- the numbers Chinese forms ask for (camunda:constraint idcard / mobile / uscc) -------------------

ID_NO = FormField(id="id_no", label="身份证号码", type="string", format="idcard")
MOBILE = FormField(id="mobile", label="手机号码", type="string", format="mobile")
USCC = FormField(id="credit_code", label="统一社会信用代码", type="string", format="uscc")
NUMBERS = Form((ID_NO, MOBILE, USCC))


@pytest.mark.parametrize("field, value, cleaned", [
    (ID_NO, "110101199001011237", "110101199001011237"),
    (ID_NO, "11010119900101100x", "11010119900101100X"),  # the check character X, typed in lower case
    (ID_NO, "51010419851212104X", "51010419851212104X"),
    (MOBILE, "13812345678", "13812345678"),
    (MOBILE, "19900000000", "19900000000"),
    (USCC, "91350100M000100Y43", "91350100M000100Y43"),  # a published example
    (USCC, "91120221ma05teq0a0", "91120221MA05TEQ0A0"),
])
def test_valid_numbers_pass_in_their_normal_form(field, value, cleaned) -> None:
    assert validate_submission(Form((field,)), {field.id: value}) == {field.id: cleaned}


@pytest.mark.parametrize("field, value, message", [
    (ID_NO, "110101199001011234", "身份证号码校验位不正确，请核对"),  # GB 11643-1999 MOD 11-2
    (ID_NO, "110101199002301238", "身份证号码中的出生日期无效"),  # 30 February
    (ID_NO, "11010119900101123", "身份证号码应为 18 位，前 17 位为数字，最后一位为数字或 X"),
    (ID_NO, "1101011990010112X7", "身份证号码应为 18 位，前 17 位为数字，最后一位为数字或 X"),
    (MOBILE, "12812345678", "请输入 11 位手机号码（以 13–19 开头）"),
    (MOBILE, "1381234567", "请输入 11 位手机号码（以 13–19 开头）"),
    (MOBILE, "028-86123456", "请输入 11 位手机号码（以 13–19 开头）"),
    (USCC, "91350100M000100Y44", "统一社会信用代码校验位不正确，请核对"),  # GB 32100-2015
    (USCC, "91120221MA05TEST01", "统一社会信用代码应为 18 位数字或大写字母（不含 I、O、Z、S、V）"),
    (USCC, "91350100M000100Y4", "统一社会信用代码应为 18 位数字或大写字母（不含 I、O、Z、S、V）"),
])
def test_invalid_numbers_are_refused_with_the_reason(field, value, message) -> None:
    assert errors_of(NUMBERS, {field.id: value}) == {field.id: message}


def test_rules_between_fields_required_if_and_at_least_one() -> None:
    complete = FormField(id="complete", label="材料齐全", type="boolean")
    missing = FormField(id="missing", label="一次告知", type="string", required_if=(("complete", "false"),))
    choice = FormField(id="choice", label="办理方式", type="enum", options=(("package", "集成"), ("custom", "自选")),
                       at_least_one=("custom", ("want_a", "want_b")))
    a, b = FormField(id="want_a", label="事项甲", type="boolean"), FormField(id="want_b", label="事项乙", type="boolean")
    form = Form((complete, missing, choice, a, b))
    assert errors_of(form, {"complete": "false", "missing": " ", "choice": "custom"}) == {
        "missing": "此项为必填项", "choice": "请至少勾选一项：事项甲、事项乙"}
    assert validate_submission(form, {"complete": "true", "missing": "", "choice": "package"})["missing"] == ""
    assert validate_submission(form, {"complete": "false", "missing": "缺营业执照", "choice": "custom",
                                      "want_b": "true"})["want_b"] is True
    assert Form.from_dict(json.loads(json.dumps(form.to_dict()))) == form


def test_required_if_accepts_alternative_values() -> None:
    """好差评: the comment is required for 不满意 or 非常不满意 (rating=unsatisfied|very_unsatisfied), not otherwise."""
    rating = FormField(id="rating", label="整体服务评价", type="enum",
                       options=(("satisfied", "满意"), ("unsatisfied", "不满意"), ("very_unsatisfied", "非常不满意")))
    comment = FormField(id="comment", label="评价意见", type="string",
                        required_if=(("rating", "unsatisfied|very_unsatisfied"),))
    form = Form(fields=(rating, comment))
    for level in ("unsatisfied", "very_unsatisfied"):
        with pytest.raises(FormErrors) as err:
            validate_submission(form, {"rating": level, "comment": ""})
        assert err.value.errors == {"comment": "此项为必填项"}
    assert validate_submission(form, {"rating": "satisfied", "comment": ""})["rating"] == "satisfied"


def test_a_field_shown_only_if_the_case_variables_say_so() -> None:
    """shown_if is evaluated against the case variables the task sees: a hidden field is not on the
    form, so it is neither required nor accepted; a bare name holds when the variable is set and not
    empty, false or null."""
    ran = FormField(id="rating_a", label="事项评价：甲", type="enum", required=True,
                    options=(("good", "好"), ("bad", "差")), shown_if=(("a_result", ""),))
    chosen = FormField(id="note", label="说明", type="string", shown_if=(("route", "x|y"), ("urgent", "true")))
    form = Form((FormField(id="rating", label="整体", type="string"), ran, chosen))
    assert form.conditional and not Form((FormField(id="n", label="名称", type="string"),)).conditional
    assert [f.id for f in form.shown({"a_result": "approved", "route": "y", "urgent": True}).fields] == [
        "rating", "rating_a", "note"]
    for variables in ({}, {"a_result": ""}, {"a_result": None}, {"a_result": False}):
        assert [f.id for f in form.shown(variables).fields] == ["rating"]
    assert [f.id for f in form.shown({"route": "x", "urgent": False}).fields] == ["rating"]
    assert validate_submission(form.shown({}), {"rating": "好"}) == {"rating": "好"}  # the hidden required field
    assert errors_of(form.shown({"a_result": "approved"}), {"rating": "好"}) == {"rating_a": "此项为必填项"}
    assert "rating_a" in errors_of(form.shown({}), {"rating": "好", "rating_a": "good"})["__all__"]
    assert Form.from_dict(form.to_dict()) == form
