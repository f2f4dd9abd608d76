"""A case as pages show it: its steps (who is on it, limits), what was entered, the results, the
materials and the history, with personal data masked for viewers who do not need it.

Everything is read from the projections and the history rows; the engine state is never
deserialized to draw a page."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import g

from yijianshi.engine.cases import history as h
from yijianshi.engine.access.accounts import department_label
from yijianshi.engine.access.actors import APPLICANT_ROLE, user_of
from yijianshi.engine.access.work_item_access import item_groups
from yijianshi.engine.modeling.forms import FormField
from yijianshi.engine.cases.materials import MaterialRecord, record_from_row
from yijianshi.engine.access.org_rules import UNIT_PREFIX
from yijianshi.engine.errors import EngineError
from yijianshi.engine.supervision import completion_forecast
from yijianshi.storage import account_store, case_store, external_task_store, org_store
from yijianshi.storage import inbox_store
from yijianshi.storage import material_store
from yijianshi.web.deadlines import Remaining, remaining
from yijianshi.web.i18n import gettext as _
from yijianshi.web.masking import Masker
from yijianshi.web.scenarios import DefinitionView
from yijianshi.web.services import scenario_catalogue, services

STATUS = {"running": "办理中", "completed": "已办结", "cancelled": "已撤销", "withdrawn": "已撤回"}


def status_label(status: str) -> str:
    return _(STATUS.get(status, status))


def departments_of(groups: str | tuple[str, ...]) -> str:
    """The departments/roles and named people of a work item, as people read them ("市场监管局、张三")."""
    codes = item_groups(groups) if isinstance(groups, str) else groups
    users = {u for g in codes if (u := user_of(g))}
    names = _display_names(users) if users else {}
    return "、".join(names.get(u, u) if (u := user_of(g)) else group_label(g) for g in codes if g)


def group_label(code: str, translate: bool = True) -> str:
    """A department's or role's name, or an organisation unit's (`unit:<code>`, read once per request)."""
    if not code.startswith(UNIT_PREFIX):
        return _(department_label(code)) if translate else department_label(code)
    cache = g.get("unit_names")
    if cache is None:
        with services().db.reader.connect() as conn:
            cache = g.unit_names = {u.code: u.name for u in org_store.units(conn)}
    return cache.get(code[len(UNIT_PREFIX):], code)


def _display_names(usernames: set[str]) -> dict[str, str]:
    """Display names of accounts (a name without an account shows as itself), cached per request."""
    cache = g.setdefault("display_names", {})
    missing = usernames - cache.keys()
    if missing:
        with services().db.reader.connect() as conn:
            found = account_store.display_names(conn, missing)
        cache.update({u: found.get(u) or u for u in missing})
    return {u: cache[u] for u in usernames}


@dataclass
class Step:
    item: Any
    departments: str
    state: str  # ready, claimed, completed, cancelled
    remaining: Remaining | None

    @property
    def is_applicant_step(self) -> bool:
        return APPLICANT_ROLE in item_groups(self.item.groups)


@dataclass
class Entry:
    """One recorded value with its label, ready to print."""

    field_id: str
    label: str
    text: str


@dataclass
class HistoryLine:
    at: datetime
    actor: str
    text: str
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Outcome:
    """What a completed step decided (for the results section)."""

    name: str
    departments: str
    ended_at: datetime | None
    entries: list[Entry]


@dataclass(frozen=True)
class WaitingCheck:
    """A service task of the case waiting for its worker (a data-sharing check and the like)."""

    name: str
    topic: str
    status: str
    incident: bool


def waiting_check(row) -> WaitingCheck:
    """How an open external task reads on the case page: waiting, retrying, or an incident."""
    if row.retries == 0:
        status = _("故障：重试次数已用完，待管理员处理（%(error)s）", error=row.error_message or "—")
    elif row.retries is not None:
        status = _("接口失败，稍后重试（剩余 %(n)s 次）：%(error)s", n=row.retries, error=row.error_message or "—")
    elif row.worker_id:
        status = _("正在查询共享接口")
    else:
        status = _("等待共享接口应答（未配置数据共享接口时一直等待，见 YIJIANSHI_REGISTRY_URL）")
    return WaitingCheck(row.name or row.task_spec, row.topic, status, row.retries == 0)


