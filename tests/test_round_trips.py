"""Round trips of a case command on PostgreSQL (issue #17): a read, then the write transaction —
BEGIN, the version-checked UPDATE, the projection rows, the history and COMMIT — sent as one
pipeline; no pre-ping per checkout. Measured through bench/wire_turns.py's SlowLink, which holds
every answer of the server back: each time a command waits for the server costs one latency.

Also: the version check done by the server inside that pipeline refuses a stale write and nothing
of the transaction is kept (both databases), and connections killed under the pool are replaced
without a failed command."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.wire_turns import SlowLink
from tests.conftest import deploy_fixtures, make_engine
from yijianshi.storage import case_store
from yijianshi.storage.write_batch import StaleWrite

LATENCY = 0.1
DEPT = {"approved": "true", "remark": "同意"}
FORMS = {"apply": {"applicant_name": "张三", "id_number": "120101199001011239", "amount": "100"},
         "deliver": {"delivered": "true"}}


def _timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def _run_case(engine, clerk) -> list[tuple[str, float]]:
    """Start a parallel_review case and complete it; (command, seconds) of each command."""
    case, seconds = _timed(lambda: engine.cases.start_case("parallel_review", {"n": 1}, clerk))
    timings = [("start", seconds)]
    ready = list(case.ready)
    while ready:
        item = ready.pop(0)
        result, seconds = _timed(lambda: engine.cases.complete_work_item(
            item.id, FORMS.get(item.task_spec, DEPT), clerk))
        timings.append((item.task_spec, seconds))
        ready.extend(result.ready)
    assert result.status == "completed"
    return timings


def test_a_case_command_waits_for_the_server_at_most_three_times(migrated_pg_url, clerk):
    url = make_url(migrated_pg_url)
    link = SlowLink(url.host, url.port).start()
    engine = make_engine(url.set(port=link.port).render_as_string(hide_password=False))
    try:
        deploy_fixtures(engine, "parallel_review.bpmn")
        _run_case(engine, clerk)  # warm: pool, definitions, statements
        base = [_run_case(engine, clerk) for _ in range(2)]
        link.latency = LATENCY
        slow = _run_case(engine, clerk)
    finally:
        engine.db.dispose()
        link.stop()
    trips = {name: round((seconds - min(b[i][1] for b in base)) / LATENCY) for i, (name, seconds) in enumerate(slow)}
    print("round trips per command:", trips)
    assert max(trips.values()) <= 3, trips
    # Completing a task: one read, one write transaction.
    assert all(n == 2 for name, n in trips.items() if name.startswith("dept_")), trips


def test_the_version_check_refuses_a_stale_write_and_keeps_nothing(migrated_db_url, clerk):
    engine = make_engine(migrated_db_url)
    try:
        deploy_fixtures(engine, "parallel_review.bpmn")
        case = engine.cases.start_case("parallel_review", {}, clerk)
        item = case.ready[0].id
        now = datetime.now(timezone.utc)
        with engine.db.reader.connect() as conn:
            before_seq = case_store.case_head(conn, case.id).history_seq
        with pytest.raises(StaleWrite):
            with engine.db.command_transaction() as conn:
                case_store.end_work_items(conn, [item], "completed", now, "someone")
                case_store.update_case(conn, case.id, case.version + 7, {
                    "updated_at": now, "history_seq": 99, "history_head": "x" * 64})
                case_store.end_work_items(conn, [item], "cancelled", now, "someone")
        with engine.db.reader.connect() as conn:
            head = case_store.case_head(conn, case.id)
            row = case_store.work_item(conn, item)
        assert (head.version, head.history_seq) == (case.version, before_seq)
        assert row.state == "ready" and row.ended_by is None
        # The case goes on normally afterwards.
        done = engine.cases.complete_work_item(item, {"applicant_name": "张三"}, clerk)
        assert len(done.ready) == 4
    finally:
        engine.db.dispose()


def test_connections_killed_under_the_pool_are_replaced_without_a_failed_command(migrated_pg_url, clerk):
    engine = make_engine(migrated_pg_url)
    try:
        deploy_fixtures(engine, "parallel_review.bpmn")
        case = engine.cases.start_case("parallel_review", {}, clerk)
        assert engine.db.engine.pool._pre_ping is False  # no round trip per checkout
        # Every pooled connection dies (a database restart, a firewall dropping idle connections).
        admin = make_engine(migrated_pg_url)
        with admin.db.engine.connect() as conn:
            killed = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
        admin.db.dispose()
        assert killed >= 1
        done = engine.cases.complete_work_item(case.ready[0].id, {"applicant_name": "张三"}, clerk)
        assert len(done.ready) == 4
    finally:
        engine.db.dispose()


def test_ending_a_work_item_is_a_hot_update_on_postgresql(migrated_pg_url, clerk):
    """No index of work_items holds a column that ending an item changes (migration 0023): the
    update writes no index entry (a heap-only tuple), the 15 % free space keeps it on its page."""
    engine = make_engine(migrated_pg_url)
    deploy_fixtures(engine, "parallel_review.bpmn")
    for _ in range(3):
        _run_case(engine, clerk)
    engine.db.dispose()  # the backends exit and report their statistics
    admin = make_engine(migrated_pg_url)
    try:
        deadline = time.monotonic() + 10
        while True:
            with admin.db.engine.connect() as conn:
                updates, hot = conn.execute(text(
                    "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'work_items'")).one()
            if updates >= 18 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        admin.db.dispose()
    assert updates >= 18  # six items ended per case
    assert hot == updates, (hot, updates)


def test_a_write_batch_sends_its_statements_on_one_driver_cursor(migrated_pg_url, clerk, monkeypatch):
    """The statements of a batch whose results nobody reads share one psycopg cursor (making and
    closing a cursor per statement was a tenth of the driver's work per command); a query sent
    with them (its first row wanted) gets a second."""
    import psycopg

    from yijianshi.storage import write_batch

    engine = make_engine(migrated_pg_url)
    try:
        deploy_fixtures(engine, "parallel_review.bpmn")
        opened: list[int] = []
        per_flush: list[tuple[int, int]] = []
        real_cursor, real_flush = psycopg.Connection.cursor, write_batch.WriteBatch.flush

        def cursor(self, *args, **kwargs):
            opened.append(1)
            return real_cursor(self, *args, **kwargs)

        def flush(self, last=None):
            statements = len(self.pending) + (last is not None)
            before = len(opened)
            try:
                return real_flush(self, last)
            finally:
                per_flush.append((statements, len(opened) - before))

        monkeypatch.setattr(psycopg.Connection, "cursor", cursor)
        monkeypatch.setattr(write_batch.WriteBatch, "flush", flush)
        _run_case(engine, clerk)
    finally:
        engine.db.dispose()
    assert max(n for n, _ in per_flush) >= 6, per_flush  # the batches hold many statements
    assert all(cursors <= 2 for _, cursors in per_flush), per_flush
