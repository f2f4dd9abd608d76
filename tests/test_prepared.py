"""Hot-path statements run on the driver's cursor must read and write exactly what SQLAlchemy's own
execution would: the same stored values, the same converted results, on SQLite and PostgreSQL. With
`Database(prepared=False)` the same statements go through plain Connection.execute."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import bindparam, insert, select, update

from yijianshi.engine.clock import ControlledClock
from yijianshi.engine.runtime import Engine
from yijianshi.storage.database import Database
from yijianshi.storage.tables import Case, Definition, Event
from yijianshi.storage.prepared import Prepared

cases = Case.__table__
events = Event.__table__
AT = datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=UTC)
SHANGHAI_AT = AT.astimezone(timezone(timedelta(hours=8)))


FIXTURE = Path(__file__).parent / "fixtures" / "parallel_review.bpmn"


def _database(url: str, prepared: bool) -> Database:
    engine = Engine(Database(url, prepared=prepared), ControlledClock())
    engine.deploy([FIXTURE])  # a case row needs a definition to point at
    return engine.db


@pytest.fixture
def db(migrated_db_url):
    database = _database(migrated_db_url, prepared=True)
    yield database
    database.dispose()


@pytest.fixture
def plain_db(migrated_db_url):
    database = _database(migrated_db_url, prepared=False)
    yield database
    database.dispose()


def _case_values(conn, **extra):
    definition_id = conn.execute(select(Definition.__table__.c.id)).scalars().first()
    return dict(definition_id=definition_id, definition_key="k", business_key=None, title="t", status="running",
                version=0, engine_state="{}", started_by="u", started_at=SHANGHAI_AT, updated_at=extra.pop("updated_at", AT),
                history_seq=0, history_head="0" * 64, **extra)


def test_insert_returning_and_select_match_sqlalchemy(db):
    prepared_insert = Prepared(insert(cases).returning(cases.c.id))
    prepared_select = Prepared(select(cases.c.id, cases.c.started_at, cases.c.updated_at, cases.c.ended_at,
                                      cases.c.title).where(cases.c.id == bindparam("cid")))
    with db.writer.begin() as conn:
        case_id = prepared_insert.first(conn, _case_values(conn))[0]
        mine = prepared_select.first(conn, {"cid": case_id})
        theirs = conn.execute(prepared_select.statement, {"cid": case_id}).one()
        assert prepared_select.first(conn, {"cid": case_id + 1000}) is None
    assert tuple(mine) == tuple(theirs)
    assert mine.started_at == AT and mine.started_at.tzinfo is not None
    assert mine.ended_at is None and mine.title == "t"


def test_execute_many_and_rowcount(db):
    with db.writer.begin() as conn:
        case_id = conn.execute(insert(cases).returning(cases.c.id), _case_values(conn)).scalar_one()
        rows = [{"case_id": case_id, "seq": i, "type": "t", "actor": "a", "at": AT + timedelta(seconds=i), "work_item_id": None,
                     "task_spec": None, "data": "{}", "prev_hash": "", "hash": f"{i:064x}"} for i in (1, 2, 3)]
        Prepared(insert(events)).execute_many(conn, rows)
        bump = Prepared(update(cases).where(cases.c.id == bindparam("cid"), cases.c.version == bindparam("v"))
                        .values(version=bindparam("nv")))
        assert bump.execute(conn, {"cid": case_id, "v": 0, "nv": 1}) == 1
        assert bump.execute(conn, {"cid": case_id, "v": 0, "nv": 2}) == 0  # the optimistic check
    with db.reader.connect() as conn:
        stored = conn.execute(select(events.c.seq, events.c.at, events.c.hash)
                              .where(events.c.case_id == case_id).order_by(events.c.seq)).all()
        version = conn.execute(select(cases.c.version).where(cases.c.id == case_id)).scalar_one()
    assert [(s, at, h) for s, at, h in stored] == [(i, AT + timedelta(seconds=i), f"{i:064x}") for i in (1, 2, 3)]
    assert version == 1


def test_naive_datetimes_are_refused_as_before(db):
    with db.writer.begin() as conn, pytest.raises(ValueError):
        Prepared(insert(cases)).execute(conn, _case_values(conn, updated_at=AT.replace(tzinfo=None)))


def test_plain_execution_reads_and_writes_the_same(db, plain_db):
    """The switch: a plain database runs these statements through Connection.execute, with the same
    rows, row counts and stored values as the prepared path."""
    insert_case = Prepared(insert(cases).returning(cases.c.id))
    select_case = Prepared(select(cases.c.id, cases.c.started_at, cases.c.ended_at, cases.c.title, cases.c.version)
                           .where(cases.c.id == bindparam("cid")))
    bump = Prepared(update(cases).where(cases.c.id == bindparam("cid"), cases.c.version == bindparam("v"))
                    .values(version=bindparam("nv")))
    add_events = Prepared(insert(events))
    seen = {}
    for name, database in (("prepared", db), ("plain", plain_db)):
        assert database.prepared is (name == "prepared")
        with database.writer.begin() as conn:
            case_id = insert_case.first(conn, _case_values(conn))[0]
            add_events.execute_many(conn, [{"case_id": case_id, "seq": i, "type": "t", "actor": "a",
                                            "at": AT + timedelta(seconds=i), "work_item_id": None, "task_spec": None,
                                            "data": "{}", "prev_hash": "", "hash": f"{len(name)}{i}".rjust(64, "0")} for i in (1, 2)])
            counts = (bump.execute(conn, {"cid": case_id, "v": 0, "nv": 1}),
                      bump.execute(conn, {"cid": case_id, "v": 0, "nv": 2}))
            row = select_case.first(conn, {"cid": case_id})
            rows = select_case.all(conn, {"cid": case_id})
            missing = select_case.first(conn, {"cid": case_id + 1000})
        with database.reader.connect() as conn:
            stored = conn.execute(select(events.c.seq, events.c.at).where(events.c.case_id == case_id)
                                  .order_by(events.c.seq)).all()
        seen[name] = (counts, tuple(row)[1:], [tuple(r)[1:] for r in rows], missing, [tuple(r) for r in stored])
    assert seen["plain"] == seen["prepared"]
    counts, row, rows, missing, stored = seen["plain"]
    assert counts == (1, 0) and row == (AT, None, "t", 1) and rows == [row] and missing is None
    assert stored == [(1, AT + timedelta(seconds=1)), (2, AT + timedelta(seconds=2))]


def test_a_statement_compiled_for_one_dialect_is_never_used_for_another(tmp_path):
    """Forms are kept per kind of dialect: a new dialect object (whose id may be a freed one's) of
    another database never gets the first one's SQL."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.dialects import postgresql

    from yijianshi.storage.prepared import Prepared
    from yijianshi.storage.tables import Case

    stmt = Prepared(select(Case.__table__.c.id).where(Case.__table__.c.id == 1))

    class FakeConn:
        def __init__(self, dialect):
            self.dialect = dialect

    sqlite = create_engine(f"sqlite:///{tmp_path}/x.sqlite3").dialect
    pg = postgresql.psycopg.dialect()
    assert "?" in stmt._form(FakeConn(sqlite)).sql or ":" in stmt._form(FakeConn(sqlite)).sql
    assert "%(" in stmt._form(FakeConn(pg)).sql or "%s" in stmt._form(FakeConn(pg)).sql
    assert stmt._form(FakeConn(sqlite)) is not stmt._form(FakeConn(pg))
    assert stmt._form(FakeConn(sqlite)) is stmt._form(FakeConn(create_engine("sqlite://").dialect))


@pytest.mark.unit
def test_utc_timestamps_are_stored_on_sqlite_as_integer_microseconds():
    """UTCDateTime's SQLite processors (as prepared.py and SQLAlchemy take them) store an instant as
    its microseconds since 1970-01-01 UTC (0026) and read it back exactly: whole seconds, other
    zones, a repeated wall-clock hour and early years included; the integers sort as the instants
    do; text stored before 0026 is still read."""
    from zoneinfo import ZoneInfo

    from sqlalchemy.dialects import sqlite

    from yijianshi.storage.tables.base import UTCDateTime

    dialect = sqlite.dialect()
    impl = UTCDateTime().dialect_impl(dialect)
    store, load = impl.bind_processor(dialect), impl.result_processor(dialect, None)
    values = [AT, AT.replace(microsecond=0), SHANGHAI_AT, SHANGHAI_AT.replace(microsecond=0),
              datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=UTC),
              datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Berlin")),
              datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),  # an hour later
              AT, SHANGHAI_AT, AT,  # the same instant again (the last value is reused)
              datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))]
    for value in values:
        stored = store(value)
        assert isinstance(stored, int)
        assert stored == round((value - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 10**6) \
            or value.year < 1000  # float rounding aside, the same count (year 5 is checked by the round trip)
        back = load(stored)
        # (against the value in UTC: Python never calls an instant in a repeated hour equal across zones)
        assert back == value.astimezone(UTC) and back.tzinfo is UTC, value
    ordered = sorted(values)
    assert [store(v) for v in ordered] == sorted(store(v) for v in values)
    assert load("2026-01-02 03:04:05.000006") == datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)  # before 0026
    assert store(None) is None and load(None) is None
    with pytest.raises(ValueError):
        store(AT.replace(tzinfo=None))


