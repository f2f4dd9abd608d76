"""The process endpoints of /engine-rest that pycamunda and similar clients use: start a process by
key, correlate a message, and list, claim and complete user tasks. A task is claimed for a staff
account named by userId and completed as the account that claimed it, so the department rules of
work items apply as in the web inbox."""
from __future__ import annotations

from flask import request

from yijianshi.engine.cases.context import require_ready
from yijianshi.engine.errors import NotFound
from yijianshi.storage import case_store
from yijianshi.web.engine_rest.auth import current_client, require_process, requires
from yijianshi.web.engine_rest.blueprint import body, bp, camunda_time, definition_id, field, no_content, ok
from yijianshi.web.engine_rest.errors import RestError, bad_request
from yijianshi.web.engine_rest.variables import from_camunda, to_camunda
from yijianshi.web.services import services

MAX_RESULTS = 1000


@bp.post("/process-definition/key/<key>/start")
@requires("cases:start")
def start_process(key: str):
    data = body()
    require_process(key)
    variables = from_camunda(data.get("variables"))
    business_key = field(data, "businessKey", str)
    engine = services().engine
    summary = engine.cases.start_case(key, variables, current_client().actor, business_key=business_key)
    with engine.db.reader.connect() as conn:
        head = case_store.case_head(conn, summary.id)
    assert head is not None
    out = {"id": str(summary.id), "definitionId": definition_id(key, head.definition_id),
           "businessKey": business_key, "caseInstanceId": None, "ended": summary.status != "running",
           "suspended": False, "tenantId": None, "links": []}
    if field(data, "withVariablesInReturn", bool, default=False):
        out["variables"] = to_camunda(engine.cases.workflow_of(summary.id).data | variables)
    return ok(out)


@bp.post("/message")
@requires("messages:deliver")
def correlate_message():
    """Deliver a message to the one case waiting for it, found by businessKey and/or correlationKeys;
    processVariables are its payload (as the integration API delivers it)."""
    data = body()
    name = field(data, "messageName", str, required=True)
    correlation = {k: str(v) for k, v in from_camunda(data.get("correlationKeys"), "correlationKeys").items()}
    business_key = field(data, "businessKey", str)
    if business_key is not None:
        correlation["business_key"] = business_key
    if field(data, "all", bool, default=False):
        raise bad_request("不支持 all=true：一条消息只投递给一个等待它的案件。")
    if data.get("processInstanceId") is not None:
        raise bad_request("不支持按 processInstanceId 关联消息：请用 businessKey 或 correlationKeys。")
    if not correlation:
        raise bad_request("关联消息必须给出 businessKey 或 correlationKeys。")
    payload = from_camunda(data.get("processVariables"), "processVariables")
    client = current_client()
    summary = services().engine.cases.deliver_message(name, correlation, payload, client.actor,
                                                      processes=client.process_limit)
    # Always the correlation result (Camunda sends it only with resultEnabled=true, else 204; pycamunda
    # reads a body either way).
    return ok([{"resultType": "Execution", "execution": {
        "id": str(summary.id), "processInstanceId": str(summary.id), "ended": summary.status != "running",
        "tenantId": None}}])


def task_json(row) -> dict:
    return {
        "id": row.id, "name": row.name, "assignee": row.claimed_by, "owner": None,
        "created": camunda_time(row.created_at), "due": camunda_time(row.due_at), "followUp": None,
        "lastUpdated": None, "delegationState": None, "description": None, "executionId": row.id,
        "parentTaskId": None, "priority": 50, "processDefinitionId": definition_id(row.definition_key, row.definition_id),
        "processInstanceId": str(row.case_id), "taskDefinitionKey": row.task_spec, "caseExecutionId": None,
        "caseInstanceId": None, "caseDefinitionId": None, "suspended": False, "formKey": None,
        "camundaFormRef": None, "tenantId": None,
    }


def _query(**filters) -> list:
    with services().db.reader.connect() as conn:
        return case_store.query_work_items(conn, **filters)


@bp.get("/task")
@requires("tasks:work")
def list_tasks():
    args = request.args
    case_id = args.get("processInstanceId")
    if case_id is not None and not case_id.isdigit():
        return ok([])
    group = args.get("candidateGroup")
    first = args.get("firstResult", "0")
    count = args.get("maxResults", str(MAX_RESULTS))
    if not first.isdigit() or not count.isdigit():
        raise bad_request("firstResult 和 maxResults 必须是非负整数。")
    rows = _query(groups=[group] if group else None, claimed_by=args.get("assignee"),
                  case_id=int(case_id) if case_id is not None else None,
                  definition_key=args.get("processDefinitionKey"), limit=min(int(count), MAX_RESULTS), offset=int(first))
    key = args.get("taskDefinitionKey")
    client = current_client()
    return ok([task_json(r) for r in rows if (key is None or r.task_spec == key) and client.may_use(r.definition_key)])


def _task(task_id: str):
    with services().db.reader.connect() as conn:
        found = case_store.work_item_and_case(conn, task_id)
    if found is None:
        raise NotFound(f"任务 {task_id} 不存在。")
    item, head = found
    require_process(head.definition_key)
    return item, head


@bp.get("/task/<task_id>")
@requires("tasks:work")
def get_task(task_id: str):
    item, head = _task(task_id)
    [row] = [r for r in _query(state=None, case_id=head.id, limit=MAX_RESULTS) if r.id == task_id]
    return ok(task_json(row))


def _staff(user_id: str):
    account = services().accounts.get(user_id)
    if account is None or not account.active:
        raise bad_request(f"用户“{user_id}”不存在或已停用。")
    return account.actor


@bp.post("/task/<task_id>/claim")
@requires("tasks:work")
def claim_task(task_id: str):
    user = field(body(), "userId", str, required=True)
    _task(task_id)
    services().engine.cases.claim(task_id, _staff(user))
    return no_content()


@bp.post("/task/<task_id>/unclaim")
@requires("tasks:work")
def unclaim_task(task_id: str):
    item, _ = _task(task_id)
    if item.claimed_by is not None:
        services().engine.cases.unclaim(task_id, _staff(item.claimed_by))
    return no_content()


@bp.post("/task/<task_id>/complete")
@requires("tasks:work")
def complete_task(task_id: str):
    data = body()
    variables = from_camunda(data.get("variables"))
    item, _ = _task(task_id)
    require_ready(item)
    if item.claimed_by is None:
        raise RestError(400, "InvalidRequestException", "请先认领（claim）该任务并指定办理人（userId），再完成任务。")
    services().engine.cases.complete_work_item(task_id, variables, _staff(item.claimed_by))
    return no_content()
