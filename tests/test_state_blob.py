"""The engine state of a case is stored compressed with a preset dictionary (since 0025), a sixth
smaller than without; a blob written before without one reads the same."""
from __future__ import annotations

import zlib

from sqlalchemy import text

from yijianshi.storage import case_store, state_blob
from tests.checkpoint_support import finished_case


def test_a_finished_case_state_uses_the_dictionary_and_old_blobs_still_read(engine):
    case_id = finished_case(engine)
    with engine.db.engine.connect() as conn:
        blob = bytes(conn.execute(text("SELECT base FROM case_states WHERE case_id = :c"), {"c": case_id}).scalar_one())
    assert blob[1] & 0x20 and int.from_bytes(blob[2:6], "big") == zlib.adler32(state_blob.STATE_DICT)
    state = case_store.stored_state("", blob)
    before = zlib.compress(state.encode("utf-8"), 9)  # as written from 0019 to 0024
    assert len(blob) < 0.9 * len(before)
    assert case_store.stored_state("", before) == state
    assert engine.reexecute(case_id).ok
