"""Signed history checkpoints: a database administrator who rewrites history and re-hashes the case's
chain passes the per-case check, but not the checkpoints kept outside the database, and verification
names the case and the event. Also the RFC 6962 tree itself and PostgreSQL's commit order; the
checkpoint files, keys, the scheduler's job and the command line are in test_checkpoint_files.py."""
from __future__ import annotations

import hashlib
import os
import random
import threading
import time

import pytest
from sqlalchemy import insert, select

from yijianshi.engine.audit import anchoring, merkle
from yijianshi.engine.cases import history as h
from tests.conftest import make_engine
from tests.checkpoint_support import chain_ok, checkpoints_at, events_t, finished_case, rewrite, running_case, seq_of


# -- the tree ------------------------------------------------------------------------------------------

# RFC 6962's reference inputs and the tree heads of their first n leaves (as used by Certificate
# Transparency's test suites).
RFC_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
RFC_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_the_tree_hash_is_rfc_6962s():
    leaves = [merkle.leaf_hash(bytes.fromhex(x)) for x in RFC_LEAVES]
    tree = merkle.Frontier()
    assert tree.root().hex() == RFC_ROOTS[0]
    for n, leaf in enumerate(leaves, 1):
        tree.append(leaf)
        assert tree.root().hex() == RFC_ROOTS[n] == merkle.root_of(leaves[:n]).hex()


def test_the_streamed_tree_equals_the_recursive_definition_at_every_size():
    rng = random.Random(7)
    leaves = [merkle.leaf_hash(rng.randbytes(rng.randrange(40))) for _ in range(130)]
    tree = merkle.Frontier()
    for n, leaf in enumerate(leaves, 1):
        tree.append(leaf)
        assert tree.root() == merkle.root_of(leaves[:n])
        assert len(tree.subtrees) == bin(n).count("1")  # memory: one hash per bit of the size
        resumed = merkle.Frontier(tree.size, tree.subtrees)  # a checkpoint's frontier carries on
        assert resumed.root() == tree.root()
    with pytest.raises(ValueError):
        merkle.Frontier(3, [leaves[0]])


# -- what the checkpoints catch ------------------------------------------------------------------------

def test_an_untouched_history_verifies_and_later_events_are_only_not_yet_covered(sqlite_engine, tmp_path):
    engine = sqlite_engine
    done = finished_case(engine)
    checkpoints = checkpoints_at(engine, tmp_path)
    cp = checkpoints.create()
    total = len(engine.history(done))
    assert cp.number == 1 and cp.tree_size == total and cp.previous is None
    assert oct(os.stat(tmp_path / "keys" / "signing.pem").st_mode & 0o777) == "0o600"
    report = anchoring.verify(checkpoints)
    assert report.ok and report.root_matches and report.compared == total and report.uncovered == 0
    assert any("均未被改动" in line for line in report.lines())

    running = running_case(engine)  # after the checkpoint: not covered, not an error
    report = anchoring.verify(checkpoints)
    assert report.ok and report.uncovered == len(engine.history(running))
    assert any(f"新增 {report.uncovered} 条记录，尚未被检查点覆盖" in line for line in report.lines())

    second = checkpoints.create()  # reads only what was added, chained to the first
    assert second.number == 2 and second.previous == cp.digest()
    assert second.tree_size == total + report.uncovered
    assert checkpoints.create(only_if_grown=True) is None  # nothing new: the scheduler writes nothing
    report = anchoring.verify(checkpoints)
    assert report.ok and report.uncovered == 0 and report.latest.number == 2


@pytest.mark.tampers_history
def test_a_changed_approver_is_named_even_with_the_chain_re_hashed(sqlite_engine, tmp_path):
    engine = sqlite_engine
    case_id = finished_case(engine)
    checkpoints = checkpoints_at(engine, tmp_path)
    checkpoints.create()
    seq = seq_of(engine, case_id, h.WORK_ITEM_COMPLETED, "apply")

    def approver(rows):
        rows[seq - 1]["actor"] = "mallory"
        return rows
    rewrite(engine, case_id, approver)
    assert chain_ok(engine, case_id)  # the per-case chain alone is fooled
    report = anchoring.verify(checkpoints)
    assert not report.ok and report.root_matches is False
    assert (report.first.case_id, report.first.seq, report.first.kind) == (case_id, seq, anchoring.CHANGED)
    assert report.first.edited and "内容被改动" in str(report.first)
    after = report.divergences[1:]  # only re-hashed: the edit was before them
    assert after and all(d.seq > seq and not d.edited and "链哈希被重算" in str(d) for d in after)
    assert report.cases == {case_id}
    assert f"首个不一致为案件 {case_id} 第 {seq} 条记录" in "\n".join(report.lines())


