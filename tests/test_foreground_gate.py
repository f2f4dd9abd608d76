"""The foreground gate (issue #13, item 1): a long script call, already demoted to SCHED_IDLE, is
paused while anyone on the machine serves a person — a web request, a case command, a sign-in — and
its waiting thread resumes it once nobody has for a moment; a thread waiting for its own long script
does not pause it; a registration left by a dead process is cleared, never signalled."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from pathlib import Path

import pytest

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.composition import System
from yijianshi.engine.settings import Settings
from yijianshi.engine.errors import ScriptError
from yijianshi.engine.scripting import foreground_gate, worker_pool
from yijianshi.engine.scripting.foreground_gate import PREFIX, ForegroundGate
from tests.script_support import env, pool, wait_for  # noqa: F401 - fixtures

FIXTURES = Path(__file__).parent / "fixtures"
SPIN = "pow(3, 1 << 30000, (1 << 30000) - 1)"  # one C call of many seconds


def _state(pid: int) -> bytes:
    """b"T" for a process stopped, or about to stop (a SIGSTOP pending: a SCHED_IDLE process that a
    busy machine has not run since acts on it when next run), else its /proc state."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    state = fields["State"].split()[0].encode()
    pending = int(fields["ShdPnd"], 16) | int(fields["SigPnd"], 16)
    return b"T" if state == b"T" or pending & (1 << (signal.SIGSTOP - 1)) else state


@pytest.fixture
def gate(tmp_path, monkeypatch):
    """The process's one gate, on a directory of this test's (other processes' work is not seen)."""
    gate = foreground_gate.FOREGROUND
    assert worker_pool.FOREGROUND is gate
    monkeypatch.setattr(gate, "directory", tmp_path)
    monkeypatch.setattr(gate, "usable", True)
    return gate


