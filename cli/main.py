"""The `yijianshi` command: schema, deployment and case operations from a terminal.

A thin entry point: each sub-command turns its arguments into one engine call and prints the result.
Errors are printed as sentences (file:line: message for definitions), never as tracebacks.

This is the edge of the command line: the environment is read here, once, into the settings
(engine/settings.py); --db replaces their database URL. The sub-commands live by concept in
service_cmds (db, serve, scheduler), definitions_cmds, cases_cmds, operations_cmds (bulletin, backup,
restore, calendar), org_cmds (organisation import and export), notifications_cmds, connectors_cmds, audit_cmds
(history, verify, checkpoint, keys), scenarios, api_clients and stack."""
from __future__ import annotations

import argparse
import os
import sys

from yijianshi.cli.common import print_problems
from yijianshi.engine.errors import DefinitionError, EngineError, FormErrors
from yijianshi.engine.settings import Settings


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    from yijianshi.cli.api_clients import add_api_client_parser
    from yijianshi.cli.audit_cmds import add_audit_parsers
    from yijianshi.cli.cases_cmds import add_cases_parsers
    from yijianshi.cli.connectors_cmds import add_connectors_parsers
    from yijianshi.cli.definitions_cmds import add_definitions_parsers
    from yijianshi.cli.notifications_cmds import add_notifications_parsers
    from yijianshi.cli.operations_cmds import add_operations_parsers
    from yijianshi.cli.org_cmds import add_org_parser
    from yijianshi.cli.scenarios import add_scenarios_parser
    from yijianshi.cli.service_cmds import add_scheduler_parser, add_service_parsers
    from yijianshi.cli.stack import add_stack_parser

    ap = argparse.ArgumentParser(prog="yijianshi", description="一件事流程编排：部署、办件与核验。")
    ap.add_argument("--db", default=None,
                    help=f"数据库 URL（默认 {settings.database_url}，或环境变量 YIJIANSHI_DATABASE_URL）")
    ap.add_argument("--debug", action="store_true", help="出错时显示完整的 Python 调用栈")
    sub = ap.add_subparsers(dest="command", required=True, metavar="命令")
    # In this order in `yijianshi --help`.
    add_scenarios_parser(sub)
    add_api_client_parser(sub)
    add_stack_parser(sub)
    add_service_parsers(sub)
    add_definitions_parsers(sub)
    add_cases_parsers(sub)
    add_scheduler_parser(sub)
    add_operations_parsers(sub)
    add_org_parser(sub)
    add_notifications_parsers(sub)
    add_connectors_parsers(sub)
    add_audit_parsers(sub)
    return ap


# Commands that run for long and whose log lines an operator follows; the others log warnings only.
_LONG_RUNNING = {"serve", "scheduler"}


def main(argv: list[str] | None = None) -> int:
    from yijianshi.engine.ops.structured_logs import configure_from

    settings = Settings.from_environ(os.environ)
    args = build_parser(settings).parse_args(argv)
    args.settings = settings.replace(database_url=args.db) if args.db else settings
    configure_from(settings, "INFO" if args.command in _LONG_RUNNING else "WARNING")
    try:
        return args.func(args)
    except DefinitionError as err:
        print_problems(err)
        return 1
    except FormErrors as err:
        for field, message in err.errors.items():
            print(f"{field}: {message}", file=sys.stderr)
        return 1
    except EngineError as err:
        print(f"错误：{err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Output piped into `head` and cut short: the command itself has done its work.
        sys.stdout = open(os.devnull, "w")
        return 0
    except Exception as err:  # an operator gets a sentence; --debug shows the stack
        if args.debug:
            raise
        if _missing_schema(err):
            print("错误：数据库尚未建立或结构不是最新。请先运行 yijianshi db upgrade"
                  "（yijianshi serve 启动时会自动升级）。", file=sys.stderr)
            return 1
        print(f"内部错误：{type(err).__name__}: {err}（加 --debug 查看详情）", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())


def _missing_schema(err: Exception) -> bool:
    """A table the command needs is not there: the database was never created or is behind."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    text = str(getattr(err, "orig", err))
    return isinstance(err, (OperationalError, ProgrammingError)) and (
        "no such table" in text or ("relation" in text and "does not exist" in text))
