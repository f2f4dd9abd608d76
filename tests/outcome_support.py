"""Generated event logs whose true figures are known: cases of the test scenario outcome_demo
(tests/fixtures/outcomes: 填写申请 → 受理 ⇄ 补正材料 → 甲证 ∥ 乙证, limits 2 and 3, critical path 3)
driven through the real engine on a controlled clock, each step at a chosen working day."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.cases.materials import NewMaterial
from yijianshi.engine.clock import SHANGHAI
from yijianshi.storage.tables import WorkItem
from tests.conftest import FIXTURES

OUTCOME_MODELS = sorted((FIXTURES / "outcomes").glob("*.bpmn"))
CLERK = Actor("window_clerk", frozenset({"front_desk", "applicant"}), name="窗口人员")
MARKET = Actor("market_clerk", frozenset({"market"}), name="市场监管")
TAX = Actor("tax_clerk", frozenset({"tax"}), name="税务")
items = WorkItem.__table__


@dataclass(frozen=True)
class Plan:
    """One case: started on `day` (a working day) by its owner online or by the window clerk; each
    一次告知 round takes one working day (补正 the next working day, accepted again then); items 甲
    and 乙 end `a` and `b` working days after the acceptance."""

    day: date
    a: int
    b: int
    rounds: int = 0
    owner: str = "zhang"
    window: bool = False  # started at the window (代办申请)
    files: tuple[str, ...] = ()  # contents (sha256) handed in with the application

    def elapsed(self) -> int:
        return self.rounds + max(self.a, self.b)


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), SHANGHAI)


def _file(sha: str) -> NewMaterial:
    return NewMaterial(f"{sha[:8]}.pdf", "application/pdf", 100, sha.ljust(64, "0")[:64])


def _ready(engine, case_id: int, task_spec: str) -> str:
    with engine.db.reader.connect() as conn:
        row = conn.execute(select(items.c.id).where(items.c.case_id == case_id, items.c.task_spec == task_spec,
                                                    items.c.state == "ready")).first()
    assert row is not None, (case_id, task_spec)
    return row[0]


def start(engine, plan: Plan) -> int:
    """Start a case of the plan and hand in its application; returns its id."""
    calendar = engine.calendar.calendar
    engine.clock.set(at(plan.day, 9))
    owner = Actor(plan.owner, frozenset({"applicant"}))
    files = [_file(f) for f in plan.files]
    if plan.window:
        case = engine.cases.start_case("outcome_demo", {}, CLERK, started_by=plan.owner,
                                       start_form={"applicant_name": plan.owner}, start_materials=files)
        case_id = case.id
    else:
        case_id = engine.cases.start_case("outcome_demo", {}, owner).id
        engine.clock.set(at(plan.day, 9, 30))
        engine.cases.complete_work_item(_ready(engine, case_id, "apply"), {"applicant_name": plan.owner}, owner,
                                        materials=files)
    day = plan.day
    engine.clock.set(at(day, 10))
    for _ in range(plan.rounds):
        engine.cases.complete_work_item(_ready(engine, case_id, "accept"), {"complete": False}, CLERK)
        day = calendar.next_working_day(day)
        engine.clock.set(at(day, 9))
        engine.cases.complete_work_item(_ready(engine, case_id, "supplement"), {"supplement_note": "已补"},
                                        owner)
        engine.clock.set(at(day, 10))
    engine.cases.complete_work_item(_ready(engine, case_id, "accept"), {"complete": True}, CLERK)
    return case_id


def finish(engine, plan: Plan, case_id: int) -> None:
    """Let the items end as planned (the acceptance was `plan.rounds` working days after the start)."""
    calendar = engine.calendar.calendar
    accepted = calendar.add_working_days(plan.day, plan.rounds).date() if plan.rounds else plan.day
    for task, actor, n in sorted((("review_a", MARKET, plan.a), ("review_b", TAX, plan.b)), key=lambda t: t[2]):
        day = calendar.add_working_days(accepted, n).date() if n else accepted
        engine.clock.set(at(day, 16))
        engine.cases.complete_work_item(_ready(engine, case_id, task), {}, actor)


def run(engine, plans: list[Plan]) -> list[int]:
    """Each plan's case from start to completion, one after another."""
    ids = []
    for plan in plans:
        case_id = start(engine, plan)
        finish(engine, plan, case_id)
        ids.append(case_id)
    return ids


def drawn_models(folder) -> list:
    """Copies of the outcome models with a simple diagram (BPMN DI: the flow nodes in a row), so
    bpmn-js can draw them; the models themselves carry no layout."""
    from lxml import etree
    bpmn = "http://www.omg.org/spec/BPMN/20100524/MODEL"
    di, dc = "http://www.omg.org/spec/BPMN/20100524/DI", "http://www.omg.org/spec/DD/20100524/DC"
    ddi = "http://www.omg.org/spec/DD/20100524/DI"
    out = []
    for path in OUTCOME_MODELS:
        tree = etree.parse(str(path))
        root = tree.getroot()
        for process in root.iter(f"{{{bpmn}}}process"):
            diagram = etree.SubElement(root, f"{{{di}}}BPMNDiagram", id=f"d_{process.get('id')}", nsmap={
                "bpmndi": di, "dc": dc, "di": ddi})
            plane = etree.SubElement(diagram, f"{{{di}}}BPMNPlane", id=f"p_{process.get('id')}",
                                     bpmnElement=process.get("id"))
            centre = {}
            nodes = [el for el in process if isinstance(el.tag, str) and etree.QName(el).localname != "sequenceFlow"
                     and etree.QName(el).localname != "extensionElements"]
            for i, el in enumerate(nodes):
                task = etree.QName(el).localname.endswith(("Task", "Activity"))
                w, h = (100, 80) if task else (36, 36)
                x, y = 80 + 140 * i, 120 + (90 if el.get("id") in ("call_b", "supplement") else 0) - h / 2
                shape = etree.SubElement(plane, f"{{{di}}}BPMNShape", id=f"s_{el.get('id')}", bpmnElement=el.get("id"))
                etree.SubElement(shape, f"{{{dc}}}Bounds", x=str(x), y=str(y), width=str(w), height=str(h))
                centre[el.get("id")] = (x + w / 2, y + h / 2)
            for flow in process.iter(f"{{{bpmn}}}sequenceFlow"):
                edge = etree.SubElement(plane, f"{{{di}}}BPMNEdge", id=f"e_{flow.get('id')}", bpmnElement=flow.get("id"))
                for ref in (flow.get("sourceRef"), flow.get("targetRef")):
                    x, y = centre[ref]
                    etree.SubElement(edge, f"{{{ddi}}}waypoint", x=str(x), y=str(y))
        target = folder / path.name
        tree.write(str(target), xml_declaration=True, encoding="UTF-8")
        out.append(target)
    return out
