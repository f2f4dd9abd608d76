"""Hot-path statements run on the driver's cursor must read and write exactly what SQLAlchemy's own
execution would: the same stored values, the same converted results, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import bindparam, insert, select, update

from yijianshi.storage.tables import Case, Definition, Event
from yijianshi.storage.prepared import Prepared
from tests.conftest import make_engine

cases = Case.__table__
events = Event.__table__
AT = datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=UTC)
SHANGHAI_AT = AT.astimezone(timezone(timedelta(hours=8)))


FIXTURE = Path(__file__).parent / "fixtures" / "parallel_review.bpmn"


@pytest.fixture
def db(db_url):
    engine = make_engine(db_url)
    engine.deploy([FIXTURE])  # a case row needs a definition to point at
    yield engine.db
    engine.db.dispose()


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
                     "task_spec": None, "data": "{}", "prev_hash": "p", "hash": f"h{i}"} for i in (1, 2, 3)]
        Prepared(insert(events)).execute_many(conn, rows)
        bump = Prepared(update(cases).where(cases.c.id == bindparam("cid"), cases.c.version == bindparam("v"))
                        .values(version=bindparam("nv")))
        assert bump.execute(conn, {"cid": case_id, "v": 0, "nv": 1}) == 1
        assert bump.execute(conn, {"cid": case_id, "v": 0, "nv": 2}) == 0  # the optimistic check
    with db.reader.connect() as conn:
        stored = conn.execute(select(events.c.seq, events.c.at, events.c.hash)
                              .where(events.c.case_id == case_id).order_by(events.c.seq)).all()
        version = conn.execute(select(cases.c.version).where(cases.c.id == case_id)).scalar_one()
    assert [(s, at, h) for s, at, h in stored] == [(i, AT + timedelta(seconds=i), f"h{i}") for i in (1, 2, 3)]
    assert version == 1


def test_naive_datetimes_are_refused_as_before(db):
    with db.writer.begin() as conn, pytest.raises(ValueError):
        Prepared(insert(cases)).execute(conn, _case_values(conn, updated_at=AT.replace(tzinfo=None)))
