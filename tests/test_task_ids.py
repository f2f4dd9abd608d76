"""Work-item (engine task) ids on SQLite as their 16 bytes (storage/tables/base.TaskId, migration
0027): what is written reads back as the same text, anything that is not a UUID in canonical text
stays text and finds nothing else, and the migration converts existing rows and back exactly."""
from __future__ import annotations

import uuid

import pytest
from alembic import command
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, literal, select, text
from sqlalchemy.dialects import postgresql

from yijianshi.engine.errors import NotFound
from yijianshi.storage.tables import WorkItem
from yijianshi.storage.tables.base import TaskId, TaskIdText
from tests.checkpoint_support import ADMIN, DESK, finished_case, running_case
from tests.conftest import make_engine

# Every id column 0027 converts on SQLite.
ID_COLUMNS = (("work_items", "id"), ("work_item_groups", "work_item_id"), ("work_item_group_links", "work_item_id"),
              ("events", "work_item_id"), ("external_tasks", "id"), ("deadlines", "task_id"),
              ("command_failures", "work_item_id"), ("materials", "work_item_id"))

CANONICAL = [str(uuid.uuid4()) for _ in range(5)]
# Not a UUID in canonical text: kept as text, and found by nothing but itself.
OTHERS = ["nope", "", CANONICAL[0].upper(), "{" + CANONICAL[1][1:35] + "}", " " + CANONICAL[2][1:],
          CANONICAL[3].replace("-", ""), "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "1234567 -1234-1234-1234-123456789012"]


@pytest.fixture
def ids_table():
    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("n", Integer, primary_key=True), Column("id", TaskId))
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"n": n, "id": v} for n, v in enumerate(CANONICAL + OTHERS + [None])])
    yield engine, table
    engine.dispose()


def test_uuids_are_16_bytes_and_read_back_as_the_same_text(ids_table):
    engine, t = ids_table
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT n, id FROM t")).all())
        read = dict(conn.execute(select(t.c.n, t.c.id)).all())
    values = CANONICAL + OTHERS + [None]
    assert [read[n] for n in range(len(values))] == values
    assert [stored[n] for n in range(len(CANONICAL))] == [uuid.UUID(v).bytes for v in CANONICAL]
    assert [stored[len(CANONICAL) + n] for n in range(len(OTHERS))] == OTHERS  # as text