@dataclass
class CaseView:
    case: Any
    definition: DefinitionView
    steps: list[Step]
    data: dict[str, Any]
    entries: list[Entry]
    outcomes: list[Outcome]
    history: list[HistoryLine]
    materials: list[MaterialRecord]
    shown_values: dict[str, str]
    names: dict[str, str] = field(default_factory=dict)  # display names by login name
    waiting_checks: list[WaitingCheck] = field(default_factory=list)  # service tasks waiting for a worker

    def name_of(self, username: str) -> str:
        return self.names.get(username, username)

    @property
    def current_steps(self) -> list[Step]:
        return [s for s in self.steps if s.item.state == "ready"]

    @property
    def active_positions(self) -> list[dict]:
        return [{"process": s.item.process_id, "task": s.item.task_spec} for s in self.current_steps]

    def called_processes(self, only: str | None = None) -> list[tuple[str, str]]:
        """(process id, name) of the called processes the case is in now (or just `only`)."""
        ids = [only] if only else [p["process"] for p in self.active_positions]
        seen = dict.fromkeys(i for i in ids if i and i != self.definition.key)
        return [(i, self.definition.process_names.get(i, i)) for i in seen]

    @property
    def done_positions(self) -> list[dict]:
        return [{"process": s.item.process_id, "task": s.item.task_spec} for s in self.steps
                if s.item.state == "completed"]

    def step(self, work_item_id: str) -> Step | None:
        return next((s for s in self.steps if s.item.id == work_item_id), None)

    def shown(self, field_id: str) -> str:
        """A value of the case as this viewer may see it (masked where needed)."""
        return self.shown_values.get(field_id, "—")

    @property
    def rating(self) -> str | None:
        return self.data.get("rating")


