"""`yijianshi validate`, `deploy` and `definitions`: process definitions, checked and deployed.

Validate and deploy apply the checks the web upload applies (engine/modeling/upload_check.py): the
deploy validation, the designer lint, and the department registry — the project's
processes/registry.json unless --registry chooses another file; no registry is an error."""
from __future__ import annotations

import sys

from yijianshi.cli.common import actor, actor_args, fmt_time, open_system
from yijianshi.engine.errors import DefinitionError, Problem
from yijianshi.engine.modeling.definitions import read_sources
from yijianshi.engine.modeling.registry import registry_for_checks
from yijianshi.engine.modeling.upload_check import check_sources, deploy_reviewed, review_upload


def cmd_validate(args) -> int:
    """The deploy checks and the lint rules, without a database; `file:line: message`, exit 1 on any."""
    registry = registry_for_checks(getattr(args, "registry", None))
    parsed, problems, lint = check_sources(read_sources(args.paths), registry)
    if not _report(problems, lint):
        return 1
    _warn(parsed.warnings)
    names = ", ".join(d.key for d in parsed.definitions)
    print(f"全部有效：{len(parsed.sources)} 个文件，可执行流程 {names}")
    return 0


def cmd_deploy(args) -> int:
    """Deploy as the web upload does: checked first (with the deployed processes the files call),
    then new versions of the changed executable processes, all or nothing."""
    registry = registry_for_checks(getattr(args, "registry", None))
    sources = read_sources(args.paths)
    engine = open_system(args).engine
    review = review_upload(engine, sources, registry)
    _warn(review.warnings)
    if not _report(review.problems, review.lint):
        print(f"部署未执行：发现 {len(review.problems) + len(review.lint)} 个问题，没有写入任何内容。",
              file=sys.stderr)
        return 1
    for r in deploy_reviewed(engine, review.uploaded, review.included, actor(args)):
        print(str(r))
    return 0


def _warn(warnings: list[Problem]) -> None:
    """Notes that do not stop a deploy (e.g. a process without isExecutable), to stderr."""
    for w in warnings:
        print(f"提示：{w}", file=sys.stderr)


def _report(problems: list[Problem], lint: list[Problem]) -> bool:
    """Print the problems (deploy checks, then lint) to stderr; True when there are none."""
    for p in problems:
        print(str(p), file=sys.stderr)
    if problems:
        print(f"发现 {len(problems)} 个问题。", file=sys.stderr)
    for p in lint:
        print(str(p), file=sys.stderr)
    if lint:
        print(f"发现 {len(lint)} 个问题（设计规范检查）。", file=sys.stderr)
    return not problems and not lint


def cmd_definitions(args) -> int:
    engine = open_system(args).engine
    rows = engine.definition_summary()
    if not rows:
        print("尚未部署任何流程。")
    for r in rows:
        print(f"{r.key}\tv{r.version}\t{r.name}\t运行中案件 {r.running}\t部署于 {fmt_time(r.deployed_at)}")
    return 0


def _registry_arg(p) -> None:
    p.add_argument("--registry", default=None, metavar="PATH",
                   help="按此登记表检查办理部门、角色和地区（默认：项目的 processes/registry.json）")


def add_definitions_parsers(sub) -> None:
    p = sub.add_parser("validate", help="校验 BPMN/DMN 文件（不部署）：部署检查、设计规范和部门登记表")
    p.add_argument("paths", nargs="+")
    _registry_arg(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("deploy", help="部署文件或目录（检查同 validate 和网页上传；全部有效才写入）")
    p.add_argument("paths", nargs="+")
    _registry_arg(p)
    actor_args(p)
    p.set_defaults(func=cmd_deploy)

    sub.add_parser("definitions", help="已部署的流程及其版本").set_defaults(func=cmd_definitions)
