"""The external-task endpoints of /engine-rest: fetchAndLock (long polling up to
asyncResponseTimeout, capped), complete, failure, bpmnError, extendLock, unlock, retries, and the
list of open external tasks."""
from __future__ import annotations

import time

from flask import request

from yijianshi.engine.cases.external_tasks import MAX_TASKS, TopicRequest
from yijianshi.web.engine_rest.auth import current_client, requires
from yijianshi.web.engine_rest.blueprint import body, bp, camunda_time, definition_id, field, no_content, ok
from yijianshi.web.engine_rest.errors import RestError, bad_request
from yijianshi.web.engine_rest.variables import from_camunda, to_camunda
from yijianshi.web.services import services

MAX_ASYNC_RESPONSE_MS = 30_000  # the longest a fetchAndLock waits for a task
POLL_S = 0.15
WORK = "external-tasks:work"


def external_task_json(row, variables: dict | None = None) -> dict:
    out = {
        "id": row.id, "activityId": row.task_spec, "activityInstanceId": f"{row.task_spec}:{row.id}",
        "executionId": row.id, "topicName": row.topic, "workerId": row.worker_id,
        "lockExpirationTime": camunda_time(row.lock_expires_at), "retries": row.retries,
        "errorMessage": row.error_message, "errorDetails": row.error_details, "suspended": False,
        "processDefinitionId": definition_id(row.definition_key, row.definition_id),
        "processDefinitionKey": row.definition_key, "processDefinitionVersionTag": None,
        "processInstanceId": str(row.case_id), "businessKey": row.business_key, "tenantId": None,
        "priority": row.priority, "createTime": camunda_time(row.created_at), "extensionProperties": {},
    }
    if variables is not None:
        out["variables"] = to_camunda(variables)
    return out


def _external():
    return services().engine.external_tasks


def _worker(data: dict) -> str:
    worker = field(data, "workerId", str, required=True)
    if not worker.strip() or len(worker) > 255:
        raise bad_request("workerId 不能为空，且不超过 255 个字符。")
    return worker


def _topics(data: dict) -> list[TopicRequest]:
    topics = field(data, "topics", list, required=True)
    out = []
    for i, topic in enumerate(topics):
        if not isinstance(topic, dict):
            raise bad_request(f"topics[{i}] 必须是对象。")
        names = field(topic, "variables", list)
        if names is not None and not all(isinstance(n, str) for n in names):
            raise bad_request(f"topics[{i}].variables 必须是变量名数组。")
        out.append(TopicRequest(
            name=field(topic, "topicName", str, required=True),
            lock_duration_ms=field(topic, "lockDuration", int, required=True),
            variables=tuple(names) if names is not None else None,
            business_key=field(topic, "businessKey", str),
            process_definition_key=field(topic, "processDefinitionKey", str)))
    return out


@bp.post("/external-task/fetchAndLock")
@requires(WORK)
def fetch_and_lock():
    data = body()
    worker = _worker(data)
    max_tasks = min(field(data, "maxTasks", int, default=1), MAX_TASKS)
    topics = _topics(data)
    wait_ms = min(field(data, "asyncResponseTimeout", int, default=0), MAX_ASYNC_RESPONSE_MS)
    use_priority = field(data, "usePriority", bool, default=True)
    processes = current_client().process_limit
    deadline = time.monotonic() + wait_ms / 1000
    while True:  # long polling: no transaction is held while waiting
        locked = _external().fetch_and_lock(worker, max_tasks, topics, use_priority=use_priority, processes=processes)
        if locked or time.monotonic() >= deadline or max_tasks == 0:
            break
        time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
    return ok([external_task_json(t.row, t.variables) for t in locked])


@bp.get("/external-task")
@requires(WORK)
def list_external_tasks():
    case_id = request.args.get("processInstanceId")
    if case_id is not None and not case_id.isdigit():
        return ok([])
    rows = _external().listing(topic=request.args.get("topicName"), worker_id=request.args.get("workerId"),
                               case_id=int(case_id) if case_id is not None else None)
    client = current_client()
    return ok([external_task_json(r) for r in rows if client.may_use(r.definition_key)])


def _task_of_client(task_id: str):
    row = _external().get(task_id)
    if not current_client().may_use(row.definition_key):
        raise RestError(403, "AuthorizationException",
                        f"接口客户端“{current_client().name}”无权使用流程“{row.definition_key}”。")
    return row


@bp.get("/external-task/<task_id>")
@requires(WORK)
def get_external_task(task_id: str):
    return ok(external_task_json(_task_of_client(task_id)))


@bp.post("/external-task/<task_id>/complete")
@requires(WORK)
def complete_external_task(task_id: str):
    data = body()
    worker = _worker(data)
    variables = {**from_camunda(data.get("variables")),
                 **from_camunda(data.get("localVariables"), "localVariables")}
    _task_of_client(task_id)
    _external().complete(task_id, worker, variables, current_client().actor)
    return no_content()


@bp.post("/external-task/<task_id>/failure")
@requires(WORK)
def handle_failure(task_id: str):
    data = body()
    worker = _worker(data)
    message = field(data, "errorMessage", str)
    details = field(data, "errorDetails", str)
    retries = field(data, "retries", int, required=True)
    timeout = field(data, "retryTimeout", int, default=0)
    _task_of_client(task_id)
    _external().handle_failure(task_id, worker, message, details, retries, timeout, current_client().actor)
    return no_content()


@bp.post("/external-task/<task_id>/bpmnError")
@requires(WORK)
def bpmn_error(task_id: str):
    data = body()
    worker = _worker(data)
    code = field(data, "errorCode", str, required=True)
    message = field(data, "errorMessage", str)
    variables = from_camunda(data.get("variables"))
    _task_of_client(task_id)
    _external().bpmn_error(task_id, worker, code, message, variables, current_client().actor)
    return no_content()


@bp.post("/external-task/<task_id>/extendLock")
@requires(WORK)
def extend_lock(task_id: str):
    data = body()
    worker = _worker(data)
    duration = field(data, "newDuration", int, required=True)
    _task_of_client(task_id)
    _external().extend_lock(task_id, worker, duration)
    return no_content()


@bp.post("/external-task/<task_id>/unlock")
@requires(WORK)
def unlock(task_id: str):
    _task_of_client(task_id)
    _external().unlock(task_id)
    return no_content()


@bp.put("/external-task/<task_id>/retries")
@requires(WORK)
def set_retries(task_id: str):
    retries = field(body(), "retries", int, required=True)
    _task_of_client(task_id)
    _external().set_retries(task_id, retries, current_client().actor)
    return no_content()