@pytest.fixture
def burner():
    """A process burning CPU (standing for a demoted script worker)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield proc
    proc.kill()
    proc.wait()


def _free_after_linger(gate: ForegroundGate, timed: bool = True) -> None:
    """Once foreground work ends, paused calls may go on only after LINGER_S more."""
    assert not gate.busy()
    ended = time.monotonic()
    assert wait_for(gate.may_run, 2.0), "the gate stayed shut"
    if timed:
        assert time.monotonic() - ended >= foreground_gate.LINGER_S * 0.5


def test_foreground_work_pauses_a_registered_call_until_the_last_piece_ends(gate, burner):
    held = gate.register(burner.pid)
    try:
        outer = gate.enter()
        assert wait_for(lambda: _state(burner.pid) == b"T"), "not paused by foreground work"
        inner = gate.enter()  # nested: a command inside a request
        gate.leave(inner)
        time.sleep(0.05)
        assert _state(burner.pid) == b"T", "resumed while the outer work was still in progress"
        assert not gate.may_run()
        gate.leave(outer)
        assert not gate.may_run(), "free at once: a quick succession of requests would start and stop it"
        _free_after_linger(gate)
    finally:
        gate.unregister(burner.pid, held)
    assert not list(gate.directory.glob(f"{PREFIX}*"))


def test_foreground_work_in_another_process_holds_the_gate(gate, burner):
    """Machine-wide: another process's request pauses the call and keeps the gate shut."""
    held = gate.register(burner.pid)
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from yijianshi.engine.scripting.foreground_gate import ForegroundGate
        gate = ForegroundGate(Path({str(gate.directory)!r}))
        token = gate.enter()
        sys.stdout.write("in\\n"); sys.stdout.flush()
        sys.stdin.readline()
        gate.leave(token)
    """)
    other = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline() == "in\n"
        assert wait_for(lambda: _state(burner.pid) == b"T")
        assert gate.busy()
        mine = gate.enter()
        gate.leave(mine)  # this process's work ends, the other's does not: still paused
        time.sleep(0.05)
        assert gate.busy() and not gate.may_run()
        other.stdin.write("\n")
        other.stdin.flush()
        other.wait(10)
        _free_after_linger(gate, timed=False)  # its work ended a while before its process did
    finally:
        other.kill()
        gate.unregister(burner.pid, held)


def test_a_registration_left_by_a_dead_process_is_cleared_not_signalled(gate, burner):
    (gate.directory / f"{PREFIX}{burner.pid}").touch()  # nobody holds its lock
    token = gate.enter()
    try:
        time.sleep(0.05)
        assert _state(burner.pid) in (b"R", b"S"), "a stale registration was signalled"
        assert not (gate.directory / f"{PREFIX}{burner.pid}").exists()
    finally:
        gate.leave(token)



def _counting_listings(monkeypatch) -> list:
    calls: list = []
    listing = os.scandir

    def counted(path):
        calls.append(path)
        return listing(path)

    monkeypatch.setattr(foreground_gate.os, "scandir", counted)
    return calls


def test_an_unchanged_directory_is_listed_once_and_a_new_registration_is_still_seen(gate, burner, monkeypatch):
    """Foreground work beginning looks at the registrations' directory; it lists it again only when
    its modification time changed (a case command saves the listing), and a call registered after
    a listing kept is paused all the same."""
    gate.leave(gate.enter())  # makes the gate's own file
    old = time.time_ns() - 60 * 10**9
    os.utime(gate.directory, ns=(old, old))  # nothing made or removed in it for a minute
    listings = _counting_listings(monkeypatch)
    for _ in range(3):
        gate.leave(gate.enter())
    assert len(listings) == 1
    held = gate.register(burner.pid)  # a file made in it: its modification time moves on
    try:
        token = gate.enter()
        assert wait_for(lambda: _state(burner.pid) == b"T"), "a call registered since the listing was not paused"
        gate.leave(token)
        assert len(listings) == 2
    finally:
        gate.unregister(burner.pid, held)


def test_a_directory_changed_a_moment_ago_is_listed_every_time(gate, monkeypatch):
    """A listing is not kept while the directory's modification time is recent: a file made within
    the same tick of the file system's clock would leave that time as it was."""
    (gate.directory / "slot-0").touch()
    listings = _counting_listings(monkeypatch)
    for _ in range(3):
        gate.leave(gate.enter())
    assert len(listings) == 3

def test_a_thread_waiting_for_its_own_script_steps_aside(gate, burner):
    held = gate.register(burner.pid)
    try:
        token = gate.enter()
        assert wait_for(lambda: _state(burner.pid) == b"T")
        with gate.stepped_aside():
            assert not gate.busy(), "its own wait holds the gate"
            os.kill(burner.pid, signal.SIGCONT)  # as its waiting thread does
        assert wait_for(lambda: _state(burner.pid) == b"T"), "not paused again after the wait"
        gate.leave(token)
        _free_after_linger(gate)
    finally:
        gate.unregister(burner.pid, held)


def _registered(gate: ForegroundGate) -> list[int]:
    return [int(p.name[len(PREFIX):]) for p in gate.directory.glob(f"{PREFIX}*")]


@pytest.fixture
def system(tmp_path):
    system = System.build(Settings.at(str(tmp_path / "home"), password_hash_method="argon2:1:8:1"))
    system.db.upgrade()
    system.engine.deploy([FIXTURES / "hostile.bpmn"])
    yield system
    system.close()