def test_a_lookup_finds_the_same_value_only(ids_table):
    engine, t = ids_table
    with engine.connect() as conn:
        for value in CANONICAL + OTHERS:
            assert conn.execute(select(t.c.id).where(t.c.id == value)).scalars().all() == [value]
        for missing in ("nope2", CANONICAL[4].upper(), str(uuid.uuid4()), CANONICAL[0][:35], "x" * 300):
            assert conn.execute(select(t.c.id).where(t.c.id == missing)).first() is None
        wanted = [CANONICAL[1], CANONICAL[3], "nope", CANONICAL[2].upper()]
        assert sorted(conn.execute(select(t.c.id).where(t.c.id.in_(wanted))).scalars()) == sorted(wanted[:3])
        # literal rendering (EXPLAIN of a statement with its values) means the same
        q = select(t.c.id).where(t.c.id.in_([CANONICAL[4], "nope"]))
        sql = str(q.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
        assert set(conn.execute(text(sql)).scalars()) == {uuid.UUID(CANONICAL[4]).bytes, "nope"}


def test_ids_sort_as_their_text(ids_table):
    engine, t = ids_table
    with engine.connect() as conn:
        ordered = conn.execute(select(t.c.id).where(t.c.n < len(CANONICAL)).order_by(t.c.id)).scalars().all()
    assert ordered == sorted(CANONICAL)


def test_sql_that_builds_text_from_an_id_gets_its_text(ids_table):
    engine, t = ids_table
    with engine.connect() as conn:
        keys = conn.execute(select(literal("warning:") + TaskIdText(t.c.id)).order_by(t.c.n)).scalars().all()
    assert keys == [f"warning:{v}" for v in CANONICAL + OTHERS] + [None]
    pg = str(select(TaskIdText(t.c.id)).compile(dialect=postgresql.dialect()))
    assert pg.startswith("SELECT t.id")


def test_postgresql_keeps_the_text():
    dialect = postgresql.dialect()
    assert TaskId().bind_processor(dialect) is None and TaskId().result_processor(dialect, None) is None
    assert TaskId().process_bind_param(CANONICAL[0], dialect) == CANONICAL[0]


def test_a_case_stores_its_ids_as_bytes_and_finds_them(sqlite_engine):
    case_id = finished_case(sqlite_engine)
    started = sqlite_engine.cases.start_case("parallel_review", {"channel": "网上"}, DESK)
    with sqlite_engine.db.engine.connect() as conn:
        for table, column in ID_COLUMNS:
            kinds = set(conn.execute(text(f"SELECT typeof({column}) FROM {table} WHERE {column} IS NOT NULL")).scalars())
            assert kinds <= {"blob"}, (table, kinds)
        assert conn.execute(text("SELECT count(*) FROM events WHERE length(work_item_id) = 16")).scalar() > 0
        ids = conn.execute(select(WorkItem.__table__.c.id).where(WorkItem.__table__.c.case_id == started.id)).scalars()
        ready = sorted(ids)
    assert ready and all(str(uuid.UUID(i)) == i for i in ready)
    assert sorted(i.id for i in started.ready) == ready
    assert sqlite_engine.verify(case_id)[0].ok  # the hash chain commits to the ids as text
    for wrong in ("nope", ready[0].upper(), ready[0][:35], ""):
        with pytest.raises(NotFound):
            sqlite_engine.cases.claim(wrong, ADMIN)
    sqlite_engine.cases.claim(ready[0], ADMIN)


def test_the_migration_converts_the_ids_and_back_exactly(db_url):
    engine = make_engine(db_url)
    try:
        case_id = finished_case(engine)
        running_case(engine)
        sqlite = engine.db.is_sqlite
        odd = ["legacy-id", str(uuid.uuid4()).upper()]  # text that is no canonical UUID stays text both ways
        with engine.db.engine.begin() as conn:
            for value in odd:
                conn.execute(text("INSERT INTO work_item_group_links (work_item_id, group_code, case_id) "
                                  "VALUES (:w, 'x', :c)"), {"w": value, "c": case_id})
        before = _ids(engine)
        history = engine.history(case_id)
        command.downgrade(engine.db.alembic_config(), "0026_sqlite_integer_timestamps")
        after_downgrade = _ids(engine, raw=True)
        command.upgrade(engine.db.alembic_config(), "head")
        assert _ids(engine) == before
        if sqlite:  # as the code before 0027 stored them
            assert after_downgrade == before
            assert _kinds(engine) == {"blob", "text"}  # the odd ones stay text
        else:  # nothing changes on PostgreSQL
            assert after_downgrade == before
        assert all(before[key] for key in (("work_items", "id"), ("events", "work_item_id")))
        assert engine.history(case_id) == history and engine.verify(case_id)[0].ok
        with engine.db.engine.connect() as conn:
            found = conn.execute(text("SELECT count(*) FROM work_item_group_links WHERE work_item_id IN (:a, :b)"),
                                 {"a": odd[0], "b": odd[1]}).scalar()
        assert found == 2
    finally:
        engine.db.dispose()


def _ids(engine, raw: bool = False) -> dict:
    """Every id column's values (raw: as stored, typed: as TaskId reads them), sorted."""
    out = {}
    with engine.db.engine.connect() as conn:
        for table, column in ID_COLUMNS:
            if raw:
                values = conn.execute(text(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")).scalars()
            else:
                t = Table(table, MetaData(), Column(column, TaskId))
                values = conn.execute(select(t.c[column]).where(t.c[column].is_not(None))).scalars()
            out[(table, column)] = sorted(values)
    return out


def _kinds(engine) -> set[str]:
    with engine.db.engine.connect() as conn:
        return {kind for table, column in ID_COLUMNS for kind in conn.execute(
            text(f"SELECT DISTINCT typeof({column}) FROM {table} WHERE {column} IS NOT NULL")).scalars()}
