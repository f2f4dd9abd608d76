"""The audit pages' reading of a case and of the search: the search form, the timeline lines (who did
what and when, with the data each step changed, masked for viewers who need not see personal
data) and the replay steps as the diagram script wants them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import DateField, Form, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from yijianshi.engine.cases import history as h
from yijianshi.engine.access.accounts import DEPARTMENTS
from yijianshi.engine.audit.case_record import AuditedEvent, FieldChange
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.audit.step_through import ReplaySteps, step_payload
from yijianshi.storage.audit_store import CaseSearch
from yijianshi.web.case_view import STATUS, display_value
from yijianshi.web.i18n import gettext as _
from yijianshi.web.masking import Masker
from yijianshi.web.scenarios import DefinitionView

EVENT_LABELS = {
    h.CASE_STARTED: _l("创建办件"),
    h.WORK_ITEM_READY: _l("环节开始"),
    h.WORK_ITEM_CLAIMED: _l("认领"),
    h.WORK_ITEM_UNCLAIMED: _l("退回认领"),
    h.WORK_ITEM_COMPLETED: _l("办结环节"),
    h.WORK_ITEM_CANCELLED: _l("环节撤销"),
    h.MESSAGE_DELIVERED: _l("收到消息"),
    h.MESSAGE_SENT: _l("发出消息"),
    h.DEADLINE_FIRED: _l("期限到达"),
    h.TIMERS_FIRED: _l("期限到达"),
    h.TIMERS_REARMED: _l("重新计算期限"),
    h.CASE_COMPLETED: _l("办件办结"),
    h.CASE_CANCELLED: _l("办件撤销"),
    h.EXTERNAL_TASK_CREATED: _l("外部任务开始"),
    h.EXTERNAL_TASK_COMPLETED: _l("外部任务完成"),
    h.EXTERNAL_TASK_BPMN_ERROR: _l("外部任务报告业务错误"),
    h.EXTERNAL_TASK_FAILED: _l("外部任务失败"),
    h.EXTERNAL_TASK_RETRIES_SET: _l("外部任务重新尝试"),
    h.WORK_ITEM_TRANSFERRED: _l("转办"),
    h.WORK_ITEM_DELEGATED: _l("委派"),
    h.WORK_ITEM_RETURNED: _l("退回上一环节"),
    h.WORK_ITEM_COMMENTED: _l("办理意见"),
    h.WORK_ITEM_FOLLOW_UP_SET: _l("设置跟进日期"),
}


def event_label(type_: str) -> str:
    label = EVENT_LABELS.get(type_)
    return str(label) if label is not None else type_


class SearchForm(Form):
    """The case search, read from the address bar (a GET form: nothing to protect with CSRF)."""

    scenario = SelectField(_l("事项（流程）"), default="")
    applicant = StringField(_l("申请人账号"), [Optional(), Length(max=64, message=_l("申请人账号不能超过 64 个字符。"))],
                            filters=[lambda v: v.strip() if isinstance(v, str) else v])
    department = SelectField(_l("办理部门"), default="")
    started_from = DateField(_l("申请日期（起）"), [Optional()], format="%Y-%m-%d")
    started_to = DateField(_l("申请日期（止）"), [Optional()], format="%Y-%m-%d")
    status = SelectField(_l("状态"), default="")

    def __init__(self, formdata, scenarios: list[tuple[str, str]]):
        super().__init__(formdata)
        self.scenario.choices = [("", _("全部"))] + scenarios
        self.department.choices = [("", _("全部"))] + [(code, _(name)) for code, name in DEPARTMENTS.items()]
        self.status.choices = [("", _("全部"))] + [(code, _(label)) for code, label in STATUS.items()]

    def validate_started_to(self, field) -> None:
        if field.data and self.started_from.data and field.data < self.started_from.data:
            raise ValidationError(_("结束日期不能早于开始日期。"))

    def search(self) -> CaseSearch:
        """The valid conditions as a search (days are Beijing time; the end day is included)."""
        def day_start(d: date | None, plus: int = 0) -> datetime | None:
            return datetime.combine(d + timedelta(days=plus), time(0), SHANGHAI) if d else None

        return CaseSearch(definition_key=self.scenario.data or None, started_by=self.applicant.data or None,
                          department=self.department.data or None, started_from=day_start(self.started_from.data),
                          started_before=day_start(self.started_to.data, 1), status=self.status.data or None)

    def args(self, **changes) -> dict:
        """The search as query arguments (for paging links and the export form)."""
        values = {"scenario": self.scenario.data, "applicant": self.applicant.data,
                  "department": self.department.data,
                  "started_from": self.started_from.data.isoformat() if self.started_from.data else "",
                  "started_to": self.started_to.data.isoformat() if self.started_to.data else "",
                  "status": self.status.data}
        values.update(changes)
        return {k: v for k, v in values.items() if v}


def validated(form: SearchForm) -> bool:
    """Validate, putting WTForms' own English messages (bad date, unknown choice) in our words."""
    ok = form.validate()
    for f in (form.started_from, form.started_to):
        if f.errors and f.raw_data and f.raw_data[0] and f.data is None:
            f.errors[:] = [_("日期格式应为 年-月-日，例如 2025-09-26。")]
    for f in (form.scenario, form.department, form.status):
        if f.errors:
            f.errors[:] = [_("请从列表中选择。")]
    return ok


