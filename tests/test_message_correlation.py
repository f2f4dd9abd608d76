"""Message correlation as Camunda 7 does it (issue #12, item 5): a reply reaches the one waiting case
by its business key or by any of its variables given at delivery, with no hand-written
bpmn:correlationProperty; a correlation property whose variable the case lacks no longer fails the
delivery. On SQLite and PostgreSQL; the `engine` fixture re-executes every case at teardown."""
from __future__ import annotations

import pytest

from tests.conftest import FIXTURES
from yijianshi.engine.access.actors import Actor
from yijianshi.engine.errors import AmbiguousCorrelation, NotFound
from yijianshi.storage import case_store

FRONT = Actor("chuangkou", frozenset({"front_desk"}))
BY_VARIABLE = FIXTURES / "camunda" / "message_by_variable.bpmn"
REPLY = "dept_reply_by_variable"


def _waiting_case(engine, letter_no: str, **data) -> int:
    started = engine.cases.start_case("message_by_variable", data, FRONT)
    engine.cases.complete_work_item(started.ready[0].id, {"letter_no": letter_no}, FRONT)
    return started.id


def _ready(engine, case_id: int) -> list[str]:
    return sorted(t.task_spec.name for t in engine.cases.workflow_of(case_id).get_tasks()
                  if t.state == 16 and t.task_spec.manual)  # READY


def test_a_reply_reaches_the_case_by_one_of_its_variables(engine):
    engine.deploy([BY_VARIABLE])
    first = _waiting_case(engine, "HF-1", applicant="张三")
    second = _waiting_case(engine, "HF-2", applicant="李四")
    done = engine.cases.deliver_message(REPLY, {"letter_no": "HF-2"}, {"reply": "同意"})
    assert done.id == second and [r.task_spec for r in done.ready] == ["Activity_decide"]
    decide = engine.cases.workflow_of(second).get_next_task(spec_name="Activity_decide")
    assert decide.data["Event_reply_Response"] == {"reply": "同意"}
    assert _ready(engine, first) == []  # still waiting
    # every key must match, by name and value
    with pytest.raises(NotFound):
        engine.cases.deliver_message(REPLY, {"letter_no": "HF-1", "applicant": "李四"}, {})
    done = engine.cases.deliver_message(REPLY, {"letter_no": "HF-1", "applicant": "张三"}, {"reply": "不同意"})
    assert done.id == first


def test_a_variable_several_waiting_cases_share_is_ambiguous(engine):
    engine.deploy([BY_VARIABLE])
    _waiting_case(engine, "HF-9", district="武侯区")
    _waiting_case(engine, "HF-10", district="武侯区")
    with pytest.raises(AmbiguousCorrelation, match="2 个案件"):
        engine.cases.deliver_message(REPLY, {"district": "武侯区"}, {})
    assert engine.cases.deliver_message(REPLY, {"district": "武侯区", "letter_no": "HF-10"}, {}).ready


def test_the_variables_are_not_shown_as_the_cases_correlation_keys(engine):
    engine.deploy([BY_VARIABLE])
    case_id = _waiting_case(engine, "HF-3", applicant="王五")
    with engine.db.reader.connect() as conn:
        assert "letter_no" not in str(case_store.correlations_of(conn, case_id))
        assert case_store.cases_waiting_for(conn, REPLY, {"applicant": "王五"}) == [case_id]


def test_a_correlation_property_the_case_lacks_does_not_fail_the_delivery(engine, tmp_path):
    """The known problem the corpus found: c11's property reads `letter_no`; a case that never set it
    (here its first form asks a note instead) got `表达式运行出错：'letter_no'：NameError` when a reply
    reached it by other keys."""
    source = (FIXTURES / "camunda" / "corpus" / "c11_message_reply.bpmn").read_text(encoding="utf-8")
    variant = source.replace('<camunda:formField id="letter_no" label="函件编号" type="string">',
                             '<camunda:formField id="note" label="备注" type="string">', 1)
    assert variant != source
    path = tmp_path / "no_letter.bpmn"
    path.write_text(variant, encoding="utf-8")
    engine.deploy([path])
    started = engine.cases.start_case("corpus_message_reply", {"ref": "R-1"}, FRONT)
    engine.cases.complete_work_item(started.ready[0].id, {"note": "电话通知"}, FRONT)
    done = engine.cases.deliver_message("corpus_dept_reply", {"ref": "R-1"}, {"reply": "同意"})
    assert [r.task_spec for r in done.ready] == ["Activity_decide"]