def test_a_long_script_is_paused_while_a_command_and_a_sign_in_run(gate, system, env, monkeypatch):
    """The real pieces: a script worker running a long call registers itself once demoted; a case
    command and a sign-in elsewhere pause it; it still ends at its CPU limit."""
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            with gate.foreground():  # as inside a request: its own script is not paused by it
                env.evaluate(SPIN, {})
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            outcome.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        pids = wait_for(lambda: _registered(gate))
        assert pids, "the long call was not registered with the gate"
        pid = pids[0]
        assert wait_for(lambda: _state(pid) in (b"R", b"S")), "its own request paused it"

        paused: list[bytes] = []
        accounts = system.accounts
        verify = accounts.hasher.verify
        monkeypatch.setattr(accounts.hasher, "verify", lambda *a: paused.append(_state(pid)) or verify(*a))
        accounts.create("gate_user", "Correct-Horse-42", "测试员", "front_desk")
        accounts.authenticate("gate_user", "Correct-Horse-42")
        assert paused == [b"T"], f"the script ran during a sign-in: {paused}"
        assert wait_for(lambda: _state(pid) in (b"R", b"S")), "not resumed after the sign-in"

        paused.clear()
        cases = system.engine.cases
        prepare = cases.runner.prepare
        monkeypatch.setattr(cases.runner, "prepare", lambda ctx: paused.append(_state(pid)) or prepare(ctx))
        cases.start_case("hostile_script", {"probe": "none"}, Actor("clerk", frozenset({"front_desk"})))
        assert paused and set(paused) == {b"T"}, f"the script ran during a case command: {paused}"
        assert wait_for(lambda: _state(pid) in (b"R", b"S")), "not resumed after the command"
    finally:
        thread.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], ScriptError) and "CPU 时间限制" in str(outcome[0])
    assert not _registered(gate)


def test_a_web_request_pauses_a_registered_call(gate, burner, system, monkeypatch):
    from yijianshi.engine.ops import health
    from yijianshi.web.app import create_app

    client = create_app(system, {"SECRET_KEY": "test"}).test_client()
    seen: list[bytes] = []
    check = health.check
    monkeypatch.setattr(health, "check", lambda *a: seen.append(_state(burner.pid)) or check(*a))
    held = gate.register(burner.pid)
    try:
        client.get("/healthz")
        assert seen == [b"T"], f"the call ran during a request: {seen}"
        assert gate._count == 0
        _free_after_linger(gate)
    finally:
        gate.unregister(burner.pid, held)


def test_a_call_paused_by_a_process_that_died_is_resumed_by_its_waiting_thread(gate, env):
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            env.evaluate(SPIN, {})
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            outcome.append(err)

    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from yijianshi.engine.scripting.foreground_gate import ForegroundGate
        ForegroundGate(Path({str(gate.directory)!r})).enter()
        sys.stdout.write("in\\n"); sys.stdout.flush()
        time.sleep(60)
    """)
    thread = threading.Thread(target=run)
    thread.start()
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pid = wait_for(lambda: _registered(gate))[0]
        assert other.stdout.readline() == "in\n"
        assert wait_for(lambda: _state(pid) == b"T"), "not paused by the other process"
        other.kill()  # dies holding the gate: nobody ends its work
        other.wait(10)
        t0 = time.monotonic()
        assert wait_for(lambda: _state(pid) in (b"R", b"S"), 3.0), "left paused by a dead process"
        assert time.monotonic() - t0 < 1.0
    finally:
        other.kill()
        thread.join(30)
    assert len(outcome) == 1 and "CPU 时间限制" in str(outcome[0])


def test_only_a_long_call_lets_its_waiting_thread_step_aside(gate, env, monkeypatch):
    """Waiting for a short script is still serving someone (long calls elsewhere stay paused);
    waiting for one that has been demoted is not (its own script must not be paused by it)."""
    counts: list[int] = []
    answered = worker_pool.ScriptWorker._answered
    monkeypatch.setattr(worker_pool.ScriptWorker, "_answered",
                        lambda self, seconds: counts.append(gate._count) or answered(self, seconds))
    with gate.foreground():
        assert env.evaluate("len(x) + 1", {"x": [1, 2]}) == 3
        assert counts and set(counts) == {1}, counts
        counts.clear()
        with pytest.raises(ScriptError):
            env.evaluate(SPIN, {})
        assert counts[0] == 1 and counts[-1] == 0, counts
        assert gate._count == 1
    assert gate._count == 0
