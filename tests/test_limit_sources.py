"""The sources of promised limits (时限依据): the lint rules LS01–LS03 and the shipped catalogue."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from yijianshi.engine.modeling.definitions import SourceFile
from yijianshi.engine.modeling.limit_sources import source_format_problem
from yijianshi.engine.modeling.lint import lint_files, lint_sources, lint_warnings

pytestmark = pytest.mark.unit
PROCESSES = Path(__file__).resolve().parents[1] / "processes"
HEAD = ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">')


def _file(task_props: str = "", process_props: str = "", script: str = "x = 1") -> SourceFile:
    ext = f"<bpmn:extensionElements><camunda:properties>{task_props}</camunda:properties></bpmn:extensionElements>"
    pext = f"<bpmn:extensionElements><camunda:properties>{process_props}</camunda:properties></bpmn:extensionElements>"
    xml = (f'{HEAD}<bpmn:process id="p" isExecutable="true">{pext}<bpmn:startEvent id="s"/>'
           f'<bpmn:scriptTask id="init" scriptFormat="python"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'
           f'<bpmn:userTask id="t" name="审查" camunda:candidateGroups="market" camunda:dueDate="working_days(3)">{ext}'
           '</bpmn:userTask><bpmn:endEvent id="e"/>'
           '<bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="init"/><bpmn:sequenceFlow id="f1" sourceRef="init" targetRef="t"/>'
           '<bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/></bpmn:process></bpmn:definitions>')
    return SourceFile("p.bpmn", xml.encode())


def _codes(problems) -> list[str]:
    return [p.message[:4] for p in problems if p.message.startswith("LS")]


def test_the_shipped_catalogue_names_a_source_for_every_limit():
    assert [p for p in lint_files([PROCESSES]) if p.message.startswith("LS")] == []


def test_a_limit_without_a_source_is_an_error_in_a_catalogue_that_documents_sources(tmp_path):
    shutil.copytree(PROCESSES, tmp_path / "processes")
    item = tmp_path / "processes" / "open_restaurant" / "items" / "signboard.bpmn"
    text = item.read_text(encoding="utf-8")
    start = text.index('<camunda:property name="limit_source"')
    item.write_text(text[:start] + text[text.index("/>", start) + 2:], encoding="utf-8")
    problems = [p for p in lint_files([tmp_path / "processes"]) if p.message.startswith("LS")]
    assert {(Path(p.file).name, p.element) for p in problems} == {
        ("signboard.bpmn", "review_signboard"), ("signboard.bpmn", "overdue_signboard"),
        ("signboard.bpmn", "warn_signboard")}
    assert "时限无依据" in problems[0].message and "户外招牌设置审核" in "".join(p.message for p in problems)


def test_files_that_document_no_source_get_a_warning_only():
    src = _file()
    assert _codes(lint_sources([src])) == []
    assert _codes(lint_warnings([src])) == ["LS01"]


def test_a_malformed_source_is_refused():
    assert _codes(lint_sources([_file('<camunda:property name="limit_source" value="行政许可法"/>')])) == ["LS02"]
    assert source_format_problem("《中华人民共和国行政许可法》第三十二条") is None
    assert source_format_problem("local default：本地规定") is None
    assert source_format_problem("《中华人民共和国行政许可法》") is not None  # no clause


def test_a_documented_amount_must_match_the_script_that_carries_it():
    sourced = '<camunda:property name="limit_source" value="local default"/>'
    ok = _file(sourced, '<camunda:property name="general_limit_days" value="7"/>', "general_limit_days = 7")
    assert _codes(lint_sources([ok])) == []
    wrong = _file(sourced, '<camunda:property name="general_limit_days" value="7"/>', "general_limit_days = 8")
    (problem,) = [p for p in lint_sources([wrong]) if p.message.startswith("LS")]
    assert problem.message.startswith("LS03") and "general_limit_days 为 7" in problem.message
