"""The OpenAPI 3.1 document of the integration API, served at /api/v1/openapi.json and rendered on
/api/docs. The request schemas here are also what the API validates bodies against, so the document
cannot drift from what the server accepts."""
from __future__ import annotations

from copy import deepcopy

from yijianshi.engine.access.api_clients import SCOPES
from yijianshi.web.api.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES, type_uri

API_VERSION = "1.0.0"
MAX_HISTORY_PAGE = 200
MAX_ID = 2**63 - 1
# No control characters: they have no business in keys and names, and PostgreSQL refuses NUL.
PLAIN_TEXT = "^[^\\u0000-\\u001f\\u007f]*$"
IDEMPOTENCY_KEY = "^[\\u0021-\\u007e]{1,255}$"  # visible ASCII, no spaces

_STRING_OR_NULL = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict = {
    "ProcessKey": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[A-Za-z_][A-Za-z0-9_.-]*$",
                   "description": "BPMN process id of a deployed process, e.g. `enterprise_request`.",
                   "examples": ["enterprise_request"]},
    "FormValue": {"type": ["string", "number", "integer", "boolean", "null"],
                  "description": "A form field value: strings for text, enum options and dates (YYYY-MM-DD); "
                                 "integers (or their text) for `long`; booleans (or \"true\"/\"false\") for checkboxes."},
    "StartCaseRequest": {
        "type": "object", "additionalProperties": False, "required": ["process"],
        "properties": {
            "process": _ref("ProcessKey"),
            "data": {"type": "object", "maxProperties": 200, "propertyNames": {"maxLength": 255},
                     "additionalProperties": _ref("FormValue"),
                     "description": "The application data: the process's start-event form (camunda:formData on "
                                    "its start event) when it has one, its fields becoming the case data; else the "
                                    "form of the first step the case opens. Validated like the web form (types, "
                                    "required, lengths, ranges, options; unknown fields refused): a refusal is a "
                                    "422 `validation-failed` problem with one `/data/<field>` pointer per field. "
                                    "Omit for a process without a start form."},
            "business_key": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": PLAIN_TEXT,
                             "description": "Business key, e.g. the 12345 work-order number; replies may be "
                                            "correlated by it (`business_key`)."},
            "title": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": PLAIN_TEXT,
                      "description": "Case title; default the process name."},
            "applicant": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": PLAIN_TEXT,
                          "description": "Username of the applicant account on whose behalf the case is started. "
                                         "The case is then theirs: they see it under “my cases” and do its later "
                                         "applicant steps (补正, 评价). Default: the case belongs to the client."},
        },
        "examples": [{"process": "enterprise_request", "business_key": "12345-20250926-0001",
                      "title": "12345 工单 12345-20250926-0001",
                      "data": {"channel": "hotline_12345", "work_order_no": "12345-20250926-0001",
                               "enterprise_name": "宁河区某食品有限公司", "request_category": "factor",
                               "request_summary": "扩建厂房用电增容申请迟迟未获批复。"}}],
    },
    "DeliverMessageRequest": {
        "type": "object", "additionalProperties": False, "required": ["message", "correlation"],
        "properties": {
            "message": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": PLAIN_TEXT,
                        "description": "Message name (the BPMN message a case waits for), e.g. `hotline_revisit`."},
            "correlation": {
                "type": "object", "minProperties": 1, "maxProperties": 20,
                "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_.-]*$", "maxLength": 255},
                "additionalProperties": {"anyOf": [
                    {"type": "string", "minLength": 1, "maxLength": 512, "pattern": PLAIN_TEXT},
                    {"type": "integer", "minimum": -MAX_ID, "maximum": MAX_ID}]},
                "description": "Correlation keys: `business_key` and/or the BPMN correlation properties of the "
                               "waiting catch event. Exactly one waiting case must match all of them."},
            "payload": {"type": "object", "maxProperties": 200,
                        "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_]*$", "maxLength": 255},
                        "description": "The reply's data; lands in the catch event's result variable."},
        },
        "examples": [{"message": "hotline_revisit", "correlation": {"work_order_no": "12345-20250926-0001"},
                      "payload": {"satisfaction": "satisfied", "note": "满意"}}],
    },
    "WorkItemRef": {
        "type": "object", "required": ["id", "task_spec", "name"],
        "properties": {"id": {"type": "string"}, "task_spec": {"type": "string"}, "name": {"type": "string"}},
    },
    "CaseLinks": {
        "type": "object", "required": ["case", "history"],
        "properties": {"case": {"type": "string"}, "history": {"type": "string"}},
    },
    "CommandResult": {
        "type": "object", "required": ["case_id", "status", "version", "opened_work_items", "links"],
        "description": "What a command did: the case, its status and version after it, the work items it opened.",
        "properties": {
            "case_id": {"type": "integer"},
            "status": {"type": "string", "enum": ["running", "completed", "cancelled", "withdrawn"]},
            "version": {"type": "integer"},
            "opened_work_items": {"type": "array", "items": _ref("WorkItemRef")},
            "links": _ref("CaseLinks"),
        },
    },
    "Department": {
        "type": "object", "required": ["code", "name"],
        "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
    },
    "WorkItem": {
        "type": "object",
        "required": ["id", "name", "process_id", "task_spec", "departments", "claimed_by", "created_at",
                     "due_at", "warning_at", "due_unresolved"],
        "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "process_id": {"type": "string"},
            "task_spec": {"type": "string"}, "departments": {"type": "array", "items": _ref("Department")},
            "claimed_by": _STRING_OR_NULL, "created_at": _TIME,
            "due_at": {**_TIME_OR_NULL, "description": "Deadline (办理时限); null when none."},
            "warning_at": {**_TIME_OR_NULL, "description": "Warning time (预警); null when none."},
            "due_unresolved": {"type": "boolean",
                               "description": "True while the deadline waits for a holiday schedule to be loaded."},
        },
    },
    "WaitingMessage": {
        "type": "object", "required": ["message", "correlation"],
        "properties": {
            "message": {"type": "string"},
            "correlation": {"type": "object", "additionalProperties": {"type": "string"},
                            "description": "Correlation keys a reply may carry to reach this case."},
        },
    },
    "Case": {
        "type": "object",
        "required": ["id", "process", "title", "business_key", "status", "version", "started_by", "started_at",
                     "updated_at", "ended_at", "work_items", "waiting_messages", "data", "links"],
        "properties": {
            "id": {"type": "integer"},
            "process": {"type": "object", "required": ["key", "name", "version"],
                        "properties": {"key": {"type": "string"}, "name": {"type": "string"},
                                       "version": {"type": "integer"}}},
            "title": {"type": "string"}, "business_key": _STRING_OR_NULL,
            "status": {"type": "string", "enum": ["running", "completed", "cancelled", "withdrawn"]},
            "version": {"type": "integer", "description": "Bumped by every command on the case."},
            "started_by": {"type": "string"}, "started_at": _TIME, "updated_at": _TIME, "ended_at": _TIME_OR_NULL,
            "work_items": {"type": "array", "items": _ref("WorkItem"),
                           "description": "Current (open) work items with their departments and deadlines."},
            "waiting_messages": {"type": "array", "items": _ref("WaitingMessage")},
            "data": {"type": "object", "description": "What was entered: the start data and every completed form."},
            "links": _ref("CaseLinks"),
        },
    },
    "Event": {
        "type": "object",
        "required": ["seq", "type", "actor", "at", "work_item_id", "task_spec", "data", "hash", "prev_hash"],
        "properties": {
            "seq": {"type": "integer"}, "type": {"type": "string"},
            "actor": {"type": "string", "description": "Who: a username, `system`, or `api:<client>`."},
            "at": _TIME, "work_item_id": _STRING_OR_NULL, "task_spec": _STRING_OR_NULL,
            "data": {"type": "object"},
            "hash": {"type": "string"}, "prev_hash": {"type": "string"},
        },
    },
    "HistoryPage": {
        "type": "object", "required": ["case_id", "events", "next"],
        "properties": {
            "case_id": {"type": "integer"}, "events": {"type": "array", "items": _ref("Event")},
            "next": {**_STRING_OR_NULL, "description": "URL of the next page; null on the last page."},
        },
    },
    "Problem": {
        "type": "object", "required": ["type", "title", "status", "detail", "instance"],
        "description": "RFC 9457 problem details.",
        "properties": {
            "type": {"type": "string", "description": "URI of the problem type (explained on /api/docs)."},
            "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string", "description": "What is wrong with this request (Chinese by default)."},
            "instance": {"type": "string"},
            "errors": {"type": "array", "items": {
                "type": "object", "required": ["detail"],
                "properties": {"pointer": {"type": "string", "description": "JSON pointer into the body."},
                               "parameter": {"type": "string"}, "header": {"type": "string"},
                               "detail": {"type": "string"}}}},
        },
    },
}


