"""Drives the shipped 一件事 scenarios through the engine services, as a clerk, an applicant and the
scheduler would: fills the merged form from the deployed form model, completes work items by task id
as an actor of the right department, and moves the controlled clock to fire deadlines.

Shared by the tests/test_scenarios_*.py files; its own tests check the driver's sample data."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.connectors.registry import Answer
from yijianshi.engine.connectors.runner import ConnectorRunner
from yijianshi.engine.modeling.forms import Form, FormField, validate_submission
from yijianshi.engine.deadlines.scheduler import fire_due
from yijianshi.engine.settings import DEFAULT_CONNECTOR_TOPICS
from yijianshi.storage import case_store

PROCESSES = Path(__file__).resolve().parents[1] / "processes"
APPLICANT = Actor("applicant1", frozenset({"applicant"}), name="申请人")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def actor_for(groups: str) -> Actor:
    """A clerk of the first group a work item names (the applicant for the applicant's steps)."""
    first = groups.split(",")[0]
    if first == "applicant":
        return APPLICANT
    return Actor(f"clerk_{first}", frozenset({first}))


def sample_value(f: FormField):
    """A valid value for a form field, as a person would type it."""
    if f.type == "boolean":
        return "true" if f.checked or f.required else "false"
    if f.type == "enum":
        return f.default or f.options[0][0]
    if f.type == "date":
        return "2025-09-01"
    if f.type == "long":
        return str(int(f.min) if isinstance(f.min, (int, float)) and f.min > 0 else 2)
    if f.format == "uscc":
        return "91120221MA05TEQ0A0"
    if f.format == "mobile":
        return "13800000000"
    if f.format == "idcard" or (f.minlength == 18 and f.maxlength == 18):
        return "120101199001011239"
    if f.minlength in (7, 11):
        return "13800000000"
    if f.minlength and f.minlength >= 12:
        return "6222020200112233445"
    return f"测试{f.label[:8]}"


def licence_number(item: str, field: FormField | None = None) -> str:
    """The number a department gives its item's licence: NO-<item>, or a valid code when the field
    asks for one (a business licence number is a unified social credit code)."""
    return sample_value(field) if field is not None and field.format else f"NO-{item}"


class UsualRegisters:
    """The registers the flows run against by default: the documents a department works from are
    on record (the electronic licence its change registration issued, the parents' marriage), so the
    departments' own reviews follow; the registers that stand in for a check (户籍, 居住证, 不动产,
    社保) have no record, so each check goes on to the department's human check (review_*), which
    the flows decide."""

    def lookup(self, register: str, query: dict) -> Answer:
        return Answer(True, {"status": "on record"}) if register in ("licence", "marriage") else Answer(False)


@dataclass
class Scenario:
    """One deployed scenario: its key and the forms of its tasks."""

    engine: object
    key: str
    given: dict = field(default_factory=dict)  # the licence number each decided item was given
    # The data-sharing registers the connectors ask (engine/connectors/); None: UsualRegisters.
    registry: object = None

    # -- queries -------------------------------------------------------------------------------
    def serve_registry_checks(self) -> None:
        """The registers answer every registry check waiting (as the scheduler's connector job would,
        round after round: a check that follows another becomes ready when the first is answered)."""
        runner = ConnectorRunner(self.engine.external_tasks, self.registry or UsualRegisters(),
                                 dict(DEFAULT_CONNECTOR_TOPICS))
        for _ in range(10):
            if runner.run_once().completed == 0:
                break

    def ready(self, case_id: int) -> list:
        self.serve_registry_checks()
        with self.engine.db.reader.connect() as conn:
            return case_store.query_work_items(conn, case_id=case_id)

    def ready_specs(self, case_id: int) -> list[str]:
        return sorted(r.task_spec for r in self.ready(case_id))

    def item(self, case_id: int, task_spec: str):
        rows = [r for r in self.ready(case_id) if r.task_spec == task_spec]
        assert rows, f"{task_spec} is not ready; ready: {self.ready_specs(case_id)}"
        return rows[0]

    def form(self, row) -> Form | None:
        with self.engine.db.reader.connect() as conn:
            definition = self.engine.definitions.by_id(conn, row.definition_id)
        meta = definition.meta_for(row.process_id, row.task_spec)
        return meta.form if meta is not None else None

    def task_data(self, case_id: int, task_spec: str) -> dict:
        """The data a ready work item sees (what its form would show)."""
        import uuid

        row = self.item(case_id, task_spec)
        wf = self.engine.cases.workflow_of(case_id)
        return dict(wf.get_task_from_id(uuid.UUID(row.id)).data)

    def final_data(self, case_id: int) -> dict:
        return dict(self.engine.cases.workflow_of(case_id).data)

    def status(self, case_id: int) -> str:
        with self.engine.db.reader.connect() as conn:
            return case_store.case_head(conn, case_id).status

    # -- commands ------------------------------------------------------------------------------
    def start(self) -> int:
        case = self.engine.cases.start_case(self.key, {}, APPLICANT)
        return case.id

    def application(self, case_id: int, task_spec: str = "apply", **changes) -> dict:
        """Sample values for every editable field of the applicant's form, with changes applied."""
        form = self.form(self.item(case_id, task_spec))
        data = {f.id: sample_value(f) for f in form.fields if not f.readonly}
        data.update({k: v for k, v in changes.items()})
        validate_submission(form, data)  # the sample itself must be valid
        return data

    def complete(self, case_id: int, task_spec: str, data: dict | None = None, actor: Actor | None = None):
        row = self.item(case_id, task_spec)
        return self.engine.cases.complete_work_item(row.id, data or {}, actor or actor_for(row.groups))

    def apply(self, case_id: int, **changes) -> None:
        self.complete(case_id, "apply", self.application(case_id, **changes))

    def accept(self, case_id: int, **fields) -> None:
        self.complete(case_id, "accept", {"materials_complete": "true", **fields})

    def decide(self, case_id: int, item: str, approved: bool = True, reason: str = "", task: str = "review") -> None:
        data = {f"{item}_approved": "true" if approved else "false", f"{item}_reason": reason}
        if approved:
            form = self.form(self.item(case_id, f"{task}_{item}"))
            number = form.field(f"{item}_no") if form is not None else None
            data[f"{item}_no"] = self.given[item] = licence_number(item, number)
        self.complete(case_id, f"{task}_{item}", data)

    def approve_all_ready(self, case_id: int, rounds: int = 20) -> list[str]:
        """Approve every department item under way, stage after stage, until none is left; items
        escalated for being overdue are supervised (督办) and then decided."""
        done = []
        for _ in range(rounds):
            specs = self.ready_specs(case_id)
            step = [s for s in specs if s.startswith(("review_", "supervise_", "expedite_"))
                    and s != "supervise_rectify"]
            if not step:
                return done
            for spec in step:
                kind, item = spec.split("_", 1)
                if kind == "supervise":
                    self.complete(case_id, spec, {f"{item}_supervision_note": "已超期，请限期办结"})
                else:
                    self.decide(case_id, item, task=kind)
                    done.append(item)
        raise AssertionError("items keep appearing")

    def deliver_and_rate(self, case_id: int, rating: str = "good") -> None:
        self.complete(case_id, "deliver", {"delivery_method": "e_licence", "delivery_note": "电子证照已推送"})
        level = {"good": "very_satisfied", "bad": "very_unsatisfied"}.get(rating, rating)
        bad = level in ("unsatisfied", "very_unsatisfied")
        self.complete(case_id, "rate", {"rating": level, "comment": "等待时间太长" if bad else ""})

    def verify_true(self, case_id: int, **fields) -> None:
        """差评核实：属实, with a rectification requirement (and any fields given)."""
        self.complete(case_id, "verify_rating", {"verify_outcome": "true", "rectify_requirement": "缩短窗口等候时间",
                                                 "rectify_days": "5", **fields})

    def fire(self, when: datetime) -> list:
        self.engine.clock.set(when)
        return [f for f in fire_due(self.engine) if f.fired]


def deploy(engine, *folders: str) -> None:
    engine.deploy([PROCESSES / f for f in folders])


def test_sample_values_fit_every_kind_of_field():
    assert sample_value(FormField("id_no", "身份证号码", "string", minlength=18, maxlength=18)) == "120101199001011239"
    assert sample_value(FormField("n", "面积", "long", min=1)) == "1"
    assert sample_value(FormField("ok", "承诺", "boolean", required=True)) == "true"
    assert sample_value(FormField("c", "方式", "enum", default="package", options=(("package", "集成"),))) == "package"
