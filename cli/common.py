"""What the sub-commands share: the system they act on, who they act as, and how they read JSON
arguments and print times and problems.

cli/main.py reads the settings once (the environment, then --db) and leaves them on the parsed
arguments as `args.settings`; a command that needs the database opens the System from them."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.errors import DefinitionError, EngineError

OPERATOR = Actor(id="cli", name="命令行操作员", is_admin=True)


def open_system(args):
    """The System (engine/composition.py) on the database the settings name."""
    from yijianshi.engine.composition import System

    return System.build(args.settings)


def actor(args) -> Actor:
    if not getattr(args, "as_user", None):
        return OPERATOR
    groups = frozenset(g.strip() for g in (args.groups or "").split(",") if g.strip())
    return Actor(id=args.as_user, groups=groups)


def actor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as", dest="as_user", metavar="用户", help="以该用户身份操作（默认：命令行操作员，管理员权限）")
    p.add_argument("--groups", help="该用户所属部门/角色，逗号分隔")


def json_arg(text: str | None, file: str | None, what: str) -> dict:
    if file:
        text = Path(file).read_text(encoding="utf-8")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise EngineError(f"{what}不是有效的 JSON：第 {err.lineno} 行第 {err.colno} 列：{err.msg}") from err
    if not isinstance(value, dict):
        raise EngineError(f"{what}必须是 JSON 对象，例如 {{\"name\": \"张三\"}}。")
    return value


def print_problems(err: DefinitionError) -> None:
    for p in err.problems:
        print(str(p), file=sys.stderr)


def fmt_time(value) -> str:
    from yijianshi.engine.clock import SHANGHAI

    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else "-"


def row_dict(row) -> dict[str, Any]:
    return dict(row._mapping)


def print_rows_json(rows) -> None:
    print(json.dumps([row_dict(r) for r in rows], ensure_ascii=False, indent=2, default=str))
