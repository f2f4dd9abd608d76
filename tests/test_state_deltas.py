"""A command writes only what it changed of a case's engine state (#17, engine/cases/state_delta.py):
a delta row after the base in case_states, which stays as it was; the state read back from base
and deltas is the live one; a finished case is one base again. Each test runs on SQLite and on PostgreSQL."""
from __future__ import annotations

import json
import threading

import orjson
import pytest
from alembic import command
from sqlalchemy import inspect, text

from yijianshi.engine.cases import state_delta
from yijianshi.engine.clock import ControlledClock
from yijianshi.engine.runtime import Engine
from yijianshi.storage import case_store, state_blob
from yijianshi.storage.database import Database
from yijianshi.storage.prepared import Prepared
from tests.checkpoint_support import ADMIN, DESK
from tests.conftest import deploy_fixtures, make_engine

FORMS = {"apply": {"applicant_name": "孙七", "amount": "12"}, "deliver": {"delivered": True}}


def _stored(engine, case_id: int) -> tuple[bytes, list[dict]]:
    with engine.db.engine.connect() as conn:
        blob = bytes(conn.execute(text("SELECT base FROM case_states WHERE case_id = :c"), {"c": case_id}).scalar_one())
        deltas = [orjson.loads(state_blob.decompress(bytes(d))) for (d,) in conn.execute(
            text("SELECT delta FROM case_state_deltas WHERE case_id = :c ORDER BY version"), {"c": case_id})]
    return blob, deltas


def _base_row_version(engine, case_id: int):
    """Which version of the case_states row is current: PostgreSQL's xmin (the transaction that
    wrote it), SQLite's whole row (no such column)."""
    column = "xmin::text" if engine.db.url.get_backend_name() == "postgresql" else "base"
    with engine.db.engine.connect() as conn:
        return conn.execute(text(f"SELECT {column} FROM case_states WHERE case_id = :c"), {"c": case_id}).scalar_one()


def _live_state(engine, case_id: int) -> str:
    runner = engine.cases.runner
    version = runner.cache.version_of(case_id)
    assert version is not None
    wf, projection = runner.cache.take(case_id, version)
    runner.cache.put(case_id, version, wf, projection)
    return runner.codec.dumps(wf)


def _complete(engine, item) -> list:
    return list(engine.cases.complete_work_item(item.id, FORMS.get(item.task_spec, {"approved": True}), ADMIN).ready)


def test_commands_write_deltas_the_base_stays_and_a_finished_case_is_one_base(engine):
    deploy_fixtures(engine, "parallel_review.bpmn")
    case = engine.cases.start_case("parallel_review", {"channel": "窗口"}, DESK)
    base, deltas = _stored(engine, case.id)
    assert deltas == []
    base_row = _base_row_version(engine, case.id)
    queue = list(case.ready)
    apply = queue.pop(0)
    queue.extend(_complete(engine, apply))  # the application opens the four departments' steps
    market = queue.pop(0)
    queue.extend(_complete(engine, market))
    after_base, deltas = _stored(engine, case.id)
    assert after_base == base, "a command that writes a delta leaves the base alone"
    # ... not even rewritten with the same bytes: on PostgreSQL the row is the one the start wrote
    # (a command updates the small case row only; before 0031 the base was copied into every new
    # version of the case row)
    assert _base_row_version(engine, case.id) == base_row
    assert len(deltas) == 2 and all(d["format"] == state_delta.DELTA_FORMAT for d in deltas)
    # The second delta holds the records of what completing one department's step changed: that
    # step's task, and not the records of tasks it left alone (the start, the application).
    written = deltas[1]["parts"][""]["tasks"]
    assert market.id in written and apply.id not in written
    assert written[market.id]["state"] == 64 and written[market.id]["delta"]["updates"]["approved"] is True
    # Base and deltas read back give the live workflow's state, byte for byte.
    assert engine.cases.runner.codec.dumps(engine.cases.workflow_of(case.id)) == _live_state(engine, case.id)
    while queue:
        queue.extend(_complete(engine, queue.pop(0)))
    final, deltas = _stored(engine, case.id)
    assert deltas == [] and final != base
    state = json.loads(state_blob.decompress(final))
    assert state["completed"] is True and state["format"] == "yjs-case/2"


def test_a_case_not_cached_reads_base_and_deltas_and_goes_on_with_deltas(engine):
    deploy_fixtures(engine, "parallel_review.bpmn")
    case = engine.cases.start_case("parallel_review", {"channel": "窗口"}, DESK)
    queue = list(case.ready)
    queue.extend(_complete(engine, queue.pop(0)))
    base, deltas = _stored(engine, case.id)
    assert len(deltas) == 1
    engine.cases.runner.cache.drop(case.id)  # as on another host: the workflow is read from the database
    queue.extend(_complete(engine, queue.pop(0)))
    again, deltas = _stored(engine, case.id)
    assert again == base and len(deltas) == 2
    assert engine.cases.runner.codec.dumps(engine.cases.workflow_of(case.id)) == _live_state(engine, case.id)
    while queue:
        queue.extend(_complete(engine, queue.pop(0)))
    with engine.db.engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM cases WHERE id = :c"), {"c": case.id}).scalar_one() == "completed"
    assert _stored(engine, case.id)[1] == []