def _problem(description: str) -> dict:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": _ref("Problem")}}}


def _json(schema_name: str, description: str, headers: dict | None = None) -> dict:
    out = {"description": description, "content": {"application/json": {"schema": _ref(schema_name)}}}
    if headers:
        out["headers"] = headers
    return out


_AUTH_PROBLEMS = {"401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "default": {"$ref": "#/components/responses/Problem"}}
_BODY_PROBLEMS = {"400": {"$ref": "#/components/responses/MalformedRequest"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
                  "422": {"$ref": "#/components/responses/ValidationFailed"}}
_CASE_ID = {"name": "case_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def _body(schema_name: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema_name)}}}


PATHS: dict = {
    "/cases": {"post": {
        "operationId": "startCase", "summary": "Start a case (立案)", "tags": ["cases"],
        "description": "Starts a case of a deployed process and submits its start form in one transaction. "
                       "Retries with the same Idempotency-Key and the same body return the first response "
                       "(header `Idempotency-Replayed: true`) and never start a second case; the same key with "
                       "a different body is refused. Needs scope `cases:start` and the process allowed.",
        "security": [{"bearer": ["cases:start"]}],
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": True,
                        "description": "Client-chosen key, unique per request (e.g. the work-order number plus "
                                       "a submission counter); 1–255 visible ASCII characters.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": IDEMPOTENCY_KEY}}],
        "requestBody": _body("StartCaseRequest"),
        "responses": {
            "201": _json("CommandResult", "The case was started (or this is the replay of the request that "
                                          "started it).", {
                "Location": {"description": "The case.", "schema": {"type": "string"}},
                "Idempotency-Replayed": {"description": "`true` on a replay.", "schema": {"type": "string"}}}),
            **_BODY_PROBLEMS, **_AUTH_PROBLEMS},
    }},
    "/cases/{case_id}": {"get": {
        "operationId": "getCase", "summary": "A case's state", "tags": ["cases"],
        "description": "Status, process and version, the open work items with their departments and deadlines, "
                       "the messages the case waits for with their correlation keys, and the entered data. "
                       "Needs scope `cases:read` and the case's process allowed.",
        "security": [{"bearer": ["cases:read"]}],
        "parameters": [_CASE_ID],
        "responses": {"200": _json("Case", "The case."),
                      "404": {"$ref": "#/components/responses/NotFound"}, **_AUTH_PROBLEMS},
    }},
    "/cases/{case_id}/history": {"get": {
        "operationId": "getCaseHistory", "summary": "A case's history (paginated)", "tags": ["cases"],
        "description": "The case's hash-chained events, oldest first. Page with `after` (the last `seq` seen) "
                       "and `limit`; `next` is the URL of the following page. Needs scope `cases:read`.",
        "security": [{"bearer": ["cases:read"]}],
        "parameters": [
            _CASE_ID,
            {"name": "after", "in": "query", "required": False, "description": "Return events after this seq.",
             "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "default": 0}},
            {"name": "limit", "in": "query", "required": False, "description": "Events per page.",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_HISTORY_PAGE, "default": 50}}],
        "responses": {"200": _json("HistoryPage", "One page of events."),
                      "400": {"$ref": "#/components/responses/MalformedRequest"},
                      "404": {"$ref": "#/components/responses/NotFound"}, **_AUTH_PROBLEMS},
    }},
    "/messages": {"post": {
        "operationId": "deliverMessage", "summary": "Deliver a department system's reply", "tags": ["messages"],
        "description": "Delivers a message to the one case that waits for it and whose correlation values match "
                       "every given key. 404 when no case waits, 409 when several match. Needs scope "
                       "`messages:deliver` and the receiving case's process allowed.",
        "security": [{"bearer": ["messages:deliver"]}],
        "requestBody": _body("DeliverMessageRequest"),
        "responses": {"200": _json("CommandResult", "The message was delivered; the receiving case."),
                      "404": {"$ref": "#/components/responses/NotFound"},
                      "409": {"$ref": "#/components/responses/Conflict"}, **_BODY_PROBLEMS, **_AUTH_PROBLEMS},
    }},
}

