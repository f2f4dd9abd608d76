"""Event types on SQLite as small codes (storage/tables/event_types.EventType, migration 0028): every
type the engine writes has a code that never changes, a case stores codes and reads names (the
hash chain still verifies), text that is no known type stays text, SQL comparisons and the partial
index ix_events_item_ends work with the codes, and the migration converts existing rows and back."""
from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Column, Integer, MetaData, Table, case, create_engine, event, insert, literal, select, text
from sqlalchemy.dialects import postgresql

from yijianshi.engine.cases import history as h
from yijianshi.storage import case_store, supervision_store
from yijianshi.storage.tables import Event
from yijianshi.storage.tables.event_types import EVENT_TYPE_CODES, EventType
from tests.checkpoint_support import finished_case, rewrite, running_case
from tests.conftest import make_engine

events_t = Event.__table__
_MIGRATION = (Path(__file__).resolve().parents[1] / "storage" / "migrations" / "versions"
              / "0028_event_type_codes.py")
UNKNOWN = ["legacy_note", "", "Work_Item_Completed", "work_item_completed ", "x" * 32]


def _history_types() -> set[str]:
    return {value for name, value in vars(h).items()
            if name.isupper() and isinstance(value, str) and value.islower() and "_" in value
            and name not in ("GENESIS", "IMPLICIT_LINK")}


def test_every_event_type_has_a_code_and_codes_are_unique_and_small():
    types = _history_types()
    assert h.WORK_ITEM_COMPLETED in types and h.WORK_ITEM_FOLLOW_UP_SET in types and len(types) >= 24
    assert types <= set(EVENT_TYPE_CODES), types - set(EVENT_TYPE_CODES)
    codes = list(EVENT_TYPE_CODES.values())
    assert len(set(codes)) == len(codes)
    assert sorted(codes) == list(range(1, len(codes) + 1))


def test_the_migration_keeps_a_frozen_copy_that_the_table_never_renumbers():
    spec = importlib.util.spec_from_file_location("m0028", _MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert {name: EVENT_TYPE_CODES[name] for name in module.CODES} == module.CODES


@pytest.fixture
def types_table():
    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("n", Integer, primary_key=True), Column("type", EventType))
    table.metadata.create_all(engine)
    values = list(EVENT_TYPE_CODES) + UNKNOWN + [None]
    with engine.begin() as conn:
        conn.execute(insert(table), [{"n": n, "type": v} for n, v in enumerate(values)])
    yield engine, table, values
    engine.dispose()


def test_known_types_are_stored_as_codes_and_read_back_as_names(types_table):
    engine, t, values = types_table
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT n, type FROM t")).all())
        read = dict(conn.execute(select(t.c.n, t.c.type)).all())
    assert [read[n] for n in range(len(values))] == values
    assert [stored[n] for n in range(len(EVENT_TYPE_CODES))] == [str(c) for c in EVENT_TYPE_CODES.values()]
    assert [stored[len(EVENT_TYPE_CODES) + n] for n in range(len(UNKNOWN))] == UNKNOWN  # as text


