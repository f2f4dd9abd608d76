"""WTForms generated from BPMN form fields: one input per field and type, constraints as attributes,
typed values kept, the engine's messages on their fields; and the masking rules."""
from __future__ import annotations

from werkzeug.datastructures import MultiDict

from yijianshi.engine.errors import FormErrors
from yijianshi.engine.modeling.forms import Form, FormField, validate_submission
from yijianshi.web.bpmn_forms import TaskForm, field_hint
from yijianshi.web.masking import Masker, mask_id, mask_phone, mask_text
from tests.web.conftest import ROOT

FORM = Form((
    FormField("name", "名称", "string", required=True, maxlength=20),
    FormField("note", "说明", "string", maxlength=2000),
    FormField("count", "数量", "long", min=1, max=99),
    FormField("agreed", "同意", "boolean", checked=True),
    FormField("approved", "通过", "boolean", required=True),
    FormField("day", "日期", "date", min="2025-01-01"),
    FormField("kind", "类别", "enum", default="a", options=(("a", "甲"), ("b", "乙"))),
    FormField("city", "城市", "enum", options=tuple((c, c) for c in ("京", "沪", "津", "渝", "蓉"))),
    FormField("notice", "告知", "string", readonly=True),
    FormField("owner_id_no", "身份证号码", "string"),
))


def _html(app, form: TaskForm) -> dict[str, str]:
    with app.test_request_context():
        return {f.name: str(f()) for f in form}


def test_each_field_type_gets_its_input(app):
    form = TaskForm(FORM, None, {"name": "甲公司", "agreed": True, "kind": "b"})
    html = _html(app, form)
    with app.test_request_context():
        hint = field_hint(FORM.field("count"))
    assert list(html) == ["name", "note", "count", "agreed", "approved", "day", "kind", "city", "owner_id_no"]
    assert 'maxlength="20"' in html["name"] and 'required' in html["name"] and 'value="甲公司"' in html["name"]
    assert html["note"].startswith("<textarea")
    assert 'inputmode="numeric"' in html["count"]
    assert 'type="checkbox"' in html["agreed"] and "checked" in html["agreed"] and "required" in html["agreed"]
    # A required yes/no has a value either way: the browser must not insist on a tick.
    assert 'type="checkbox"' in html["approved"] and "required" not in html["approved"]
    assert 'type="date"' in html["day"] and 'min="2025-01-01"' in html["day"]
    assert 'type="radio"' in html["kind"] and html["kind"].count("<input") == 2
    assert html["city"].startswith("<select") and "—" in html["city"]  # five options: a drop-down
    assert [f.id for f in form.readonly] == ["notice"]
    assert hint == "整数 · 不小于 1 · 不大于 99"


def test_typed_values_are_kept_and_engine_messages_land_on_their_fields(app):
    posted = MultiDict({"name": "", "count": "十", "day": "2024-12-31", "kind": "a", "notice": "forged"})
    with app.test_request_context():
        form = TaskForm(FORM, posted)
        submission = form.submission()
        assert "notice" not in submission  # read-only: never sent
        assert submission["agreed"] == "false" and submission["count"] == "十"
        try:
            validate_submission(FORM, submission)
        except FormErrors as err:
            form.show_errors(err.errors)
        assert form["name"].errors == ["此项为必填项"]
        assert form["count"].errors == ["请输入整数"] and 'value="十"' in str(form["count"]())
        assert form["agreed"].errors == ["请勾选此项"]
        assert submission["approved"] == "false" and not form["approved"].errors  # unticked: false, accepted
        assert form["day"].errors == ["不能早于 2025-01-01"]
        assert form.has_errors


def test_withheld_personal_fields_are_not_sent(app):
    with app.test_request_context():
        form = TaskForm(FORM, MultiDict({"owner_id_no": "masked?"}), withheld=frozenset({"owner_id_no"}))
        assert "owner_id_no" not in form.submission()
        assert [f.id for f in form.readonly] == ["notice", "owner_id_no"]


def test_masking_rules():
    assert mask_id("110101199001011237") == "110101********1237"
    assert mask_id("11010119900101100X") == "110101********100X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_text("电话 13812345678，证件 110101199001011237。") == "电话 138****5678，证件 110101********1237。"
    masker = Masker(True)
    assert masker.value("legal_rep_id_no", "110101199001011237") == "110101********1237"
    assert masker.value("contact_phone", "028-86123456") == "028*****3456"
    assert masker.value("enterprise_name", "蓉城小馆") == "蓉城小馆"
    assert Masker(False).value("legal_rep_id_no", "110101199001011237") == "110101199001011237"


def test_promised_limits_are_read_from_due_date_expressions(app):
    from yijianshi.engine.modeling.time_limits import Limit, limit_of

    assert limit_of("now() + days(3)") == Limit(3, "days")
    assert limit_of("working_days(7)") == limit_of("working_days(7, 'hedong')") == Limit(7, "working_days")
    assert limit_of("add_working_days(accepted_at, 20)") == Limit(20, "working_days")
    assert limit_of("now() + hours(4)") == Limit(4, "hours")
    assert limit_of("deadline_from_data") is None and limit_of(None) is None
    with app.test_request_context():
        assert str(Limit(7, "working_days")) == "7 个工作日"


def test_a_rejection_asks_for_confirmation_in_the_page(app):
    """camunda:constraint confirm ("false: 确定审查不通过…") becomes data attributes app.js reads to
    ask before a rejection is sent; the server still requires the reason (required_if)."""
    form = Form((FormField("x_approved", "审查通过", "boolean", confirm=("false", "确定审查不通过吗？")),
                 FormField("x_reason", "理由", "string", required_if=(("x_approved", "false"),))))
    html = _html(app, TaskForm(form))["x_approved"]
    assert 'data-confirm-when="false"' in html and 'data-confirm-question="确定审查不通过吗？"' in html
    try:
        validate_submission(form, TaskForm(form, MultiDict({"x_reason": ""})).submission())
    except FormErrors as err:
        assert err.errors == {"x_reason": "此项为必填项"}
    else:
        raise AssertionError("a rejection without a reason was accepted")
    script = (ROOT / "web" / "static" / "app.js").read_text(encoding="utf-8")
    assert "data-confirm-question" in script and "window.confirm" in script