def display_value(f: FormField | None, value: Any) -> str:
    """A stored value as a person reads it: option labels for enums, 是/否 for booleans."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or (f is not None and f.type == "boolean"):
        return _("是") if value is True or str(value).lower() == "true" else _("否")
    if f is not None and f.type == "enum":
        return dict(f.options).get(str(value), str(value))
    return str(value)


def entries_for(definition: DefinitionView, values: dict[str, Any], masker: Masker) -> list[Entry]:
    """Values with their labels, in the order of the forms (unknown fields last)."""
    order = {k: i for i, k in enumerate(definition.fields)}
    out = []
    for key, value in sorted(values.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])):
        f = definition.fields.get(key)
        shown = masker.value(key, value) if isinstance(value, str) else value
        out.append(Entry(key, definition.label(key), display_value(f, shown)))
    return out


def fold_data(events) -> dict[str, Any]:
    """What people entered on the case, in order: the initial data then every completed form."""
    data: dict[str, Any] = {}
    for e in events:
        if e.type == h.CASE_STARTED:
            data.update(json.loads(e.data).get("data") or {})
        elif e.type == h.WORK_ITEM_COMPLETED:
            data.update(json.loads(e.data).get("submitted") or {})
    return data


def build(conn, case_row, viewer_masker: Masker, *, names: dict[str, str] | None = None,
          applicant_view: bool = False) -> CaseView:
    """Read a case for display (one connection, a handful of indexed queries)."""
    svc = services()
    now = svc.engine.clock.now()
    definition = scenario_catalogue().view(conn, case_row.definition_id)
    events = case_store.case_events(conn, case_row.id)
    # History order, not clock order: steps opened by one command share a timestamp.
    opened = {e.work_item_id: e.seq for e in events if e.type == h.WORK_ITEM_READY}
    items = sorted(inbox_store.case_items(conn, case_row.id), key=lambda i: (opened.get(i.id, 0), i.created_at))
    ended = {e.work_item_id: e.seq for e in events if e.type == h.WORK_ITEM_COMPLETED}
    steps = [Step(i, departments_of(i.groups), _state(i),
                  remaining(svc.engine, i.due_at, i.warning_at, now) if i.state == "ready" else None)
             for i in items]
    data = fold_data(events)
    entries = entries_for(definition, {k: v for k, v in data.items() if k in definition.application_fields},
                          viewer_masker)
    submitted_by_item = {e.work_item_id: json.loads(e.data).get("submitted") or {}
                         for e in events if e.type == h.WORK_ITEM_COMPLETED}
    outcomes = [Outcome(i.name, departments_of(i.groups), i.ended_at,
                        entries_for(definition, {k: v for k, v in submitted_by_item.get(i.id, {}).items()
                                                 if v not in (None, "")}, viewer_masker))
                for i in sorted(items, key=lambda i: ended.get(i.id, 0))
                if i.state == "completed" and APPLICANT_ROLE not in item_groups(i.groups)]
    external = {e.work_item_id: json.loads(e.data).get("name") for e in events if e.type == h.EXTERNAL_TASK_CREATED}
    history = [_history_line(e, definition, viewer_masker, names or {}, applicant_view, external) for e in events]
    materials = [record_from_row(r) for r in material_store.for_case(conn, case_row.id)]
    shown = {e.field_id: e.text for e in entries_for(definition, data, viewer_masker)}
    names = dict(names or {})
    unnamed = {m.uploaded_by for m in materials} - names.keys()
    if unnamed:
        names.update(account_store.display_names(conn, unnamed))
    checks = [waiting_check(r) for r in external_task_store.of_case(conn, case_row.id)]
    return CaseView(case_row, definition, steps, data, entries, outcomes,
                    [line for line in history if line is not None], materials, shown, names, checks)


def _state(item) -> str:
    if item.state == "ready":
        return "claimed" if item.claimed_by else "ready"
    return item.state


def _history_line(e, definition: DefinitionView, masker: Masker, names: dict[str, str],
                  applicant_view: bool, external: dict[str, str] | None = None) -> HistoryLine | None:
    data = json.loads(e.data)
    actor = names.get(e.actor, e.actor)
    if e.actor == "system":
        actor = _("系统")
    step = data.get("name") or (external or {}).get(e.work_item_id) or e.task_spec or ""
    if e.type == h.CASE_STARTED:
        return HistoryLine(e.at, actor, _("创建申请（%(name)s 第 %(v)s 版）", name=definition.name,
                                          v=data.get("definition_version")),
                           entries_for(definition, data.get("data") or {}, masker))
    if e.type == h.WORK_ITEM_READY:
        groups = departments_of(tuple(data.get("groups") or ()))
        return HistoryLine(e.at, actor, _("“%(step)s”转至%(groups)s办理", step=step, groups=groups or "—"))
    if e.type == h.WORK_ITEM_COMPLETED:
        meta = definition.meta(data.get("process_id") or definition.key, e.task_spec or "")
        name = meta.name if meta is not None and meta.name else (e.task_spec or "")
        return HistoryLine(e.at, actor, _("办结“%(step)s”", step=name),
                           entries_for(definition, data.get("submitted") or {}, masker))
    if applicant_view and e.type in (h.WORK_ITEM_CLAIMED, h.WORK_ITEM_UNCLAIMED, h.MESSAGE_SENT, h.WORK_ITEM_TRANSFERRED,
                                     h.WORK_ITEM_DELEGATED, h.WORK_ITEM_COMMENTED, h.WORK_ITEM_FOLLOW_UP_SET):
        return None  # internal hand-overs are not the applicant's business
    if e.type == h.WORK_ITEM_CLAIMED:
        return HistoryLine(e.at, actor, _("认领了事项（首问负责）"))
    if e.type == h.WORK_ITEM_UNCLAIMED:
        return HistoryLine(e.at, actor, _("退回认领，事项回到部门待办"))
    if e.type == h.WORK_ITEM_CANCELLED:
        return HistoryLine(e.at, actor, _("事项已撤销"))
    if e.type == h.WORK_ITEM_TRANSFERRED:
        return HistoryLine(e.at, actor, _("转办至%(unit)s，理由：%(reason)s", unit=data.get("to_unit_name") or
                                          data.get("to_unit", ""), reason=masker.text(data.get("reason", ""))))
    if e.type == h.WORK_ITEM_DELEGATED:
        return HistoryLine(e.at, actor, _("委派给 %(user)s，理由：%(reason)s", user=names.get(data.get("to", ""),
                                          data.get("to", "")), reason=masker.text(data.get("reason", ""))))
    if e.type == h.WORK_ITEM_RETURNED:
        return HistoryLine(e.at, actor, _("退回至“%(step)s”，理由：%(reason)s", step=data.get("to_name", ""),
                                          reason=masker.text(data.get("reason", ""))))
    if e.type == h.WORK_ITEM_COMMENTED:
        return HistoryLine(e.at, actor, _("办理意见：%(text)s", text=masker.text(data.get("text", ""))))
    if e.type == h.WORK_ITEM_FOLLOW_UP_SET:
        return HistoryLine(e.at, actor, _("设置跟进日期") if data.get("follow_up_at") else _("清除跟进日期"))
    if e.type == h.CASE_COMPLETED:
        return HistoryLine(e.at, actor, _("案件办结"))
    if e.type == h.CASE_CANCELLED:
        text = _("申请人撤回申请") if data.get("withdrawn") else _("案件被撤销")
        reason = data.get("reason")
        return HistoryLine(e.at, actor, f"{text}：{masker.text(reason)}" if reason else text)
    if e.type == h.MESSAGE_DELIVERED:
        return HistoryLine(e.at, actor, _("收到消息“%(m)s”", m=data.get("message", "")))
    if e.type == h.MESSAGE_SENT:
        return HistoryLine(e.at, actor, _("发出消息“%(m)s”", m=data.get("name") or data.get("message") or ""))
    if e.type == h.EXTERNAL_TASK_CREATED:
        return HistoryLine(e.at, actor, _("“%(step)s”等待接口办理（%(topic)s）", step=step, topic=data.get("topic", "")))
    if e.type == h.EXTERNAL_TASK_COMPLETED:
        found = (data.get("variables") or {}).get("registry_found")
        text = {True: _("共享库有记录"), False: _("共享库未查到记录")}.get(found, _("已完成"))
        return HistoryLine(e.at, actor, _("“%(step)s”接口办理完毕：%(text)s", step=step, text=text))
    if e.type == h.EXTERNAL_TASK_FAILED:
        if data.get("incident"):
            return HistoryLine(e.at, actor, _("“%(step)s”接口失败，重试次数已用完，转为故障：%(error)s", step=step,
                                              error=data.get("error_message") or "—"))
        return HistoryLine(e.at, actor, _("“%(step)s”接口失败，稍后重试（剩余 %(n)s 次）：%(error)s", step=step,
                                          n=data.get("retries"), error=data.get("error_message") or "—"))
    return HistoryLine(e.at, actor, _("记录：%(type)s", type=e.type))


def visible_case(conn, case_id: int, user, *, applicant_view: bool = False) -> CaseView:
    """The view of a case `user` may see: 404 if there is no such case, 403 if it is not theirs."""
    from flask import abort

    from yijianshi.storage import account_store
    from yijianshi.web.access import can_view_case, masker_for, require

    row = inbox_store.case_row(conn, case_id)
    if row is None:
        abort(404)
    require(can_view_case(conn, user, row))
    names = account_store.display_names(conn, inbox_store.case_actors(conn, row.id))
    return build(conn, row, masker_for(user, row), applicant_view=applicant_view, names=names)


def case_forecast(case_id: int):
    """预计办结日期 of a running case (engine/supervision/completion_forecast.py); None when there is
    none or it cannot be computed (e.g. the calendar lacks a year)."""
    try:
        return completion_forecast.forecast(services().engine, case_id)
    except EngineError:
        return None