def test_many_deltas_are_folded_into_a_new_base(engine, monkeypatch):
    monkeypatch.setattr(state_delta, "MAX_DELTAS", 2)
    deploy_fixtures(engine, "parallel_review.bpmn")
    case = engine.cases.start_case("parallel_review", {"channel": "窗口"}, DESK)
    queue = list(case.ready)
    counts = []
    for _ in range(4):
        queue.extend(_complete(engine, queue.pop(0)))
        counts.append(len(_stored(engine, case.id)[1]))
    assert counts == [1, 2, 0, 1]  # the third command found two deltas: it wrote a full state
    assert engine.cases.runner.codec.dumps(engine.cases.workflow_of(case.id)) == _live_state(engine, case.id)


def _read_state(engine, case_id: int) -> tuple[int, str]:
    """The case's state as a command on a cache miss reads it: version, and the state serialized."""
    runner = engine.cases.runner
    with engine.db.reader.connect() as conn:
        stored = case_store.case_state(conn, case_id)
        definition = runner.definitions.by_id(conn, case_store.case_head(conn, case_id).definition_id)
    wf = runner.codec.load_stored(stored.base, stored.deltas, definition.spec, definition.subprocess_specs)
    return stored.version, runner.codec.dumps(wf)


@pytest.mark.parametrize("max_deltas", [8, 1], ids=["delta-committed", "compaction-committed"])
def test_the_state_is_read_from_one_snapshot_while_another_command_commits(engine, monkeypatch, max_deltas):
    """Another host's command commits just after the reader's first statement: what is read is the
    state of one version, base and deltas together (read in two statements, the old base came with
    the new delta, or a compacted case's old base without the deltas it needed; seen in CI as a
    clerk told "该事项已不在待办状态" instead of who had completed it)."""
    monkeypatch.setattr(state_delta, "MAX_DELTAS", max_deltas)
    deploy_fixtures(engine, "parallel_review.bpmn")
    case = engine.cases.start_case("parallel_review", {"channel": "窗口"}, DESK)
    queue = list(case.ready)
    queue.extend(_complete(engine, queue.pop(0)))  # one delta after the base
    version, expected = _read_state(engine, case.id)
    other = Engine(Database(engine.db.url.render_as_string(hide_password=False)), ControlledClock())
    market = next(i for i in queue if i.task_spec == "dept_market")
    armed = [True]
    reader = threading.get_ident()
    original = Prepared._run

    def run_then_commit_elsewhere(self, conn, work):
        result = original(self, conn, work)
        if armed[0] and threading.get_ident() == reader:
            armed[0] = False
            worker = threading.Thread(target=lambda: other.cases.complete_work_item(
                market.id, {"approved": True}, ADMIN))
            worker.start()
            worker.join(30)
        return result

    try:
        monkeypatch.setattr(Prepared, "_run", run_then_commit_elsewhere)
        raced = _read_state(engine, case.id)
        monkeypatch.setattr(Prepared, "_run", original)
        assert not armed[0], "the other command ran"
        assert raced == (version, expected)
        after_version, after = _read_state(engine, case.id)
        assert after_version == version + 1 and after != expected
        with engine.db.engine.connect() as conn:
            deltas = conn.execute(text("SELECT count(*) FROM case_state_deltas WHERE case_id = :c"),
                                  {"c": case.id}).scalar_one()
        assert deltas == (2 if max_deltas == 8 else 0)
    finally:
        other.db.dispose()


def test_migration_0031_moves_the_bases_to_their_table_and_back(db_url):
    """Upgrading to 0031 moves every case's base from cases.state_blob to case_states; its
    downgrade moves it back. A running case with deltas reads the same state on both sides."""
    engine = make_engine(db_url)
    try:
        deploy_fixtures(engine, "parallel_review.bpmn")
        case = engine.cases.start_case("parallel_review", {"channel": "窗口"}, DESK)
        queue = list(case.ready)
        queue.extend(_complete(engine, queue.pop(0)))
        version, state = _read_state(engine, case.id)
        base, deltas = _stored(engine, case.id)
        command.downgrade(engine.db.alembic_config(), "0030_case_state_deltas")
        with engine.db.engine.connect() as conn:
            blob = conn.execute(text("SELECT state_blob FROM cases WHERE id = :c"), {"c": case.id}).scalar_one()
            tables = inspect(conn).get_table_names()
        assert bytes(blob) == base and "case_states" not in tables
        engine.db.upgrade()
        with engine.db.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("cases")}
        assert "state_blob" not in columns
        assert _stored(engine, case.id) == (base, deltas)
        assert _read_state(engine, case.id) == (version, state)
        engine.cases.runner.cache.drop(case.id)
        while queue:  # and the case goes on to its end
            queue.extend(_complete(engine, queue.pop(0)))
        assert _stored(engine, case.id)[1] == []
    finally:
        engine.db.dispose()
