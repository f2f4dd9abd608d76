"""Migration 0025's downgrade gives the code before it what it reads: every event's link stored,
state blobs without the preset dictionary, and the texts of outbox rows queued without them."""
from __future__ import annotations

import zlib

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from yijianshi.engine.cases import history as h
from yijianshi.storage import case_store
from tests.checkpoint_support import finished_case
from tests.conftest import make_engine


def test_downgrade_puts_back_the_stored_forms(db_url):
    engine = make_engine(db_url)
    try:
        case_id = finished_case(engine)
        linked = engine.history(case_id)
        with engine.db.engine.connect() as conn:
            blob = conn.execute(text("SELECT base FROM case_states WHERE case_id = :c"), {"c": case_id}).scalar_one()
            state = case_store.stored_state("", bytes(blob))
            lean = conn.execute(text("SELECT count(*) FROM outbox WHERE subject = ''")).scalar_one()
        assert lean > 0
        command.downgrade(engine.db.alembic_config(), "0024_case_outcomes")
        with engine.db.engine.connect() as conn:
            stored = conn.execute(text("SELECT seq, prev_hash, hash FROM events WHERE case_id = :c ORDER BY seq"),
                                  {"c": case_id}).all()
            blob = conn.execute(text("SELECT state_blob FROM cases WHERE id = :c"), {"c": case_id}).scalar_one()
            texts = conn.execute(text("SELECT kind, subject, body, payload_json FROM outbox ORDER BY id")).all()
        assert [(r.seq, r.prev_hash, r.hash) for r in stored] == [(e.seq, e.prev_hash, e.hash) for e in linked]
        assert stored[0].prev_hash == h.GENESIS
        assert zlib.decompress(bytes(blob)).decode("utf-8") == state  # as 0019..0024 read it
        assert texts and all(t.subject and t.body and t.payload_json is None for t in texts)
        assert any(t.subject == "【新待办】统一出件" for t in texts)
        with pytest.raises(DBAPIError, match="append-only"):  # the guard is back
            with engine.db.engine.begin() as conn:
                conn.execute(text("UPDATE events SET actor = 'mallory' WHERE case_id = :c"), {"c": case_id})
        engine.db.upgrade()
        assert engine.verify(case_id)[0].ok
    finally:
        engine.db.dispose()


def test_search_terms_are_kept_once_beside_their_index_on_sqlite(sqlite_engine):
    from yijianshi.engine.access.actors import Actor
    from tests.conftest import deploy_fixtures

    with sqlite_engine.db.engine.connect() as conn:
        ddl = conn.execute(text("SELECT sql FROM sqlite_schema WHERE name = 'case_search_terms'")).scalar_one()
    assert "WITHOUT ROWID" in ddl
    deploy_fixtures(sqlite_engine, "parallel_review.bpmn")
    desk = Actor("desk", frozenset({"front_desk"}))
    case = sqlite_engine.cases.start_case("parallel_review", {"applicant_name": "钱六"}, desk)
    with sqlite_engine.db.engine.connect() as conn:
        found = conn.execute(text("SELECT case_id FROM case_search_terms WHERE kind = 'name' AND term = '钱六'")).all()
    assert [r.case_id for r in found] == [case.id]
