"""Checking and deploying uploaded files: deployed references are included, only uploaded processes get
versions, staged uploads are the owner's and unaltered, and the versions list counts cases per version."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.modeling.definitions import SourceFile
from yijianshi.engine.modeling.upload_check import INCLUDED_PREFIX, deploy_reviewed, review_upload
from yijianshi.engine.modeling.upload_staging import StagingArea
from yijianshi.engine.errors import NotFound
from yijianshi.engine.modeling.registry import load_registry
from yijianshi.storage import definition_store
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "tests" / "web" / "fixtures" / "design"
REGISTRY = load_registry(ROOT / "processes" / "registry.json")
DESIGNER = Actor("sheji", frozenset())


def src(path: Path, name: str | None = None) -> SourceFile:
    return SourceFile(name or path.name, path.read_bytes())


PARENT = src(FIXTURES / "callflow" / "parent.bpmn")
CHILD = src(FIXTURES / "callflow" / "child.bpmn")


def test_a_valid_upload_plans_new_versions_then_unchanged(engine):
    review = review_upload(engine, [src(DESIGN / "stall_permit.bpmn")], REGISTRY)
    assert review.ok, review.problems + review.lint
    assert [(p.key, p.version, p.new) for p in review.planned] == [("stall_permit", 1, True)]
    results = deploy_reviewed(engine, review.uploaded, review.included, DESIGNER)
    assert [(r.key, r.version, r.created) for r in results] == [("stall_permit", 1, True)]
    again = review_upload(engine, [src(DESIGN / "stall_permit.bpmn")], REGISTRY)
    assert [(p.key, p.version, p.new) for p in again.planned] == [("stall_permit", 1, False)]
    results = deploy_reviewed(engine, again.uploaded, again.included, DESIGNER)
    assert [(r.key, r.version, r.created) for r in results] == [("stall_permit", 1, False)]
    with engine.db.reader.connect() as conn:
        assert [r.version for r in definition_store.versions_of(conn, "stall_permit")] == [1]


def test_deploy_errors_and_lint_problems_are_reported_with_lines(engine):
    review = review_upload(engine, [src(DESIGN / "stall_permit_broken.bpmn")], REGISTRY)
    assert not review.ok
    assert any(p.file == "stall_permit_broken.bpmn" and p.line == 42 and p.element == "f_approved"
               for p in review.problems)
    unregistered = SourceFile("unregistered.bpmn", (DESIGN / "stall_permit.bpmn").read_bytes()
                              .replace(b'camunda:candidateGroups="urban_mgmt"', b'camunda:candidateGroups="stall_office"'))
    review = review_upload(engine, [unregistered], REGISTRY)
    assert not review.problems and not review.ok  # the deploy would accept it; the lint does not
    assert [(p.file, p.line, p.element) for p in review.lint] == [("unregistered.bpmn", 18, "review")]
    assert "stall_office" in review.lint[0].message
    assert not review.planned


def test_called_process_deployed_already_is_included_from_its_latest_version(engine):
    alone = review_upload(engine, [PARENT], REGISTRY)
    assert not alone.ok and not alone.included
    assert any("dept_review" in p.message for p in alone.problems + alone.lint)

    deploy_reviewed(engine, [CHILD], [], DESIGNER)  # dept_review v1
    review = review_upload(engine, [PARENT], REGISTRY)
    assert review.ok, review.problems + review.lint
    assert [s.filename for s in review.included] == [INCLUDED_PREFIX + "child.bpmn"]
    assert review.included_for == {INCLUDED_PREFIX + "child.bpmn": ["dept_review"]}
    assert [(p.key, p.version, p.new) for p in review.planned] == [("licence_bundle", 1, True)]
    results = deploy_reviewed(engine, review.uploaded, review.included, DESIGNER)
    # Only the uploaded process gets a version; the called one keeps its own.
    assert [(r.key, r.version, r.created) for r in results] == [("licence_bundle", 1, True)]
    with engine.db.reader.connect() as conn:
        assert [r.version for r in definition_store.versions_of(conn, "dept_review")] == [1]
        row = definition_store.latest(conn, "licence_bundle")
    case = engine.cases.start_case("licence_bundle", {}, Actor("clerk", frozenset({"front_desk"})))
    assert case.ready and row.version == 1


def test_an_uploaded_process_replaces_the_deployed_file_that_defines_it(engine):
    deploy_reviewed(engine, [PARENT, CHILD], [], DESIGNER)
    changed_child = SourceFile("child.bpmn", CHILD.data.replace(b"days(5)", b"days(4)"))
    review = review_upload(engine, [PARENT, changed_child], REGISTRY)
    assert review.ok and not review.included
    assert sorted((p.key, p.version, p.new) for p in review.planned) == \
        [("dept_review", 2, True), ("licence_bundle", 2, True)]


def test_a_decision_deployed_already_is_included(engine):
    restaurant = ROOT / "processes" / "open_restaurant"
    engine.deploy([restaurant])
    main = src(restaurant / "open_restaurant.bpmn")
    changed = SourceFile(main.filename, main.data.replace("一表申请".encode(), "一表申请（新）".encode(), 1))
    review = review_upload(engine, [changed], REGISTRY)
    assert review.ok, review.problems + review.lint
    included = {s.filename for s in review.included}
    assert INCLUDED_PREFIX + "route.dmn" in included
    assert INCLUDED_PREFIX + "food_permit.bpmn" in included
    assert [(p.key, p.version, p.new) for p in review.planned] == [("open_restaurant", 2, True)]


def test_versions_list_counts_running_and_all_cases_per_version(engine):
    clerk = Actor("clerk", frozenset({"front_desk"}))
    deploy_reviewed(engine, [PARENT, CHILD], [], DESIGNER)
    first = engine.cases.start_case("licence_bundle", {}, clerk)
    engine.cases.start_case("licence_bundle", {}, clerk)
    engine.cases.cancel_case(first.id, clerk, "测试")
    v2 = SourceFile("parent.bpmn", PARENT.data.replace("证照联办".encode(), "证照联办（二）".encode()))
    deploy_reviewed(engine, [v2], [CHILD], DESIGNER)
    engine.cases.start_case("licence_bundle", {}, clerk)
    with engine.db.reader.connect() as conn:
        rows = [r for r in definition_store.versions_with_case_counts(conn) if r.key == "licence_bundle"]
    assert [(r.version, r.running, r.total) for r in rows] == [(2, 1, 1), (1, 1, 2)]


NOW = datetime(2025, 10, 9, 9, 0)


def test_staged_upload_is_its_owners_unaltered_and_expires(tmp_path):
    area = StagingArea(tmp_path / "staging", ttl=timedelta(hours=2))
    token = area.stage("sheji", [PARENT], [SourceFile(INCLUDED_PREFIX + "child.bpmn", CHILD.data)], NOW)
    uploaded, included = area.load(token, "sheji", NOW + timedelta(minutes=5))
    assert uploaded == [PARENT] and [s.data for s in included] == [CHILD.data]
    with pytest.raises(NotFound):
        area.load(token, "admin", NOW)  # someone else's
    with pytest.raises(NotFound):
        area.load("../../etc", "sheji", NOW)
    with pytest.raises(NotFound):
        area.load(token, "sheji", NOW + timedelta(hours=3))
    (tmp_path / "staging" / token / "0.xml").write_bytes(b"<altered/>")
    with pytest.raises(NotFound):
        area.load(token, "sheji", NOW)
    other = area.stage("sheji", [CHILD], [], NOW + timedelta(hours=3))  # sweeps the expired one
    assert [p.name for p in (tmp_path / "staging").iterdir()] == [other]
    area.discard(other)
    assert not list((tmp_path / "staging").iterdir())