RESPONSES = {
    "MalformedRequest": _problem("Malformed request: invalid JSON, query parameter or header."),
    "Unauthorized": _problem("Missing, unknown or revoked bearer token."),
    "Forbidden": _problem("The client lacks the scope, or may not use the process."),
    "NotFound": _problem("No such case (or no case waits for the message)."),
    "Conflict": _problem("The request conflicts with the state of the cases."),
    "PayloadTooLarge": _problem("The body is too large."),
    "UnsupportedMediaType": _problem("The body is not application/json."),
    "ValidationFailed": _problem("The content is not acceptable; see `errors`."),
    "Problem": _problem("Any other error, as problem details (e.g. 405, 500)."),
}


def _description() -> str:
    problems = "\n".join(f"- `{type_uri(p.slug)}` ({p.status} {p.title}): {p.meaning}" for p in PROBLEM_TYPES.values())
    scopes = "\n".join(f"- `{k}`: {v}" for k, v in SCOPES.items())
    return (
        "Integration API of yijianshi (一件事): department systems and platforms such as the 12345 hotline "
        "start cases, deliver replies to waiting cases by correlation key, and read a case's state and history.\n\n"
        "Authentication: `Authorization: Bearer <token>`; tokens are issued per client with "
        "`yijianshi api-client create`. Scopes:\n" + scopes + "\n\n"
        "Every error is an RFC 9457 problem document (`application/problem+json`). Problem types:\n" + problems)


def build_document(server_url: str = "/api/v1") -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "yijianshi integration API", "version": API_VERSION, "description": _description()},
        "servers": [{"url": server_url}],
        "tags": [{"name": "cases", "description": "Start and read cases."},
                 {"name": "messages", "description": "Replies of department systems."}],
        "paths": deepcopy(PATHS),
        "components": {
            "schemas": deepcopy(SCHEMAS),
            "responses": deepcopy(RESPONSES),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Client token from `yijianshi api-client create`."}},
        },
    }


def validation_schema(name: str) -> dict:
    """A JSON Schema (2020-12) that validates a request body against the document's schema `name`."""
    return {"$ref": f"#/components/schemas/{name}", "components": {"schemas": SCHEMAS}}
