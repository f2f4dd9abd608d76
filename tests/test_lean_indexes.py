"""Migration 0029 (#17, bytes per finished case): SHA-256 digests as their 32 bytes on SQLite
(storage/tables/base.DigestText: cases.history_head, case_search_terms.term), and indexes without
the entries no query reads (no index of cases.definition_key alone; business key, claimer and the
outbox's dedupe key indexed only where there is a value)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest
from alembic import command
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text
from sqlalchemy.dialects import postgresql

from yijianshi.storage import case_search, outbox_store
from yijianshi.storage.tables.base import DigestText
from tests.checkpoint_support import ADMIN, DESK, finished_case
from tests.conftest import make_engine

DIGESTS = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(4)]
# Not 64 lower-case hex digits: kept as text.
OTHERS = ["张三", "", DIGESTS[0].upper(), DIGESTS[1][:63], DIGESTS[2] + "0", " " + DIGESTS[3][1:],
          "g" * 64, "0" * 62 + " 0"]
ID_NUMBER = "120101199001011239"


@pytest.fixture
def digests_table():
    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("n", Integer, primary_key=True), Column("v", DigestText(255)))
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"n": n, "v": v} for n, v in enumerate(DIGESTS + OTHERS + [None])])
    yield engine, table
    engine.dispose()


def test_digests_are_32_bytes_and_read_back_as_the_same_text(digests_table):
    engine, t = digests_table
    values = DIGESTS + OTHERS + [None]
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT n, v FROM t")).all())
        read = dict(conn.execute(select(t.c.n, t.c.v)).all())
        assert [read[n] for n in range(len(values))] == values
        assert [stored[n] for n in range(len(DIGESTS))] == [bytes.fromhex(d) for d in DIGESTS]
        assert [stored[len(DIGESTS) + n] for n in range(len(OTHERS))] == OTHERS
        for value in DIGESTS + OTHERS:
            assert conn.execute(select(t.c.v).where(t.c.v == value)).scalars().all() == [value]
        assert conn.execute(select(t.c.v).where(t.c.v == DIGESTS[0].upper() + "x")).first() is None
        for value in (DIGESTS[1], OTHERS[0]):  # SQL with the value written in (literal_binds) finds it too
            sql = str(select(t.c.v).where(t.c.v == value).compile(engine, compile_kwargs={"literal_binds": True}))
            assert conn.execute(text(sql)).scalars().all() == [bytes.fromhex(value) if value in DIGESTS else value]
        # a range of text (the name prefix search) never takes in a digest
        assert conn.execute(select(t.c.v).where(t.c.v >= "0", t.c.v < "0\U0010ffff")).scalars().all() == ["0" * 62 + " 0"]


def test_postgresql_keeps_the_text():
    dialect = postgresql.dialect()
    assert DigestText(64).bind_processor(dialect) is None and DigestText(64).result_processor(dialect, None) is None
    assert DigestText(64).process_bind_param(DIGESTS[0], dialect) == DIGESTS[0]


def test_a_case_stores_its_digests_as_bytes_and_is_found_by_them(sqlite_engine):
    case_id = finished_case(sqlite_engine)
    started = sqlite_engine.cases.start_case("parallel_review", {"id_number": ID_NUMBER, "applicant_name": "张三"}, DESK)
    with sqlite_engine.db.engine.connect() as conn:
        heads = conn.execute(text("SELECT DISTINCT typeof(history_head), length(history_head) FROM cases")).all()
        terms = dict(conn.execute(text("SELECT kind, typeof(term) FROM case_search_terms WHERE case_id = :c"),
                                  {"c": started.id}).all())
        by_number = conn.execute(case_search.cases_with_identifier(ID_NUMBER)).scalars().all()
        by_name = conn.execute(case_search.cases_with_name("张")).scalars().all()
    assert heads == [("blob", 32)]
    assert terms == {"id": "blob", "name": "text"}
    assert by_number == [started.id] and by_name == [started.id]
    assert sqlite_engine.verify(case_id)[0].ok  # the chain's head is read back as its hex text
    sqlite_engine.cases.claim(started.ready[0].id, ADMIN)  # a command checks and moves the head on
    assert sqlite_engine.verify(started.id)[0].ok


def _plan(conn, sql: str, **params) -> str:
    return " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(params.values())))


def test_sqlite_uses_the_partial_indexes_for_lookups_by_value(sqlite_engine):
    finished_case(sqlite_engine)
    with sqlite_engine.db.engine.connect() as conn:
        names = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars())
        assert "ix_cases_definition_key" not in names
        assert "ix_cases_business_key" in _plan(conn, "SELECT id FROM cases WHERE business_key = ?", k="B-9")
        assert "ix_work_items_claimed" in _plan(conn, "SELECT id FROM work_items WHERE claimed_by = ?", c="admin")
        assert "uq_outbox_dedupe_key" in _plan(conn, "SELECT id FROM outbox WHERE dedupe_key = ?", k="result:1")
        assert "ix_cases_scenario_ended" in _plan(conn, "SELECT id FROM cases WHERE definition_key = ?", k="x")
        sql = {r[0]: r[1] for r in conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                                                     "name IN ('ix_cases_business_key', 'ix_work_items_claimed', "
                                                     "'uq_outbox_dedupe_key')"))}
    assert all("IS NOT NULL" in s for s in sql.values()) and len(sql) == 3


def _outbox_row(key: str | None, n: int) -> dict:
    at = datetime(2026, 12, 3, tzinfo=timezone.utc)
    return dict(channel="inapp", kind="result", case_id=None, recipient="user:x", subject=f"s{n}", body="", payload_json=None,
                dedupe_key=key, state="pending", attempts=0, next_attempt_at=at, claimed_by=None, claimed_until=None,
                last_error=None, created_at=at, sent_at=None)


def _digest_values(engine, raw: bool) -> list:
    with engine.db.engine.connect() as conn:
        if raw:
            return sorted(map(repr, conn.execute(text("SELECT history_head FROM cases UNION ALL "
                                                      "SELECT term FROM case_search_terms")).scalars()))
        heads = Table("cases", MetaData(), Column("history_head", DigestText(64)))
        terms = Table("case_search_terms", MetaData(), Column("term", DigestText(255)))
        return sorted([*conn.execute(select(heads.c.history_head)).scalars(), *conn.execute(select(terms.c.term)).scalars()])


def test_the_migration_converts_and_back_and_dedupe_keys_stay_unique(db_url):
    engine = make_engine(db_url)
    try:
        case_id = finished_case(engine)
        engine.cases.start_case("parallel_review", {"id_number": ID_NUMBER}, DESK)
        before, history = _digest_values(engine, raw=False), engine.history(case_id)
        command.downgrade(engine.db.alembic_config(), "0028_event_type_codes")
        assert _digest_values(engine, raw=True) == sorted(map(repr, before))  # text again, as before 0029
        with engine.db.engine.begin() as conn:  # the old unique constraint is back
            outbox_store.insert_rows(conn, [_outbox_row("k:1", 1)])
        with pytest.raises(Exception), engine.db.engine.begin() as conn:
            outbox_store.insert_rows(conn, [_outbox_row("k:1", 2)])
        command.upgrade(engine.db.alembic_config(), "head")
        assert _digest_values(engine, raw=False) == before
        if engine.db.is_sqlite:
            with engine.db.engine.connect() as conn:
                kinds = conn.execute(text("SELECT DISTINCT typeof(history_head) FROM cases UNION "
                                          "SELECT DISTINCT typeof(term) FROM case_search_terms WHERE kind = 'id'")).scalars()
                assert set(kinds) == {"blob"}
        else:
            assert _digest_values(engine, raw=True) == sorted(map(repr, before))
        assert engine.history(case_id) == history and engine.verify(case_id)[0].ok
        with engine.db.engine.begin() as conn:
            outbox_store.add(conn, [_outbox_row("k:1", 3), _outbox_row(None, 4), _outbox_row(None, 5),
                                    _outbox_row("k:2", 6)])
            outbox_store.add(conn, [_outbox_row("k:2", 7)])
            subjects = conn.execute(text("SELECT subject FROM outbox WHERE subject LIKE 's%' ORDER BY id")).scalars().all()
        assert subjects == ["s1", "s4", "s5", "s6"]  # a queued key is left out; rows without a key never are
        with pytest.raises(Exception), engine.db.engine.begin() as conn:
            outbox_store.insert_rows(conn, [_outbox_row("k:2", 8)])
        with engine.db.engine.connect() as conn:
            assert conn.execute(case_search.cases_with_identifier(ID_NUMBER)).scalars().all() != []
    finally:
        engine.db.dispose()