@pytest.mark.tampers_history
def test_a_deleted_claim_is_named_with_the_events_it_shifted(sqlite_engine, tmp_path):
    engine = sqlite_engine
    case_id = finished_case(engine)
    checkpoints = checkpoints_at(engine, tmp_path)
    checkpoints.create()
    seq = seq_of(engine, case_id, h.WORK_ITEM_CLAIMED)
    n = len(engine.history(case_id))
    rewrite(engine, case_id, lambda rows: rows[:seq - 1] + rows[seq:])
    assert chain_ok(engine, case_id)
    report = anchoring.verify(checkpoints)
    assert not report.ok
    first = report.first
    assert (first.kind, first.case_id, first.seq) == (anchoring.DELETED, case_id, seq)
    assert str(first) == f"案件 {case_id} 第 {seq} 条记录（记录编号 {first.event_id}）已被删除"
    shifted = report.divergences[1]
    assert (shifted.kind, shifted.seq, shifted.now_seq) == (anchoring.CHANGED, seq + 1, seq)
    assert not shifted.edited and "现为第" in str(shifted) and "重新编号" in str(shifted)
    assert report.divergent == 1 + (n - seq)  # the claim and every later event of the case


@pytest.mark.tampers_history
def test_a_forged_event_inserted_into_a_covered_case_is_named(sqlite_engine, tmp_path):
    engine = sqlite_engine
    case_id = finished_case(engine)
    other = running_case(engine)
    engine.clock.advance(hours=1)
    checkpoints = checkpoints_at(engine, tmp_path)
    checkpoints.create()
    seq = seq_of(engine, case_id, h.WORK_ITEM_COMPLETED, "apply")

    def forge(rows):
        fake = {k: v for k, v in rows[seq - 1].items() if k != "id"}
        fake.update(actor="mallory", data=h.canonical_json({"note": "补签"}))
        return rows[:seq] + [fake] + rows[seq:]
    rewrite(engine, case_id, forge)
    assert chain_ok(engine, case_id) and chain_ok(engine, other)
    report = anchoring.verify(checkpoints)
    assert not report.ok
    assert (report.first.case_id, report.first.seq, report.first.kind) == (case_id, seq + 1, anchoring.CHANGED)
    assert report.first.now_seq == seq + 2 and not report.first.edited
    assert report.cases == {case_id}  # the other case is untouched
    late = report.late  # the forged row itself: recorded an hour before the checkpoint, added after it
    assert [(d.case_id, d.seq) for d in late] == [(case_id, seq + 1)]


@pytest.mark.tampers_history
def test_a_forged_event_appended_to_a_covered_case_is_named(sqlite_engine, tmp_path):
    engine = sqlite_engine
    case_id = finished_case(engine)
    engine.clock.advance(hours=1)
    checkpoints = checkpoints_at(engine, tmp_path)
    checkpoints.create()
    n = len(engine.history(case_id))

    def append(rows):
        last = rows[-1]
        return rows + [{**{k: v for k, v in last.items() if k != "id"}, "type": h.WORK_ITEM_COMPLETED,
                        "actor": "mallory", "data": h.canonical_json({"approved": True})}]
    rewrite(engine, case_id, append)
    assert chain_ok(engine, case_id)
    report = anchoring.verify(checkpoints)
    assert not report.ok and report.divergent == 0 and report.root_matches  # the covered part is intact …
    assert [(d.kind, d.case_id, d.seq) for d in report.late] == [(anchoring.LATE, case_id, n + 1)]  # … the forgery is named
    assert "是事后补入的" in "\n".join(report.lines())


@pytest.mark.tampers_history
def test_a_forged_event_under_another_events_id_names_both_cases(sqlite_engine, tmp_path):
    engine = sqlite_engine
    case_id = finished_case(engine)
    other = running_case(engine)
    checkpoints = checkpoints_at(engine, tmp_path)
    checkpoints.create()
    seq = seq_of(engine, case_id, h.WORK_ITEM_CLAIMED)
    taken = engine.history(other)[-1]  # its id, freed by deleting it, carries the forgery
    rewrite(engine, other, lambda rows: rows[:-1])

    def forge(rows):
        return rows[:seq] + [{**rows[seq - 1], "id": taken.id, "actor": "mallory"}] + rows[seq:]
    rewrite(engine, case_id, forge)
    assert chain_ok(engine, case_id) and chain_ok(engine, other)
    report = anchoring.verify(checkpoints)
    assert not report.ok and report.cases == {case_id, other}
    moved = next(d for d in report.divergences if d.event_id == taken.id)
    assert (moved.case_id, moved.seq, moved.now_case_id, moved.now_seq) == (other, taken.seq, case_id, seq + 1)
    assert f"现属案件 {case_id}" in str(moved)


@pytest.mark.tampers_history
def test_one_case_can_be_verified_alone(sqlite_engine, tmp_path):
    engine = sqlite_engine
    case_id = finished_case(engine)
    other = running_case(engine)
    checkpoints = checkpoints_at(engine, tmp_path)
    checkpoints.create()
    rewrite(engine, case_id, lambda rows: rows[:-1])  # the last event of the case, gone
    assert anchoring.verify(checkpoints, other).ok
    report = anchoring.verify(checkpoints, case_id)
    assert not report.ok and report.root_matches is None
    assert (report.first.kind, report.first.seq) == (anchoring.DELETED, len(engine.history(case_id)) + 1)


