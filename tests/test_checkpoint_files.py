"""Signed history checkpoints, the files and keys: a tampered checkpoint file or signature is
detected, keys are endorsed and rotated with old checkpoints still verifiable, files are never
overwritten; the scheduler signs checkpoints as history grows; the command line names a re-hashed
chain. (The rewrites themselves and the tree: test_checkpoints.py.)"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from yijianshi.cli.main import main
from yijianshi.engine.audit import anchoring
from yijianshi.engine.audit.checkpoints import Checkpoints
from yijianshi.engine.cases import history as h
from yijianshi.engine.deadlines.scheduler import CHECKPOINT_JOB, DeadlineScheduler
from yijianshi.engine.errors import EngineError
from yijianshi.engine.settings import Settings
from tests.checkpoint_support import checkpoints_at, finished_case, rewrite, running_case, seq_of


# -- the checkpoint files ------------------------------------------------------------------------------

def _threecheckpoints_at(engine, tmp_path) -> Checkpoints:
    finished_case(engine)
    checkpoints = checkpoints_at(engine, tmp_path)
    checkpoints.create()
    running_case(engine)
    checkpoints.create()
    running_case(engine)
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
    checkpoints = _threecheckpoints_at(sqlite_engine, tmp_path)
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
    finished_case(engine)
    checkpoints = checkpoints_at(engine, tmp_path)
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
    finished_case(engine)
    checkpoints = checkpoints_at(engine, tmp_path)
    first = checkpoints.create()
    intruder, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    kid = key_id_of(intruder.public_key())
    (checkpoints.keys.folder / f"{kid}.json").write_text(json.dumps({
        "key_id": kid, "public_key": base64.b64encode(raw_public(intruder.public_key())).decode(),
        "created": "2026-01-01", "endorsed_by": first.key_id,
        "endorsement": base64.b64encode(stranger.sign(ENDORSEMENT_CONTEXT + raw_public(intruder.public_key()))).decode()}))
    checkpoints.keys.key_file.write_bytes(intruder.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    running_case(engine)
    assert checkpoints.create().key_id == kid
    report = anchoring.verify(checkpoints)
    assert not report.ok and report.latest.number == 1
    assert "没有经此前受信任的密钥签认" in report.file_problems[0] and "#2" in report.file_problems[0]


def test_rotation_keeps_old_checkpoints_verifiable(sqlite_engine, tmp_path):
    engine = sqlite_engine
    finished_case(engine)
    checkpoints = checkpoints_at(engine, tmp_path)
    first = checkpoints.create()
    old, new = checkpoints.keys.rotate(engine.clock.now())
    assert old == first.key_id and new != old
    running_case(engine)
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
    checkpoints = checkpoints_at(sqlite_engine, tmp_path)
    checkpoints.create()
    os.chmod(checkpoints.keys.key_file, 0o644)
    with pytest.raises(EngineError, match="0600"):
        checkpoints.create()


def test_checkpoint_files_are_never_overwritten(sqlite_engine, tmp_path, monkeypatch):
    from yijianshi.storage import checkpoint_store
    checkpoints = checkpoints_at(sqlite_engine, tmp_path)
    finished_case(sqlite_engine)
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
    checkpoints = checkpoints_at(sqlite_engine, tmp_path)
    active = DeadlineScheduler(sqlite_engine, holder="active", checkpoints=checkpoints, checkpoint_every_s=60)
    standby = DeadlineScheduler(sqlite_engine, holder="standby", checkpoints=checkpoints)
    assert active.renew() and not standby.renew()
    finished_case(sqlite_engine)
    assert standby.checkpoint() is None
    cp = active.checkpoint()
    assert cp is not None and cp.number == 1
    assert active.checkpoint() is None  # nothing new since
    running_case(sqlite_engine)
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
    case_id = finished_case(engine)

    def run(*argv):
        code = main(["--db", migrated_sqlite_url, *argv])
        return code, capsys.readouterr().out

    code, out = run("checkpoint")
    assert code == 0 and "已签署检查点 #1" in out and "yijianshi-checkpoint/1 #1 size=" in out
    code, out = run("checkpoint", "show")
    assert code == 0 and "树根哈希" in out
    code, out = run("verify")
    assert code == 0 and "与检查点一致" in out and "全部完整" in out
    seq = seq_of(engine, case_id, h.WORK_ITEM_COMPLETED, "apply")

    def approver(rows):
        rows[seq - 1]["actor"] = "mallory"
        return rows
    rewrite(engine, case_id, approver)
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


