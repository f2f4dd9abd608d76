"""The `yijianshi` command line: each sub-command end to end on a real SQLite file (and the
PostgreSQL URL form), exit codes, and `file:line: message` output with no traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from yijianshi.cli.main import main
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run(db_url, capsys):
    def _run(*argv: str) -> tuple[int, str, str]:
        code = main(["--db", db_url, *argv])
        out, err = capsys.readouterr()
        return code, out, err
    return _run


def _first_item(run, *filters: str) -> dict:
    code, out, _ = run("work-items", "--json", *filters)
    assert code == 0
    return json.loads(out)[0]


def test_full_cycle(run):
    assert run("db", "upgrade")[0] == 0
    code, out, _ = run("deploy", str(FIXTURES / "parallel_review.bpmn"))
    assert code == 0 and "parallel_review v1" in out
    assert "未变化" in run("deploy", str(FIXTURES / "parallel_review.bpmn"))[1]
    code, out, _ = run("start", "parallel_review", "--data", '{"district": "宁河区"}', "--business-key", "NH-1")
    assert code == 0 and "已立案：案件 1" in out and "填写申请表" in out

    item = _first_item(run, "--group", "front_desk")
    assert item["task_spec"] == "apply"
    code, _, err = run("complete", item["id"], "--data", '{"applicant_name": "", "amount": "x"}',
                       "--as", "deng", "--groups", "front_desk")
    assert code == 1 and "applicant_name: 此项为必填项" in err and "amount:" in err
    code, _, err = run("complete", item["id"], "--data", '{"applicant_name": "陈一"}', "--as", "fu",
                       "--groups", "fire")
    assert code == 1 and "不属于" in err
    code, out, _ = run("complete", item["id"], "--data", '{"applicant_name": "陈一"}', "--as", "deng",
                       "--groups", "front_desk")
    assert code == 0 and out.count("新待办") == 4

    market = _first_item(run, "--group", "market")
    assert run("claim", market["id"], "--as", "ma", "--groups", "market")[0] == 0
    assert _first_item(run, "--claimed-by", "ma")["id"] == market["id"]
    assert run("unclaim", market["id"], "--as", "ma", "--groups", "market")[0] == 0

    code, out, _ = run("history", "1")
    assert code == 0 and "case_started" in out and "work_item_unclaimed" in out
    history = json.loads(run("history", "1", "--json")[1])
    assert history[0]["type"] == "case_started" and history[-1]["type"] == "work_item_unclaimed"
    code, out, _ = run("verify", "--reexecute")
    assert code == 0 and "全部完整" in out
    code, out, _ = run("verify", "1")
    assert code == 0 and "历史链完整" in out
    assert "parallel_review" in run("definitions")[1]
    code, out, _ = run("cancel", "1", "--reason", "测试撤销")
    assert code == 0 and "已撤销" in out
    assert run("work-items", "--case", "1")[1].strip() == "没有符合条件的待办事项。"


def test_message_delivery(run):
    run("db", "upgrade")
    run("deploy", str(FIXTURES / "messages.bpmn"))
    run("start", "dept_query", "--business-key", "12345-77")
    item = _first_item(run)
    run("complete", item["id"], "--data", '{"order_id": "M-7"}')
    code, out, _ = run("deliver", "dept_reply", "--correlation", "order_id=M-7", "--payload", '{"ok": true}')
    assert code == 0 and "消息已投递到案件 1" in out
    code, _, err = run("deliver", "dept_reply", "--correlation", "order_id=M-7")
    assert code == 1 and "没有案件在等待" in err


def test_bad_arguments_are_sentences(run):
    run("db", "upgrade")
    code, _, err = run("start", "nothing_here")
    assert code == 1 and "尚未部署" in err
    code, _, err = run("start", "nothing_here", "--data", "{not json")
    assert code == 1 and "不是有效的 JSON" in err
    code, _, err = run("history", "99")
    assert code == 1 and "不存在" in err


FIXTURE_REGISTRY = FIXTURES / "fixture_registry.json"  # the codes the test fixtures use (d1..d8 too)


def test_validate_exit_codes_and_locations(tmp_path, capsys):
    # The Camunda corpus is written against processes/registry.json and holds files meant to be
    # refused; tests/test_camunda_corpus.py validates it.
    corpus = FIXTURES / "camunda" / "corpus"
    paths = [str(p) for p in FIXTURES.iterdir() if p.name != "camunda" and p.suffix != ".json"] + \
            [str(p) for p in (FIXTURES / "camunda").iterdir() if p != corpus]
    assert main(["validate", "--registry", str(FIXTURE_REGISTRY), *paths]) == 0
    assert "全部有效" in capsys.readouterr().out
    bad = tmp_path / "bad.bpmn"
    bad.write_text('<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
                   ' targetNamespace="x">\n  <bpmn:process id="p" isExecutable="true">\n'
                   '    <bpmn:startEvent id="s" />\n    <bpmn:sequenceFlow id="f" sourceRef="s" />\n'
                   '  </bpmn:process>\n</bpmn:definitions>\n', encoding="utf-8")
    assert main(["validate", str(bad), str(FIXTURES / "messages.bpmn")]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:5: " in err and "targetRef" in err


@pytest.mark.parametrize("content", [
    b'<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY b SYSTEM "file:///etc/passwd">]>\n<a>&b;</a>',
    b"\x00\x01\x02garbage",
    b'<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"',
    "<?xml version='1.0' encoding='GBK'?><a/>".encode("gbk"),
])
def test_validate_never_prints_a_traceback(tmp_path, content):
    """Run the installed console script as a user would."""
    f = tmp_path / "hostile.bpmn"
    f.write_bytes(content)
    exe = Path(sys.executable).with_name("yijianshi")
    proc = subprocess.run([str(exe), "validate", str(f)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"}, cwd=ROOT)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.startswith(f"{f}:")
    assert "missing.bpmn" not in proc.stderr


def test_validate_missing_path(capsys):
    assert main(["validate", "/no/such/dir"]) == 1
    assert "不存在" in capsys.readouterr().err


def test_calendar_commands(run, tmp_path):
    code, out, _ = run("db", "upgrade")
    assert code == 0 and "2025, 2026" in out
    code, out, _ = run("calendar", "show", "2025")
    assert code == 0 and "2025-10-01 至 2025-10-08" in out and "调休上班 2025-09-28（日）" in out
    code, _, err = run("calendar", "show", "2027")
    assert code == 1 and "2027 年的法定节假日安排尚未发布" in err
    bad = tmp_path / "2027.json"
    bad.write_text('{"2027": {"holidays": [["2027-01-05", "2027-01-01", "元旦"]], "makeup_workdays": []}}',
                   encoding="utf-8")
    code, _, err = run("calendar", "load", str(bad))
    assert code == 1 and "2027.json" in err
    good = tmp_path / "2027b.json"
    good.write_text('{"2027": {"holidays": [["2027-01-01", "2027-01-03", "元旦"]], "makeup_workdays": []}}',
                    encoding="utf-8")
    code, out, _ = run("calendar", "load", str(good))
    assert code == 0 and "已导入 2027 年" in out
    assert "放假 2027-01-01 至 2027-01-03" in run("calendar", "show", "2027")[1]


def test_a_database_never_created_asks_for_db_upgrade(tmp_path, capsys):
    """An operator who deploys before creating the database gets the command to run, not an
    internal error naming a missing table."""
    url = f"sqlite:///{tmp_path}/fresh.sqlite3"
    code = main(["--db", url, "deploy", str(FIXTURES / "parallel_review.bpmn")])
    err = capsys.readouterr().err
    assert code == 1 and "yijianshi db upgrade" in err and "内部错误" not in err and "no such table" not in err
    assert main(["--db", url, "db", "upgrade"]) == 0
    assert main(["--db", url, "deploy", str(FIXTURES / "parallel_review.bpmn")]) == 0
