"""Signed history checkpoints: a database administrator who rewrites history and re-hashes the case's
chain passes the per-case check, but not the checkpoints kept outside the database, and verification
names the case and the event. Also the RFC 6962 tree itself, the checkpoint files and signatures,
key rotation, the scheduler's job, the command line, and PostgreSQL's commit order."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, update

from yijianshi.cli.main import main
from yijianshi.engine.access.actors import Actor
from yijianshi.engine.audit import anchoring, merkle
from yijianshi.engine.audit.checkpoints import Checkpoints
from yijianshi.engine.cases import history as h
from yijianshi.engine.deadlines.scheduler import CHECKPOINT_JOB, DeadlineScheduler
from yijianshi.engine.errors import EngineError
from yijianshi.engine.settings import Settings
from yijianshi.storage.tables import Case, Event
from tests.conftest import FIXTURES, deploy_fixtures, make_engine

ADMIN = Actor("admin", frozenset(), is_admin=True)
DESK = Actor("desk", frozenset({"front_desk"}))
events_t, cases_t = Event.__table__, Case.__table__


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


# -- a history to rewrite ------------------------------------------------------------------------------

def _finished_case(engine) -> int:
    deploy_fixtures(engine, "parallel_review.bpmn")
    case = engine.cases.start_case("parallel_review", {"channel": "窗口"}, DESK, business_key="B-9")
    queue = list(case.ready)
    forms = {"apply": {"applicant_name": "孙七", "amount": "12"}, "deliver": {"delivered": True}}
    while queue:
        item = queue.pop(0)
        engine.cases.claim(item.id, ADMIN)
        queue.extend(engine.cases.complete_work_item(item.id, forms.get(item.task_spec, {"approved": True}),
                                                     ADMIN).ready)
    return case.id


def _running_case(engine) -> int:
    return engine.cases.start_case("parallel_review", {"channel": "网上"}, DESK).id


def _checkpoints(engine, tmp_path: Path) -> Checkpoints:
    return Checkpoints(engine.db, engine.clock, tmp_path / "checkpoints", tmp_path / "keys" / "signing.pem")


def _rewrite(engine, case_id: int, edit) -> None:
    """What an administrator with write access can do: switch the append-only guard off, edit the
    case's rows, then renumber and re-hash the whole chain and the head kept on the case, so that the
    per-case check passes again. `edit` gets the rows (dicts, in seq order) and returns the new list;
    a row without an id is inserted as a new one."""
    with engine.db.engine.begin() as conn:
        if engine.db.is_sqlite:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER events_append_only")
        rows = [dict(r._mapping) for r in
                conn.execute(select(events_t).where(events_t.c.case_id == case_id).order_by(events_t.c.seq))]
        rows = edit(rows)
        conn.execute(delete(events_t).where(events_t.c.case_id == case_id))
        prev = h.GENESIS
        for seq, r in enumerate(rows, 1):
            r.update(seq=seq, prev_hash=prev)
            r["hash"] = prev = h.event_hash(case_id, seq, r["type"], r["actor"], r["at"], r["work_item_id"],
                                            r["task_spec"], r["data"], prev)
            conn.execute(insert(events_t).values(**r))
        conn.execute(update(cases_t).where(cases_t.c.id == case_id).values(history_seq=len(rows), history_head=prev))


def _seq_of(engine, case_id: int, type_: str, task_spec: str | None = None) -> int:
    return next(e.seq for e in engine.history(case_id) if e.type == type_ and (task_spec is None or e.task_spec == task_spec))


def _chain_ok(engine, case_id: int) -> bool:
    return engine.verify(case_id)[0].ok


# -- what the checkpoints catch ------------------------------------------------------------------------

def test_an_untouched_history_verifies_and_later_events_are_only_not_yet_covered(sqlite_engine, tmp_path):
    engine = sqlite_engine
    done = _finished_case(engine)
    checkpoints = _checkpoints(engine, tmp_path)
    cp = checkpoints.create()
    total = len(engine.history(done))
    assert cp.number == 1 and cp.tree_size == total and cp.previous is None
    assert oct(os.stat(tmp_path / "keys" / "signing.pem").st_mode & 0o777) == "0o600"
    report = anchoring.verify(checkpoints)
    assert report.ok and report.root_matches and report.compared == total and report.uncovered == 0
    assert any("均未被改动" in line for line in report.lines())

    running = _running_case(engine)  # after the checkpoint: not covered, not an error
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
    case_id = _finished_case(engine)
    checkpoints = _checkpoints(engine, tmp_path)
    checkpoints.create()
    seq = _seq_of(engine, case_id, h.WORK_ITEM_COMPLETED, "apply")

    def approver(rows):
        rows[seq - 1]["actor"] = "mallory"
        return rows
    _rewrite(engine, case_id, approver)
    assert _chain_ok(engine, case_id)  # the per-case chain alone is fooled
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
    case_id = _finished_case(engine)
    checkpoints = _checkpoints(engine, tmp_path)
    checkpoints.create()
    seq = _seq_of(engine, case_id, h.WORK_ITEM_CLAIMED)
    n = len(engine.history(case_id))
    _rewrite(engine, case_id, lambda rows: rows[:seq - 1] + rows[seq:])
    assert _chain_ok(engine, case_id)
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
    case_id = _finished_case(engine)
    other = _running_case(engine)
    engine.clock.advance(hours=1)
    checkpoints = _checkpoints(engine, tmp_path)
    checkpoints.create()
    seq = _seq_of(engine, case_id, h.WORK_ITEM_COMPLETED, "apply")

    def forge(rows):
        fake = {k: v for k, v in rows[seq - 1].items() if k != "id"}
        fake.update(actor="mallory", data=h.canonical_json({"note": "补签"}))
        return rows[:seq] + [fake] + rows[seq:]
    _rewrite(engine, case_id, forge)
    assert _chain_ok(engine, case_id) and _chain_ok(engine, other)
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
    case_id = _finished_case(engine)
    engine.clock.advance(hours=1)
    checkpoints = _checkpoints(engine, tmp_path)
    checkpoints.create()
    n = len(engine.history(case_id))

    def append(rows):
        last = rows[-1]
        return rows + [{**{k: v for k, v in last.items() if k != "id"}, "type": h.WORK_ITEM_COMPLETED,
                        "actor": "mallory", "data": h.canonical_json({"approved": True})}]
    _rewrite(engine, case_id, append)
    assert _chain_ok(engine, case_id)
    report = anchoring.verify(checkpoints)
    assert not report.ok and report.divergent == 0 and report.root_matches  # the covered part is intact …
    assert [(d.kind, d.case_id, d.seq) for d in report.late] == [(anchoring.LATE, case_id, n + 1)]  # … the forgery is named
    assert "是事后补入的" in "\n".join(report.lines())


@pytest.mark.tampers_history
def test_a_forged_event_under_another_events_id_names_both_cases(sqlite_engine, tmp_path):
    engine = sqlite_engine
    case_id = _finished_case(engine)
    other = _running_case(engine)
    checkpoints = _checkpoints(engine, tmp_path)
    checkpoints.create()
    seq = _seq_of(engine, case_id, h.WORK_ITEM_CLAIMED)
    taken = engine.history(other)[-1]  # its id, freed by deleting it, carries the forgery
    _rewrite(engine, other, lambda rows: rows[:-1])

    def forge(rows):
        return rows[:seq] + [{**rows[seq - 1], "id": taken.id, "actor": "mallory"}] + rows[seq:]
    _rewrite(engine, case_id, forge)
    assert _chain_ok(engine, case_id) and _chain_ok(engine, other)
    report = anchoring.verify(checkpoints)
    assert not report.ok and report.cases == {case_id, other}
    moved = next(d for d in report.divergences if d.event_id == taken.id)
    assert (moved.case_id, moved.seq, moved.now_case_id, moved.now_seq) == (other, taken.seq, case_id, seq + 1)
    assert f"现属案件 {case_id}" in str(moved)


@pytest.mark.tampers_history
def test_one_case_can_be_verified_alone(sqlite_engine, tmp_path):
    engine = sqlite_engine
    case_id = _finished_case(engine)
    other = _running_case(engine)
    checkpoints = _checkpoints(engine, tmp_path)
    checkpoints.create()
    _rewrite(engine, case_id, lambda rows: rows[:-1])  # the last event of the case, gone
    assert anchoring.verify(checkpoints, other).ok
    report = anchoring.verify(checkpoints, case_id)
    assert not report.ok and report.root_matches is None
    assert (report.first.kind, report.first.seq) == (anchoring.DELETED, len(engine.history(case_id)) + 1)


# -- the checkpoint files ------------------------------------------------------------------------------

def _three_checkpoints(engine, tmp_path) -> Checkpoints:
    _finished_case(engine)
    checkpoints = _checkpoints(engine, tmp_path)
    checkpoints.create()
    _running_case(engine)
    checkpoints.create()
    _running_case(engine)
    checkpoints.create()
    assert anchoring.verify(checkpoints).ok
    return checkpoints


def _edit_json(path: Path, change) -> None:
    body = json.loads(path.read_text())
    change(body)
    os.chmod(path, 0o644)
    path.write_text(json.dumps(body))


@pytest.mark.parametrize("tamper, says", [
    ("root", "签名无效"),
    ("signature", "签名无效"),
    ("leaves", "叶子文件"),
    ("missing", "编号不连续"),
    ("resigned", "签名无效"),
])
def test_a_tampered_checkpoint_is_detected(sqlite_engine, tmp_path, tamper, says):
    checkpoints = _three_checkpoints(sqlite_engine, tmp_path)
    folder = checkpoints.folder
    second = folder / "000002.json"
    if tamper == "root":
        _edit_json(second, lambda b: b["head"].update(root_hash="00" * 32))
    elif tamper == "signature":
        def flip(b):
            sig = bytearray(base64.b64decode(b["signature"]))
            sig[5] ^= 1
            b["signature"] = base64.b64encode(bytes(sig)).decode()
        _edit_json(second, flip)
    elif tamper == "leaves":
        leaves = next(folder.glob("000002.*.leaves"))
        lines = leaves.read_text().splitlines()
        lines[0] = lines[0][:-1] + ("0" if lines[0][-1] != "0" else "1")
        leaves.write_text("\n".join(lines) + "\n")
    elif tamper == "missing":
        second.unlink()
    else:  # re-signed with an intruder's own key, which no trusted key endorsed
        intruder = Ed25519PrivateKey.generate()

        def resign(b):
            b["head"]["root_hash"] = "11" * 32
            b["signature"] = base64.b64encode(intruder.sign(h.canonical_json(b["head"]).encode())).decode()
        _edit_json(second, resign)
    report = anchoring.verify(checkpoints)
    assert not report.ok
    assert report.latest.number == 1  # only what still checks out is relied on
    assert any(says in p and "#2" in p for p in report.file_problems), report.file_problems


def test_a_checkpoint_by_an_unendorsed_key_is_refused_unless_trusted(sqlite_engine, tmp_path):
    engine = sqlite_engine
    _finished_case(engine)
    checkpoints = _checkpoints(engine, tmp_path)
    checkpoints.create()
    checkpoints.keys.key_file.unlink()  # the private key is lost
    with pytest.raises(EngineError, match="replace-lost"):
        checkpoints.keys.init(engine.clock.now())
    with pytest.raises(EngineError, match="不存在"):
        checkpoints.create()
    new_id = checkpoints.keys.init(engine.clock.now(), replace_lost=True)
    checkpoints.create()
    report = anchoring.verify(checkpoints)
    assert not report.ok and "没有经此前受信任的密钥签认" in report.file_problems[0]
    assert anchoring.verify(checkpoints, trust=frozenset({new_id[:16]})).ok


def test_a_key_with_a_forged_endorsement_is_not_trusted(sqlite_engine, tmp_path):
    """An intruder who can add files beside the checkpoints but lacks the private key: a key of their
    own claiming the old key's endorsement signs nothing that verifies."""
    from cryptography.hazmat.primitives import serialization
    from yijianshi.engine.audit.signing_keys import ENDORSEMENT_CONTEXT, key_id_of, raw_public
    engine = sqlite_engine
    _finished_case(engine)
    checkpoints = _checkpoints(engine, tmp_path)
    first = checkpoints.create()
    intruder, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    kid = key_id_of(intruder.public_key())
    (checkpoints.keys.folder / f"{kid}.json").write_text(json.dumps({
        "key_id": kid, "public_key": base64.b64encode(raw_public(intruder.public_key())).decode(),
        "created": "2026-01-01", "endorsed_by": first.key_id,
        "endorsement": base64.b64encode(stranger.sign(ENDORSEMENT_CONTEXT + raw_public(intruder.public_key()))).decode()}))
    checkpoints.keys.key_file.write_bytes(intruder.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    _running_case(engine)
    assert checkpoints.create().key_id == kid
    report = anchoring.verify(checkpoints)
    assert not report.ok and report.latest.number == 1
    assert "没有经此前受信任的密钥签认" in report.file_problems[0] and "#2" in report.file_problems[0]


def test_rotation_keeps_old_checkpoints_verifiable(sqlite_engine, tmp_path):
    engine = sqlite_engine
    _finished_case(engine)
    checkpoints = _checkpoints(engine, tmp_path)
    first = checkpoints.create()
    old, new = checkpoints.keys.rotate(engine.clock.now())
    assert old == first.key_id and new != old
    _running_case(engine)
    second = checkpoints.create()
    assert second.key_id == new
    old2, newer = checkpoints.keys.rotate(engine.clock.now())
    third = checkpoints.create()
    assert (old2, third.key_id) == (new, newer)
    report = anchoring.verify(checkpoints)
    assert report.ok and report.latest.number == 3
    keys, problems = checkpoints.keys.read()
    assert set(keys) == {old, new, newer} and problems == []


def test_a_readable_key_file_is_refused(sqlite_engine, tmp_path):
    checkpoints = _checkpoints(sqlite_engine, tmp_path)
    checkpoints.create()
    os.chmod(checkpoints.keys.key_file, 0o644)
    with pytest.raises(EngineError, match="0600"):
        checkpoints.create()


def test_checkpoint_files_are_never_overwritten(sqlite_engine, tmp_path, monkeypatch):
    from yijianshi.storage import checkpoint_store
    checkpoints = _checkpoints(sqlite_engine, tmp_path)
    _finished_case(sqlite_engine)
    cp = checkpoints.create()
    before = (checkpoints.folder / "000001.json").read_bytes()
    settled = checkpoint_store.settled_last_id

    def another_process_writes_2_meanwhile(conn):
        (checkpoints.folder / "000002.json").write_text("theirs")
        return settled(conn)
    monkeypatch.setattr(checkpoint_store, "settled_last_id", another_process_writes_2_meanwhile)
    with pytest.raises(EngineError, match="另一进程"):
        checkpoints.create()
    assert (checkpoints.folder / "000002.json").read_text() == "theirs"
    assert (checkpoints.folder / "000001.json").read_bytes() == before and cp.number == 1
    assert not list(checkpoints.folder.glob(".*tmp"))


# -- the scheduler and the command line ----------------------------------------------------------------

def test_the_active_scheduler_signs_a_checkpoint_when_history_grew(sqlite_engine, tmp_path):
    checkpoints = _checkpoints(sqlite_engine, tmp_path)
    active = DeadlineScheduler(sqlite_engine, holder="active", checkpoints=checkpoints, checkpoint_every_s=60)
    standby = DeadlineScheduler(sqlite_engine, holder="standby", checkpoints=checkpoints)
    assert active.renew() and not standby.renew()
    _finished_case(sqlite_engine)
    assert standby.checkpoint() is None
    cp = active.checkpoint()
    assert cp is not None and cp.number == 1
    assert active.checkpoint() is None  # nothing new since
    _running_case(sqlite_engine)
    assert active.checkpoint().number == 2


def test_the_checkpoint_job_follows_the_settings(migrated_sqlite_url, tmp_path):
    from yijianshi.engine.composition import System
    settings = Settings.at(tmp_path, migrated_sqlite_url, checkpoint_every_s=1800)
    assert settings.checkpoint_dir == tmp_path / "checkpoints"
    assert settings.signing_key_file == tmp_path / "checkpoint_signing_key.pem"
    system = System.build(settings)
    try:
        scheduler = system.scheduler(holder="solo")
        scheduler.start()
        try:
            job = scheduler.job(CHECKPOINT_JOB)
            assert job.func == scheduler.checkpoint and job.trigger.interval.total_seconds() == 1800
        finally:
            scheduler.stop()
        off = System.build(settings.replace(checkpoint_every_s=0)).scheduler(holder="off")
        assert off.checkpoints is None
    finally:
        system.close()


def test_environment_names_the_folder_and_the_key(tmp_path):
    s = Settings.from_environ({"YIJIANSHI_HOME": str(tmp_path), "YIJIANSHI_CHECKPOINT_DIR": "worm/cp",
                               "YIJIANSHI_SIGNING_KEY": "/etc/yijianshi/key.pem",
                               "YIJIANSHI_CHECKPOINT_EVERY_SECONDS": "600"}, cwd=tmp_path)
    assert (s.checkpoint_dir, s.signing_key_file, s.checkpoint_every_s) == (
        tmp_path / "worm" / "cp", Path("/etc/yijianshi/key.pem"), 600.0)


@pytest.mark.tampers_history
def test_cli_verify_names_a_re_hashed_chain(sqlite_engine, migrated_sqlite_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("YIJIANSHI_HOME", str(tmp_path))
    engine = sqlite_engine
    case_id = _finished_case(engine)

    def run(*argv):
        code = main(["--db", migrated_sqlite_url, *argv])
        return code, capsys.readouterr().out

    code, out = run("checkpoint")
    assert code == 0 and "已签署检查点 #1" in out and "yijianshi-checkpoint/1 #1 size=" in out
    code, out = run("checkpoint", "show")
    assert code == 0 and "树根哈希" in out
    code, out = run("verify")
    assert code == 0 and "与检查点一致" in out and "全部完整" in out
    seq = _seq_of(engine, case_id, h.WORK_ITEM_COMPLETED, "apply")

    def approver(rows):
        rows[seq - 1]["actor"] = "mallory"
        return rows
    _rewrite(engine, case_id, approver)
    code, out = run("verify")
    assert code == 1
    assert f"案件 {case_id} 第 {seq} 条记录" in out and "与检查点不符" in out
    assert "树根与检查点 #1 签名的树根不符" in out and "1 处不一致" in out
    code, out = run("verify", str(case_id))
    assert code == 1 and "历史链完整" in out and f"首个不一致为案件 {case_id} 第 {seq} 条记录" in out
    code, out = run("keys", "rotate")
    assert code == 0 and "签名密钥已轮换" in out
    code, out = run("keys", "list")
    assert code == 0 and "（当前签名密钥）" in out and "签认" in out


# -- PostgreSQL: commit order ---------------------------------------------------------------------------

@pytest.mark.tampers_history
def test_postgres_checkpoint_waits_for_open_writers_and_catches_a_rewrite(migrated_pg_url, tmp_path):
    engine = make_engine(migrated_pg_url)
    try:
        case_id = _finished_case(engine)
        checkpoints = _checkpoints(engine, tmp_path)
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
        _running_case(engine)  # later ids, past the gap
        cp = checkpoints.create()
        assert cp.last_event_id > gap and anchoring.verify(checkpoints).ok

        # A forged event put into the gap, inside the covered id range.
        def into_the_gap(rows):
            return rows[:3] + [{**rows[2], "id": gap, "actor": "mallory"}] + rows[3:]
        _rewrite(engine, case_id, into_the_gap)
        report = anchoring.verify(checkpoints)
        inserted = next(d for d in report.divergences if d.kind == anchoring.INSERTED)
        assert (inserted.event_id, inserted.case_id, inserted.seq) == (gap, case_id, 4)
        assert "不在检查点中" in str(inserted)
        assert (report.first.case_id, report.first.seq) == (case_id, 4)
        checkpoints = _checkpoints(engine, tmp_path / "after")
        checkpoints.create()

        def approver(rows):
            rows[1]["actor"] = "mallory"
            return rows
        _rewrite(engine, case_id, approver)
        assert _chain_ok(engine, case_id)
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