# -- PostgreSQL: commit order ---------------------------------------------------------------------------

@pytest.mark.tampers_history
def test_postgres_checkpoint_waits_for_open_writers_and_catches_arewrite(migrated_pg_url, tmp_path):
    engine = make_engine(migrated_pg_url)
    try:
        case_id = finished_case(engine)
        checkpoints = checkpoints_at(engine, tmp_path)
        # A transaction that drew an event id and has not committed yet: a checkpoint taken now must
        # neither skip it (its id is smaller than any drawn later) nor cover ids past it without it.
        conn = engine.db.engine.connect()
        tx = conn.begin()
        last = engine.history(case_id)[-1]
        conn.execute(insert(events_t).values(case_id=case_id, seq=last.seq + 1, type="note", actor="late",
                                             at=last.at, data="{}", prev_hash=last.hash, hash="0" * 64))
        made = []
        worker = threading.Thread(target=lambda: made.append(checkpoints.create()))
        worker.start()
        time.sleep(0.7)
        assert worker.is_alive() and not made  # waiting for the open writer
        gap = conn.execute(select(events_t.c.id).where(events_t.c.type == "note")).scalar_one()
        tx.rollback()  # leaves a gap in the ids
        conn.close()
        worker.join(timeout=20)
        cp = made[0]
        assert cp.tree_size == len(engine.history(case_id)) and cp.last_event_id < gap
        running_case(engine)  # later ids, past the gap
        cp = checkpoints.create()
        assert cp.last_event_id > gap and anchoring.verify(checkpoints).ok

        # A forged event put into the gap, inside the covered id range.
        def into_the_gap(rows):
            return rows[:3] + [{**rows[2], "id": gap, "actor": "mallory"}] + rows[3:]
        rewrite(engine, case_id, into_the_gap)
        report = anchoring.verify(checkpoints)
        inserted = next(d for d in report.divergences if d.kind == anchoring.INSERTED)
        assert (inserted.event_id, inserted.case_id, inserted.seq) == (gap, case_id, 4)
        assert "不在检查点中" in str(inserted)
        assert (report.first.case_id, report.first.seq) == (case_id, 4)
        with engine.db.engine.begin() as conn:  # a new log in a new folder: the old log's marks go
            conn.exec_driver_sql("DELETE FROM checkpoint_marks")
        checkpoints = checkpoints_at(engine, tmp_path / "after")
        checkpoints.create()

        def approver(rows):
            rows[1]["actor"] = "mallory"
            return rows
        rewrite(engine, case_id, approver)
        assert chain_ok(engine, case_id)
        report = anchoring.verify(checkpoints)
        assert not report.ok and (report.first.case_id, report.first.seq) == (case_id, 2)
    finally:
        engine.db.dispose()


def test_leaves_commit_to_every_column():
    from datetime import datetime, timezone
    from types import SimpleNamespace
    from yijianshi.engine.audit.checkpoints import leaf_of
    base = dict(id=1, case_id=2, seq=3, type="t", actor="a", at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                work_item_id=None, task_spec=None, data="{}", prev_hash="p", hash="h")
    leaf = leaf_of(SimpleNamespace(**base))
    for name, other in [("id", 9), ("case_id", 9), ("seq", 9), ("type", "x"), ("actor", "mallory"),
                        ("at", datetime(2026, 1, 2, tzinfo=timezone.utc)), ("work_item_id", "w"), ("task_spec", "s"),
                        ("data", '{"a":1}'), ("prev_hash", "q"), ("hash", "i")]:
        assert leaf_of(SimpleNamespace(**{**base, name: other})) != leaf, name
    assert hashlib.sha256(b"").hexdigest() == merkle.EMPTY_ROOT.hex()


def test_a_host_with_another_checkpoint_folder_does_not_fork_the_log(engine, tmp_path):
    """Several hosts run schedulers; the one that takes the lease over must continue the log the
    others signed. One whose checkpoint folder is not the shared one (empty, or behind) refuses, and
    creates no signing key there, instead of starting a second log from #1."""
    import shutil

    from yijianshi.engine.errors import EngineError

    finished_case(engine)
    host_a = checkpoints_at(engine, tmp_path / "a")
    assert host_a.create().number == 1
    host_b = checkpoints_at(engine, tmp_path / "b")
    with pytest.raises(EngineError, match="中没有检查点，与数据库记录的已签署检查点 #1"):
        host_b.create()
    assert not host_b.keys.key_file.exists() and not list(host_b.folder.iterdir())
    shutil.copytree(tmp_path / "a", tmp_path / "c")  # a copy of the folder, which then falls behind
    host_c = checkpoints_at(engine, tmp_path / "c")
    running_case(engine)
    assert host_a.create().number == 2
    with pytest.raises(EngineError, match="最新为 #1，与数据库记录的已签署检查点 #2"):
        host_c.create()
    running_case(engine)
    assert host_a.create().number == 3 and anchoring.verify(host_a).ok  # the shared folder goes on
