"""`yijianshi org import FILE.csv|FILE.json` and `yijianshi org export [FILE]`: the organisation
(units, memberships, deputies, absences; file format in engine/access/org_files.py). An import
replaces the whole organisation in one transaction, or — with a problem on any line — changes
nothing and names every bad line.

Wiring (cli/main.py): `add_org_parser(sub)`."""
from __future__ import annotations

import sys
from pathlib import Path

from yijianshi.cli.common import open_system
from yijianshi.engine.access.org_files import read_org_file, write_csv, write_json
from yijianshi.engine.access.organisation import OrgError


def cmd_import(args) -> int:
    path = Path(args.file)
    system = open_system(args)
    try:
        data = read_org_file(path)
        system.organisation.replace(data)
    except OrgError as err:
        print(f"组织架构文件 {path} 未导入，数据库未作任何修改（nothing was imported）：", file=sys.stderr)
        for problem in err.problems:
            print(f"  {path}: {problem}", file=sys.stderr)
        return 1
    print(f"已导入组织架构：{len(data.units)} 个单位、{len(data.memberships)} 条成员关系、"
          f"{len(data.deputies)} 条代理安排、{len(data.absences)} 条缺勤记录（原有组织架构已被替换）。")
    return 0


def cmd_export(args) -> int:
    data = open_system(args).organisation.load()
    as_json = args.format == "json" or (args.file or "").lower().endswith(".json")
    text = write_json(data) if as_json else write_csv(data)
    if args.file:
        Path(args.file).write_text(text, encoding="utf-8")
        print(f"已导出 {len(data.units)} 个单位到 {args.file}")
    else:
        sys.stdout.write(text)
    return 0


def add_org_parser(sub) -> None:
    group = sub.add_parser("org", help="组织架构：导入、导出（区—街镇—片区、部门—科室、成员、代理、缺勤）").add_subparsers(
        dest="org_command", required=True)
    p = group.add_parser("import", help="从 CSV 或 JSON 文件导入并替换整个组织架构（有错误则不作任何修改）")
    p.add_argument("file", help="FILE.csv 或 FILE.json")
    p.set_defaults(func=cmd_import)
    p = group.add_parser("export", help="导出组织架构（不给文件则输出到屏幕）")
    p.add_argument("file", nargs="?", help="FILE.csv 或 FILE.json")
    p.add_argument("--format", choices=("csv", "json"), default=None, help="输出格式（默认按文件后缀，否则 CSV）")
    p.set_defaults(func=cmd_export)
