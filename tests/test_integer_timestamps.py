"""SQLite keeps timestamps as integers of microseconds since 1970-01-01 UTC (migration 0026,
storage/tables/base.UTCDateTime); its downgrade writes back the text the code before reads."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.checkpoint_support import finished_case

pytestmark = pytest.mark.integration

# A finished case writes each of these.
COLUMNS = [("events", "at"), ("work_items", "created_at"), ("work_items", "ended_at"), ("cases", "started_at"),
           ("cases", "ended_at"), ("outbox", "created_at"), ("outbox", "next_attempt_at")]


def _stored(engine, table: str, column: str) -> list[tuple[str, object]]:
    with engine.db.engine.connect() as conn:
        return conn.execute(text(f"SELECT typeof({column}), {column} FROM {table} "
                                 f"WHERE {column} IS NOT NULL ORDER BY rowid")).all()


def test_a_case_stores_integer_microseconds_and_reads_the_same_instants(sqlite_engine):
    case_id = finished_case(sqlite_engine)
    for table, column in COLUMNS:
        stored = _stored(sqlite_engine, table, column)
        assert stored and {kind for kind, _ in stored} == {"integer"}, (table, column)
    events = sqlite_engine.history(case_id)
    micros = [value for _, value in _stored(sqlite_engine, "events", "at")]
    assert [datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=m) for m in micros] == [e.at for e in events]
    assert all(e.at.tzinfo is UTC for e in events)
    assert sqlite_engine.verify(case_id)[0].ok  # the chain hashes the same instants


def test_downgrade_writes_the_text_back_and_upgrade_the_integers(sqlite_engine):
    case_id = finished_case(sqlite_engine)
    before = {(t, c): [v for _, v in _stored(sqlite_engine, t, c)] for t, c in COLUMNS}
    command.downgrade(sqlite_engine.db.alembic_config(), "0025_lean_history_and_outbox")
    for (table, column), micros in before.items():
        stored = _stored(sqlite_engine, table, column)
        assert {kind for kind, _ in stored} == {"text"}, (table, column)
        as_text = [(datetime(1970, 1, 1) + timedelta(microseconds=m)).strftime("%Y-%m-%d %H:%M:%S.%f") for m in micros]
        assert [v for _, v in stored] == as_text  # SQLAlchemy's SQLite DATETIME text, as 0025 reads it
    with pytest.raises(DBAPIError, match="append-only"):  # the guard is back after the conversion
        with sqlite_engine.db.engine.begin() as conn:
            conn.execute(text("UPDATE events SET actor = 'mallory' WHERE case_id = :c"), {"c": case_id})
    sqlite_engine.db.upgrade()
    after = {(t, c): [v for _, v in _stored(sqlite_engine, t, c)] for t, c in COLUMNS}
    assert after == before
    assert sqlite_engine.verify(case_id)[0].ok


def test_text_left_from_before_is_still_read(sqlite_engine):
    """A value written as text (by the code before 0026, in a row the upgrade did not see) reads as
    the same instant."""
    case_id = finished_case(sqlite_engine)
    with sqlite_engine.db.engine.begin() as conn:
        conn.execute(text("UPDATE cases SET ended_at = '2026-11-20 08:30:15.123456' WHERE id = :c"), {"c": case_id})
    from yijianshi.storage import case_store

    with sqlite_engine.db.reader.connect() as conn:
        row = case_store.case_row(conn, case_id)
    assert row.ended_at == datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=UTC)