def test_comparisons_in_sql_use_the_codes(types_table):
    engine, t, _ = types_table
    with engine.connect() as conn:
        for value in list(EVENT_TYPE_CODES) + UNKNOWN:
            assert conn.execute(select(t.c.type).where(t.c.type == value)).scalars().all() == [value]
        assert conn.execute(select(t.c.type).where(t.c.type == "no_such_type")).first() is None
        wanted = [h.CASE_STARTED, h.WORK_ITEM_RETURNED, "legacy_note", "no_such_type"]
        assert sorted(conn.execute(select(t.c.type).where(t.c.type.in_(wanted))).scalars()) == sorted(wanted[:3])
        flagged = conn.execute(select(t.c.type, case((t.c.type.in_([h.WORK_ITEM_COMPLETED]), literal("y")),
                                                     else_=literal("n")))).all()
        assert {v for v, f in flagged if f == "y"} == {h.WORK_ITEM_COMPLETED}
        # the statement with its values in the SQL (literal binds) means the same
        q = select(t.c.type).where(t.c.type.in_([h.DEADLINE_FIRED, "legacy_note"]))
        sql = str(q.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
        assert sorted(conn.execute(text(sql)).scalars()) == sorted([str(EVENT_TYPE_CODES[h.DEADLINE_FIRED]),
                                                                    "legacy_note"])


def test_digits_are_no_event_type(types_table):
    engine, t, _ = types_table
    with pytest.raises(Exception, match="not digits"):
        with engine.begin() as conn:
            conn.execute(insert(t), {"n": 1000, "type": "2"})


def test_postgresql_keeps_the_names():
    dialect = postgresql.dialect()
    assert EventType().bind_processor(dialect) is None and EventType().result_processor(dialect, None) is None
    assert EventType().process_bind_param(h.WORK_ITEM_COMPLETED, dialect) == h.WORK_ITEM_COMPLETED
    q = select(events_t.c.id).where(events_t.c.type == h.WORK_ITEM_COMPLETED)
    assert "'work_item_completed'" in str(q.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def test_a_case_stores_codes_reads_names_and_its_chain_verifies(sqlite_engine):
    case_id = finished_case(sqlite_engine)
    with sqlite_engine.db.engine.connect() as conn:
        stored = conn.execute(text("SELECT type FROM events WHERE case_id = :c ORDER BY seq"), {"c": case_id}).scalars().all()
        completed = case_store.case_events(conn, case_id, [h.WORK_ITEM_COMPLETED])
    events = sqlite_engine.history(case_id)
    assert stored == [str(EVENT_TYPE_CODES[e.type]) for e in events]
    assert events[0].type == h.CASE_STARTED and events[-1].type == h.CASE_COMPLETED
    assert completed and {e.type for e in completed} == {h.WORK_ITEM_COMPLETED}
    assert sqlite_engine.verify(case_id)[0].ok  # the chain commits to the names


def test_the_supervision_query_of_ended_work_uses_the_partial_index(sqlite_engine):
    """SQLite uses a partial index only when the query's SQL implies its WHERE: the ending types are
    literals (their codes) in the SQL, not parameters."""
    finished_case(sqlite_engine)
    start = datetime(2000, 1, 1, tzinfo=UTC)
    executed = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        executed.append((statement, parameters))

    event.listen(sqlite_engine.db.reader, "before_cursor_execute", grab)
    try:
        with sqlite_engine.db.reader.connect() as conn:
            supervision_store.on_time(conn, start, start + timedelta(days=365 * 100))
            statement, parameters = executed[-1]
            plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            index_sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_events_item_ends'").scalar()
    finally:
        event.remove(sqlite_engine.db.reader, "before_cursor_execute", grab)
    codes = (EVENT_TYPE_CODES[h.WORK_ITEM_COMPLETED], EVENT_TYPE_CODES[h.WORK_ITEM_CANCELLED])
    assert f"type IN ('{codes[0]}', '{codes[1]}')" in index_sql
    assert any("events USING INDEX ix_events_item_ends" in step for step in plan), plan
    assert not any(step.startswith("SCAN events") for step in plan), plan


def _with_unknown_event(engine, case_id: int) -> None:
    """An event of a type no code has, appended to the case with its chain made whole again."""
    def edit(rows):
        extra = dict(rows[-1], type="legacy_note", data="{}")
        extra.pop("id")
        return rows + [extra]
    rewrite(engine, case_id, edit)
    with engine.db.engine.begin() as conn:  # rewrite leaves the append-only guard off
        if engine.db.is_sqlite:
            for action in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
                                     "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END")
        else:
            conn.exec_driver_sql("ALTER TABLE events ENABLE TRIGGER events_append_only")


def _raw_types(engine) -> list[tuple[int, int, str]]:
    with engine.db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT case_id, seq, type FROM events ORDER BY case_id, seq"))]


def test_the_migration_converts_the_types_and_back_exactly(db_url):
    engine = make_engine(db_url)
    try:
        case_id = finished_case(engine)
        running_case(engine)
        _with_unknown_event(engine, case_id)
        sqlite = engine.db.is_sqlite
        history = engine.history(case_id)
        assert history[-1].type == "legacy_note" and engine.verify(case_id)[0].ok
        coded = _raw_types(engine)
        command.downgrade(engine.db.alembic_config(), "0027_work_item_ids_as_bytes")
        named = _raw_types(engine)
        names = {str(code): name for name, code in EVENT_TYPE_CODES.items()} if sqlite else {}
        assert named == [(c, s, names.get(t, t)) for c, s, t in coded]  # as the code before 0028 stored them
        assert all(t in EVENT_TYPE_CODES or t == "legacy_note" for _, _, t in named)
        if sqlite:
            with engine.db.engine.connect() as conn:
                index_sql = conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'ix_events_item_ends'").scalar()
            assert "'work_item_completed', 'work_item_cancelled'" in index_sql
        with pytest.raises(Exception, match="append-only"):  # the guard is back after the conversion
            with engine.db.engine.begin() as conn:
                conn.execute(text("UPDATE events SET actor = 'mallory' WHERE case_id = :c"), {"c": case_id})
        command.upgrade(engine.db.alembic_config(), "head")
        assert _raw_types(engine) == coded
        if sqlite:
            assert {t for _, _, t in coded} - {"legacy_note"} <= {str(c) for c in EVENT_TYPE_CODES.values()}
        assert engine.history(case_id) == history and engine.verify(case_id)[0].ok
        with engine.db.engine.connect() as conn:
            found = conn.execute(select(events_t.c.seq).where(events_t.c.type == "legacy_note")).scalars().all()
        assert found == [history[-1].seq]
    finally:
        engine.db.dispose()
