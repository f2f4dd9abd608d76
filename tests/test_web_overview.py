"""The first web page: an overview of definitions and open work, served from the same engine."""
from __future__ import annotations

from engine.actors import Actor
from tests.conftest import deploy_fixtures
from web.app import create_app


def test_overview_lists_definitions_and_open_work(sqlite_engine):
    deploy_fixtures(sqlite_engine, "parallel_review.bpmn")
    sqlite_engine.cases.start_case("parallel_review", {}, Actor("desk", frozenset({"front_desk"})))
    client = create_app(engine=sqlite_engine).test_client()
    page = client.get("/").get_data(as_text=True)
    assert "并联审批（基准）" in page and "填写申请表" in page and "共 1 件" in page
    health = client.get("/healthz").get_json()
    assert health == {"status": "ok", "database": "ok"}
