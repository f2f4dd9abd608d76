"""The integration API's OpenAPI document (valid, covering every route) and its documentation page."""
from __future__ import annotations

from openapi_spec_validator import validate as validate_openapi


def test_openapi_document_is_valid_and_covers_every_route(api_app):
    http = api_app.test_client()
    response = http.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    validate_openapi(doc)
    assert doc["openapi"] == "3.1.0" and doc["servers"] == [{"url": "/api/v1"}]
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for rule in api_app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi_document":
            path = rule.rule.removeprefix("/api/v1").replace("<int:case_id>", "{case_id}")
            served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "Client token from `yijianshi api-client create`."}
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert "default" in op["responses"] and op["security"]


def test_docs_page_renders_the_document_without_scripts(api_app):
    page = api_app.test_client().get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    for anchor in ("op-startCase", "op-getCase", "op-getCaseHistory", "op-deliverMessage",
                   "problem-validation-failed", "problem-idempotency-key-reused", "schema-StartCaseRequest"):
        assert f'id="{anchor}"' in text
    assert "<script>" not in text and "https://" not in text.split("</header>", 1)[1].split("<pre", 1)[0]
