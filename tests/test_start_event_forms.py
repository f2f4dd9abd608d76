"""A start-event form (camunda:formData on the start event, as Camunda Modeler writes it for
Camunda 7) is the data a case starts with: validated at every start, nothing written on refusal,
the cleaned values become the case data. Models without one keep the first-step application form."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.errors import DefinitionError, FormErrors
from yijianshi.engine.modeling.definitions import SourceFile, parse_deployment
from yijianshi.storage import case_store
from yijianshi.storage.tables import Case
from tests.conftest import FIXTURES

MODEL = FIXTURES / "camunda" / "modeler_start_form.bpmn"
KEY = "modeler_start_form"
APPLICANT = Actor("zhang", frozenset({"applicant"}))
GOOD = {"organizer_name": " 东城文化馆 ", "attendees": "120", "outdoor": "true", "category": "culture",
        "event_date": "2026-05-01"}


def test_the_start_event_form_is_read_into_the_definition():
    (d,) = parse_deployment([SourceFile(MODEL.name, MODEL.read_bytes())]).definitions
    assert d.start_form is not None
    assert [(f.id, f.type, f.required) for f in d.start_form.fields] == [
        ("organizer_name", "string", True), ("attendees", "long", True), ("outdoor", "boolean", False),
        ("category", "enum", True), ("event_date", "date", True)]
    assert d.start_form.field("attendees").min == 10


def test_a_start_form_on_a_message_start_event_is_refused_with_its_line():
    text = MODEL.read_text(encoding="utf-8").replace(
        '<bpmn:outgoing>Flow_0apply</bpmn:outgoing>\n    </bpmn:startEvent>',
        '<bpmn:outgoing>Flow_0apply</bpmn:outgoing>\n      <bpmn:messageEventDefinition id="m" />\n    </bpmn:startEvent>')
    with pytest.raises(DefinitionError) as err:
        parse_deployment([SourceFile(MODEL.name, text.encode())])
    assert any(p.element == "StartEvent_apply" and p.line == 4 and "空开始事件" in p.message
               for p in err.value.problems), err.value.problems


def _case_count(engine) -> int:
    with engine.db.reader.connect() as conn:
        return conn.execute(select(func.count()).select_from(Case)).scalar_one()


def test_good_start_data_becomes_typed_case_data(engine):
    engine.deploy([MODEL])
    case = engine.cases.start_case(KEY, GOOD, APPLICANT)
    data = engine.cases.workflow_of(case.id).last_task.data
    assert {k: data[k] for k in GOOD} == {"organizer_name": "东城文化馆", "attendees": 120, "outdoor": True,
                                         "category": "culture", "event_date": "2026-05-01"}
    with engine.db.reader.connect() as conn:
        row = case_store.case_row(conn, case.id)
        started = case_store.case_events(conn, case.id, ["case_started"])[0]
    assert row.title == "活动备案（开始表单）：东城文化馆"
    assert '"attendees": 120' in started.data or '"attendees":120' in started.data
    assert [r.task_spec for r in case.ready] == ["Activity_review"]


@pytest.mark.parametrize("bad, fields", [
    ({}, {"organizer_name", "attendees", "category", "event_date"}),
    ({**GOOD, "attendees": "5"}, {"attendees"}),
    ({**GOOD, "category": "music", "event_date": "2025-12-31"}, {"category", "event_date"}),
    ({**GOOD, "outdoor": "maybe"}, {"outdoor"}),
    ({**GOOD, "salary": 1}, {"__all__"}),
])
def test_bad_start_data_is_refused_per_field_and_nothing_is_written(engine, bad, fields):
    engine.deploy([MODEL])
    with pytest.raises(FormErrors) as err:
        engine.cases.start_case(KEY, bad, APPLICANT)
    assert set(err.value.errors) == fields
    assert all(err.value.errors.values())
    assert _case_count(engine) == 0


def test_the_engine_tells_whether_a_process_has_a_start_event_form(engine):
    engine.deploy([MODEL, FIXTURES / "camunda" / "modeler_review.bpmn"])
    assert engine.cases.start_event_form(KEY).field("category") is not None
    assert engine.cases.start_event_form("modeler_review") is None


def test_the_cli_start_enforces_the_start_event_form(db_url, capsys):
    from yijianshi.cli.main import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--db", db_url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    assert run("db", "upgrade")[0] == 0
    assert run("deploy", str(MODEL))[0] == 0
    code, _, err = run("start", KEY, "--data", '{"organizer_name": "东城文化馆", "attendees": 3}')
    assert code == 1 and "attendees: 不能小于 10" in err and "category: 此项为必填项" in err
    assert "已立案" not in err
    code, out, _ = run("start", KEY, "--data", '{"organizer_name": "东城文化馆", "attendees": 30, '
                                              '"category": "sports", "event_date": "2026-06-01"}')
    assert code == 0 and "已立案：案件 1" in out and "备案审查" in out
