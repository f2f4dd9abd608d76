"""The differences between two versions of a definition, by element id."""
from __future__ import annotations

from pathlib import Path

import pytest

from yijianshi.engine.modeling.version_diff import diff_definitions, elements_of, readable_aspect
from yijianshi.engine.errors import DefinitionError

DESIGN = Path(__file__).parent / "web" / "fixtures" / "design"
V1 = (DESIGN / "stall_permit.bpmn").read_text(encoding="utf-8")
V2 = (DESIGN / "stall_permit_v2.bpmn").read_text(encoding="utf-8")


def changes_of(diff) -> dict[str, dict[str, tuple]]:
    return {c.new.id: {a.label: (a.old, a.new) for a in c.changes} for c in diff.changed}


def test_added_removed_and_changed_elements_between_two_versions():
    diff = diff_definitions([("stall_permit.bpmn", V1)], [("stall_permit.bpmn", V2)])
    assert sorted(e.id for e in diff.added) == ["end", "f_notify_end", "notify"]
    assert {e.id: e.type for e in diff.added}["notify"] == "userTask"
    assert {e.id: e.name for e in diff.added}["notify"] == "告知办理结果"
    assert sorted(e.id for e in diff.removed) == ["end_approved", "end_rejected"]
    changed = changes_of(diff)
    assert changed == {
        "accept": {"formField[stall_address]@label": ("占道经营地点", "占道经营地点（详细地址）")},
        "review": {"candidateGroups": ("urban_mgmt", "urban_mgmt,market"),
                   "dueDate": ("now() + days(5)", "now() + days(3)")},
        "f_approved": {"conditionExpression": ("stall_approved == True", "stall_approved"),
                       "targetRef": ("end_approved", "notify")},
        "f_rejected": {"targetRef": ("end_rejected", "notify")},
    }
    # The start event moved on the diagram only, and the gateway's incoming/outgoing are not changes.
    assert "start" not in changed and "gw" not in changed


def test_same_files_and_moved_shapes_are_no_difference():
    assert diff_definitions([("a.bpmn", V1)], [("a.bpmn", V1)]).is_empty
    moved = V1.replace('<dc:Bounds x="340" y="98"', '<dc:Bounds x="360" y="140"').replace(
        '<di:waypoint x="290" y="138" />', '<di:waypoint x="300" y="150" />')
    assert moved != V1
    assert diff_definitions([("a.bpmn", V1)], [("renamed.bpmn", moved)]).is_empty


def test_ids_for_marking_the_diagrams():
    diff = diff_definitions([("a.bpmn", V1)], [("a.bpmn", V2)])
    marks = diff.ids()["stall_permit"]
    assert sorted(marks["added"]) == ["end", "f_notify_end", "notify"]
    assert sorted(marks["removed"]) == ["end_approved", "end_rejected"]
    assert sorted(marks["changed"]) == ["accept", "f_approved", "f_rejected", "review"]


PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="lane_a" name="market">{lane}</bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s" />
    <bpmn:userTask id="t" name="审查" />
    <bpmn:boundaryEvent id="timer" attachedToRef="t" cancelActivity="{cancel}">
      <bpmn:timerEventDefinition id="{ted_id}"><bpmn:timeDate>{time}</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="e">{end}</bpmn:endEvent>
    <bpmn:subProcess id="sub"><bpmn:task id="inner" name="{inner}" /></bpmn:subProcess>
  </bpmn:process>
</bpmn:definitions>"""
BASE = dict(lane="<bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>t</bpmn:flowNodeRef>", cancel="true",
            ted_id="TimerEventDefinition_1", time="add_working_days(now_iso(), 5)", end="", inner="内部")


def diff_with(**changes):
    return diff_definitions([("p.bpmn", PROCESS.format(**BASE))], [("p.bpmn", PROCESS.format(**{**BASE, **changes}))])


def test_generated_ids_of_inner_parts_and_lane_order_mean_nothing():
    assert diff_with(ted_id="TimerEventDefinition_0x9z").is_empty
    assert diff_with(lane="<bpmn:flowNodeRef>t</bpmn:flowNodeRef><bpmn:flowNodeRef>s</bpmn:flowNodeRef>").is_empty


@pytest.mark.parametrize("change, element, aspect", [
    (dict(time="add_working_days(now_iso(), 7)"), "timer", "timerEventDefinition/timeDate"),
    (dict(cancel="false"), "timer", "cancelActivity"),
    (dict(lane="<bpmn:flowNodeRef>s</bpmn:flowNodeRef>"), "lane_a", "flowNodeRef"),
    (dict(end='<bpmn:terminateEventDefinition id="x" />'), "e", "terminateEventDefinition"),
])
def test_meaningful_inner_changes_are_reported_on_their_element(change, element, aspect):
    diff = diff_with(**change)
    assert not diff.added and not diff.removed
    assert [(c.new.id, [a.label for a in c.changes]) for c in diff.changed] == [(element, [aspect])]


def test_elements_of_an_embedded_subprocess_are_elements_of_their_own():
    diff = diff_with(inner="外部")
    assert [(c.new.id, c.new.type, [(a.aspect, a.old, a.new) for a in c.changes]) for c in diff.changed] == \
        [("inner", "task", [("name", "内部", "外部")])]


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dd" name="n" namespace="x">
  <decision id="route" name="分派">
    <decisionTable id="table" hitPolicy="{hit}">
      <input id="in1" label="选择"><inputExpression id="ie1" typeRef="string"><text>item_choice</text></inputExpression></input>
      <output id="out1" name="want_food" typeRef="boolean" />
      <rule id="r1"><inputEntry id="a1"><text>"all"</text></inputEntry><outputEntry id="b1"><text>{out}</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""


def test_decision_tables_compare_by_rule():
    old = [("route.dmn", DMN.format(hit="FIRST", out="True"))]
    diff = diff_definitions(old, [("route.dmn", DMN.format(hit="FIRST", out="False"))])
    assert [(c.new.scope, c.new.id, c.new.type, [(a.label, a.old, a.new) for a in c.changes]) for c in diff.changed] \
        == [("route", "r1", "rule", [("outputEntry/text", "True", "False")])]
    diff = diff_definitions(old, [("route.dmn", DMN.format(hit="UNIQUE", out="True"))])
    assert [(c.new.id, [a.label for a in c.changes]) for c in diff.changed] == [("table", ["hitPolicy"])]


def test_same_element_id_in_two_processes_is_two_elements():
    other = PROCESS.replace('id="p"', 'id="q"').format(**BASE)
    found = elements_of([("p.bpmn", PROCESS.format(**BASE)), ("q.bpmn", other)])
    assert ("p", "t") in found and ("q", "t") in found


def test_hostile_source_is_a_definition_error_not_a_crash():
    with pytest.raises(DefinitionError):
        diff_definitions([("a.bpmn", V1)], [("b.bpmn", '<!DOCTYPE x [<!ENTITY a "b">]><x/>')])


def test_readable_aspect_drops_camunda_wrappers():
    assert readable_aspect("bpmn:extensionElements/camunda:formData/camunda:formField[x]/camunda:validation/"
                           "camunda:constraint[required]") == "formField[x]/constraint[required]"
