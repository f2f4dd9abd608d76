"""Property-based fuzzing of the integration API from its own OpenAPI document (schemathesis): for
generated valid and invalid requests on every operation, no 5xx, every status, header and body as
the document says, every rejection a problem document with a message.

Left out: the "schema-valid request accepted" check. The document describes a start form generically
(field id → value), so a schema-valid body can still name a process that is not deployed or fill a
form wrongly; those are refused with 422 problem details listing each field, which is the intended
answer, not a defect.

(schemathesis's pytest fixture loader does not work with pytest 9, so each operation's strategy is
run with hypothesis directly.)"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.web.api_support import ALL_SCOPES, WORK_ORDER, make_api_app
from yijianshi.web.services import services

OPERATIONS = ["startCase", "getCase", "getCaseHistory", "deliverMessage"]
REPLY = {"message": "dept_reply", "correlation": {"order_id": "F-1"}, "payload": {"status": "已办结"}}


@pytest.fixture
def api(web_engine, tmp_path):
    app = make_api_app(web_engine, tmp_path)
    with app.app_context():
        _client, token = services().api_clients.create("fuzzer", ALL_SCOPES)
    http, auth = app.test_client(), {"Authorization": f"Bearer {token}"}
    started = http.post("/api/v1/cases", json=WORK_ORDER, headers={**auth, "Idempotency-Key": "seed-1"})
    waiting = http.post("/api/v1/cases", json={"process": "dept_query", "data": {"order_id": "F-1"}},
                        headers={**auth, "Idempotency-Key": "seed-2"})
    assert started.status_code == waiting.status_code == 201
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app), token, started.get_json()["case_id"]


def _strategy(operation, operation_id: str, mode: GenerationMode, case_id: int):
    """Generated requests, and (in positive mode) requests aimed at what exists, so that successful
    answers are checked against the document too."""
    generated = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.NEGATIVE:
        return generated
    aimed = {"startCase": dict(body=WORK_ORDER), "getCase": dict(path_parameters={"case_id": case_id}),
             "getCaseHistory": dict(path_parameters={"case_id": case_id}), "deliverMessage": dict(body=REPLY)}
    return st.one_of(generated, operation.as_strategy(generation_mode=mode, **aimed[operation_id]))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_api_conforms_to_its_document(api, operation_id, mode):
    schema, token, case_id = api
    operation = schema.find_operation_by_id(operation_id)
    statuses = []

    @given(case=_strategy(operation, operation_id, mode, case_id))
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                                          excluded_checks=[positive_data_acceptance])
        statuses.append(response.status_code)
        assert response.status_code < 500, response.text[:500]
        if response.status_code >= 400:
            assert response.headers["content-type"][0].startswith("application/problem+json")
            assert response.json()["detail"].strip()

    check()
    assert statuses
    if mode is GenerationMode.POSITIVE:
        assert any(200 <= s < 300 for s in statuses), statuses  # successes were checked too
    else:
        # Invalid requests are refused (a generated bad Authorization header is replaced by the
        # client's token above, so some of them become valid).
        assert any(400 <= s < 500 for s in statuses), statuses
