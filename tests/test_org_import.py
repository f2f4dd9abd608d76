"""`yijianshi org import|export` (issue #14.1): a good CSV and JSON file replace the organisation
and round-trip through export; a bad file is refused with the bad lines named, and nothing is
written — on SQLite and PostgreSQL. Also the checks of org_rules (parent kinds, cycles)."""
from __future__ import annotations

import json
from datetime import date

import pytest

from tests.conftest import make_engine
from yijianshi.cli.main import main
from yijianshi.engine.access.org_files import parse_json, write_csv
from yijianshi.engine.access.org_rules import OrgData, Unit, org_problems
from yijianshi.engine.access.organisation import OrganisationService

GOOD_CSV = """type,code,name,kind,parent,username,role,principal,starts_on,ends_on,reason
unit,qu,示范区,district,,,,,,,
unit,dongcheng,东城街道,street,qu,,,,,,
unit,dongcheng_1,东城街道第一片区,grid,dongcheng,,,,,,
unit,market,市场监管局,department,,,,,,,
unit,market_food,食品经营监管科,sub_unit,market,,,,,,
member,dongcheng,,,,liuyang,leader,,,,
member,market_food,,,,linjing,member,,,,
deputy,,,,,huangli,,liuyang,2026-01-05,2026-01-09,
absence,,,,,liuyang,,,2026-01-05,2026-01-09,年休假
"""


@pytest.fixture
def cli(migrated_db_url, capsys):
    engine = make_engine(migrated_db_url)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--db", migrated_db_url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    yield run, OrganisationService(engine.db)
    engine.db.dispose()


def test_a_good_csv_is_imported_and_exports_again(cli, tmp_path):
    run, org = cli
    (tmp_path / "org.csv").write_text(GOOD_CSV, encoding="utf-8")
    code, out, err = run("org", "import", str(tmp_path / "org.csv"))
    assert code == 0, err
    assert "5 个单位" in out
    data = org.load()
    assert {u.code for u in data.units} == {"qu", "dongcheng", "dongcheng_1", "market", "market_food"}
    assert data.deputies[0].starts_on == date(2026, 1, 5) and data.absences[0].reason == "年休假"
    code, out, _ = run("org", "export")
    assert code == 0 and out.splitlines()[0].startswith("type,code,name")
    assert sorted(out.splitlines()) == sorted(GOOD_CSV.splitlines())
    # JSON round trip: export, import again, same organisation
    assert run("org", "export", str(tmp_path / "org.json"))[0] == 0
    doc = json.loads((tmp_path / "org.json").read_text(encoding="utf-8"))
    assert doc["memberships"][0] == {"username": "liuyang", "unit": "dongcheng", "role": "leader"}
    assert run("org", "import", str(tmp_path / "org.json"))[0] == 0
    assert write_csv(org.load()) == write_csv(data)


@pytest.mark.parametrize("bad,line,words", [
    ("unit,dongcheng_2,东城第二片区,grid,nowhere,,,,,,\n", 11, "上级单位“nowhere”不存在"),
    ("member,xicheng,,,,someone,member,,,,\n", 11, "单位“xicheng”不存在"),
    ("deputy,,,,,huangli,,liuyang,2026-02-30,2026-03-01,\n", 11, "日期“2026-02-30”无效"),
    ("absence,,,,,liuyang,,,2026-03-09,2026-03-01,\n", 11, "早于开始日期"),
    ("team,x,,,,,,,,,\n", 11, "记录类型“team”无效"),
    ("unit,dongcheng,东城街道,street,qu,,,,,,\n", 11, "重复"),
])
def test_a_bad_csv_line_is_named_and_nothing_is_written(cli, tmp_path, bad, line, words):
    run, org = cli
    (tmp_path / "first.csv").write_text(GOOD_CSV, encoding="utf-8")
    assert run("org", "import", str(tmp_path / "first.csv"))[0] == 0
    before = write_csv(org.load())
    # a good file with a bad line at its end, and the good lines changed: none of it may land
    changed = GOOD_CSV.replace("东城街道第一片区", "改名的片区") + bad
    (tmp_path / "bad.csv").write_text(changed, encoding="utf-8")
    code, out, err = run("org", "import", str(tmp_path / "bad.csv"))
    assert code == 1 and out == ""
    assert f"第 {line} 行（line {line}）" in err and words in err and "nothing was imported" in err
    assert write_csv(org.load()) == before


def test_a_bad_json_record_is_named_by_its_line(cli, tmp_path):
    run, org = cli
    text = ('{"units": [\n  {"code": "qu", "name": "示范区", "kind": "district"},\n'
            '  {"code": "g1", "name": "片区", "kind": "grid", "parent": "qu"}\n],\n'
            ' "memberships": [{"username": "x y", "unit": "qu"}]}\n')
    (tmp_path / "org.json").write_text(text, encoding="utf-8")
    code, _, err = run("org", "import", str(tmp_path / "org.json"))
    assert code == 1
    assert "第 3 行（line 3）：片区“g1”的上级只能是：街镇" in err
    assert "第 5 行（line 5）：用户名“x y”无效" in err
    assert org.load().units == []
    (tmp_path / "broken.json").write_text('{"units": [\n  {"code": }\n]}', encoding="utf-8")
    code, _, err = run("org", "import", str(tmp_path / "broken.json"))
    assert code == 1 and "第 2 行（line 2）：不是有效的 JSON" in err
    (tmp_path / "org.txt").write_text("", encoding="utf-8")
    assert "请使用 .csv 或 .json" in run("org", "import", str(tmp_path / "org.txt"))[2]


def test_header_missing_columns_is_refused(cli, tmp_path):
    run, _ = cli
    (tmp_path / "org.csv").write_text("type,code,name\nunit,qu,示范区\n", encoding="utf-8")
    code, _, err = run("org", "import", str(tmp_path / "org.csv"))
    assert code == 1 and "第 1 行（line 1）：表头缺少列 kind" in err


@pytest.mark.unit
def test_parent_cycles_and_kinds_are_problems():
    cycle = OrgData(units=[Unit("market", "市场监管局", "department"), Unit("a", "甲科", "sub_unit", "b"),
                           Unit("b", "乙科", "sub_unit", "a")])
    assert any("循环" in p for p in org_problems(cycle))
    wrong = OrgData(units=[Unit("market", "市场监管局", "department"), Unit("s", "某街道", "street", "market")])
    assert org_problems(wrong) == ["单位 s：街镇“s”的上级只能是：区。"]
    doc = parse_json('{"units": [{"code": "q\\"u", "name": "x"},\n{"code": "qu", "name": "区", "kind": "district"}]}')
    assert [u.line for u in doc.units] == [1, 2]