def test_a_command_writes_on_the_connection_it_read_on(db):
    """Database.command_transaction(reading): the write transaction runs on the command's read
    connection; a read transaction still open on it ends first (SQLite refuses BEGIN IMMEDIATE
    inside one), the write sees rows committed meanwhile and is committed for everyone."""
    with db.writer.begin() as conn:
        values = _case_values(conn)
    with db.reader.connect() as reading:
        reading.execute(select(cases.c.id)).all()  # SQLAlchemy begins a read transaction for this
        with db.writer.begin() as other:  # committed by someone else after that read
            first = Prepared(insert(cases).returning(cases.c.id)).first(other, values)[0]
        with db.command_transaction(reading) as writing:
            assert writing is reading
            assert writing.execute(select(cases.c.id).where(cases.c.id == first)).first() is not None
            second = Prepared(insert(cases).returning(cases.c.id)).first(writing, values)[0]
    with db.reader.connect() as conn:
        assert conn.execute(select(cases.c.id).where(cases.c.id.in_([first, second]))).scalars().all() \
            == sorted([first, second])


def test_many_rows_go_in_few_statements_on_postgresql_and_are_all_written(db):
    """On PostgreSQL rows of one INSERT go several a statement (as many as keep it within 50
    parameters: psycopg caches the parsing of such statements); what is stored is the same on both
    databases, inside a command's write batch and outside, an ON CONFLICT DO NOTHING insert
    leaving out a row whose key repeats one of the same statement."""
    from sqlalchemy.dialects import postgresql, sqlite

    from yijianshi.storage.tables import CaseSearchTerm
    from yijianshi.storage.write_batch import WriteBatch

    terms = CaseSearchTerm.__table__
    sent: list[tuple[str, bool]] = []
    real_add = WriteBatch.add

    def add(self, sql, parameters, *, many=False, expect=None):
        sent.append((sql, many))
        real_add(self, sql, parameters, many=many, expect=expect)

    def event_rows(case_id: int, seqs) -> list[dict]:
        return [{"case_id": case_id, "seq": i, "type": "t", "actor": "a", "at": AT + timedelta(seconds=i),
                 "work_item_id": None, "task_spec": None, "data": "{}", "prev_hash": "", "hash": f"{i:064x}"}
                for i in seqs]

    dialect = {"sqlite": sqlite, "postgresql": postgresql}[db.engine.dialect.name]
    add_terms = Prepared(dialect.insert(terms).on_conflict_do_nothing())
    with db.writer.begin() as conn:
        case_id = conn.execute(insert(cases).returning(cases.c.id), _case_values(conn)).scalar_one()
        Prepared(insert(events)).execute_many(conn, event_rows(case_id, range(1, 13)))  # outside a batch
    with pytest.MonkeyPatch.context() as patch, db.command_transaction() as conn:
        patch.setattr(WriteBatch, "add", add)
        Prepared(insert(events)).execute_many(conn, event_rows(case_id, range(13, 25)))
        add_terms.execute_many(conn, [{"case_id": case_id, "kind": "name", "term": f"t{i % 7}"} for i in range(20)])
    with db.reader.connect() as conn:
        stored = conn.execute(select(events.c.seq, events.c.at, events.c.hash)
                              .where(events.c.case_id == case_id).order_by(events.c.seq)).all()
        kept = conn.execute(select(terms.c.term).where(terms.c.case_id == case_id).order_by(terms.c.term)).scalars().all()
    assert [tuple(r) for r in stored] == [(i, AT + timedelta(seconds=i), f"{i:064x}") for i in range(1, 25)]
    assert kept == [f"t{i}" for i in range(7)]
    if db.engine.dialect.name == "postgresql":
        # 12 events of 10 columns: 5 + 5 + 2 rows; 20 terms of 3 columns: 16 + 4 rows.
        assert [sql.count("), (") + 1 for sql, many in sent if not many] == [5, 5, 2, 16, 4], sent
        assert not any(many for _, many in sent)