@dataclass
class ChangeLine:
    field_id: str
    label: str
    old: str | None  # None: the field had no value before
    new: str


@dataclass
class TimelineLine:
    seq: int
    at: datetime
    actor: str
    actor_id: str
    label: str
    step: str
    detail: str
    changes: list[ChangeLine] = field(default_factory=list)


def _shown(definition: DefinitionView, masker: Masker, field_id: str, value: Any) -> str:
    masked = masker.value(field_id, value) if isinstance(value, str) else value
    text = display_value(definition.fields.get(field_id), masked)
    return text if text != "—" else _("（空）")


def change_line(definition: DefinitionView, masker: Masker, change: FieldChange) -> ChangeLine:
    return ChangeLine(change.field, definition.label(change.field),
                      _shown(definition, masker, change.field, change.old) if change.had_value else None,
                      _shown(definition, masker, change.field, change.new))


def timeline(events: list[AuditedEvent], definition: DefinitionView, masker: Masker,
             names: dict[str, str]) -> list[TimelineLine]:
    lines = []
    for ev in events:
        r, data = ev.row, ev.data
        actor = _("系统") if r.actor == "system" else names.get(r.actor, r.actor)
        step = r.item_name or data.get("name") or ""
        if not step and r.task_spec:
            meta = definition.meta(data.get("process_id") or definition.key, r.task_spec)
            step = meta.name if meta is not None and meta.name else r.task_spec
        label = event_label(r.type)
        if r.type == h.CASE_CANCELLED and data.get("withdrawn"):
            label = _("申请人撤回")
        detail = ""
        if r.type == h.CASE_STARTED:
            detail = _("%(name)s 第 %(v)s 版", name=definition.name, v=data.get("definition_version"))
        elif r.type in (h.MESSAGE_DELIVERED, h.MESSAGE_SENT):
            detail = data.get("message") or data.get("name") or ""
        elif r.type == h.CASE_CANCELLED and data.get("reason"):
            detail = masker.text(data["reason"])
        elif r.type == h.WORK_ITEM_UNCLAIMED and data.get("was_claimed_by"):
            detail = _("原认领人：%(who)s", who=data["was_claimed_by"])
        lines.append(TimelineLine(r.seq, r.at, actor, r.actor, label, step, detail,
                                  [change_line(definition, masker, c) for c in ev.changes]))
    return lines


def replay_json(replay: ReplaySteps, lines: list[TimelineLine]) -> dict:
    """The replay steps with the text of each event, for the step-through script."""
    by_seq = {line.seq: line for line in lines}
    steps = []
    for step in replay.steps:
        line = by_seq.get(step.seq)
        item = step_payload(step)
        item.update({
            "at": step.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            "actor": line.actor if line else step.actor,
            "label": line.label if line else step.type,
            "step": line.step if line else "",
        })
        steps.append(item)
    return {"case": replay.case_id, "steps": steps, "problem": replay.problem}


def processes_in(replay: ReplaySteps) -> list[str]:
    """Every process the case was in at some step (its own first), in order of appearance."""
    seen: dict[str, None] = {}
    for step in replay.steps:
        for group in (step.completed, step.active, step.waiting):
            for p in group:
                seen.setdefault(p.process, None)
    return list(seen)
