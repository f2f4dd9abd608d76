"""`yijianshi validate`, `deploy` and `definitions`: process definitions, checked and deployed."""
from __future__ import annotations

import sys

from yijianshi.cli.common import actor, actor_args, fmt_time, open_system, print_problems
from yijianshi.engine.errors import DefinitionError


def cmd_deploy(args) -> int:
    engine = open_system(args).engine
    try:
        results = engine.deploy(args.paths, actor=actor(args))
    except DefinitionError as err:
        print_problems(err)
        print(f"部署未执行：发现 {len(err.problems)} 个问题，没有写入任何内容。", file=sys.stderr)
        return 1
    for r in results:
        print(str(r))
    return 0


def cmd_definitions(args) -> int:
    engine = open_system(args).engine
    rows = engine.definition_summary()
    if not rows:
        print("尚未部署任何流程。")
    for r in rows:
        print(f"{r.key}\tv{r.version}\t{r.name}\t运行中案件 {r.running}\t部署于 {fmt_time(r.deployed_at)}")
    return 0


def add_definitions_parsers(sub) -> None:
    from yijianshi.cli.scenarios import validate_with_lint

    p = sub.add_parser("validate", help="校验 BPMN/DMN 文件（不部署），并检查设计规范")
    p.add_argument("paths", nargs="+")
    p.set_defaults(func=validate_with_lint)

    p = sub.add_parser("deploy", help="部署文件或目录（全部有效才写入）")
    p.add_argument("paths", nargs="+")
    actor_args(p)
    p.set_defaults(func=cmd_deploy)

    sub.add_parser("definitions", help="已部署的流程及其版本").set_defaults(func=cmd_definitions)
