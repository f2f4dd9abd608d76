"""The `yijianshi` command: schema, deployment and case operations from a terminal.

A thin entry point: each sub-command turns its arguments into one engine call and prints the result.
Errors are printed as sentences (file:line: message for definitions), never as tracebacks."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.errors import DefinitionError, EngineError, FormErrors

OPERATOR = Actor(id="cli", name="命令行操作员", is_admin=True)


def _engine(args):
    from yijianshi.engine.runtime import Engine
    from yijianshi.storage.database import Database

    db = Database(args.db)
    return Engine(db)


def _actor(args) -> Actor:
    if not getattr(args, "as_user", None):
        return OPERATOR
    groups = frozenset(g.strip() for g in (args.groups or "").split(",") if g.strip())
    return Actor(id=args.as_user, groups=groups)


def _json_arg(text: str | None, file: str | None, what: str) -> dict:
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


def _print_problems(err: DefinitionError) -> None:
    for p in err.problems:
        print(str(p), file=sys.stderr)


def _fmt_time(value) -> str:
    from yijianshi.engine.clock import SHANGHAI

    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else "-"


# -- sub-commands --------------------------------------------------------------------------------

def cmd_db_upgrade(args) -> int:
    from yijianshi.engine.runtime import Engine
    from yijianshi.storage.database import Database

    db = Database(args.db)
    db.upgrade()
    print(f"数据库已升级到最新结构：{db.url.render_as_string(hide_password=True)}")
    added = Engine(db).calendar.seed_bundled()
    if added:
        print(f"已导入随附的法定节假日安排：{', '.join(map(str, added))} 年")
    return 0


def cmd_serve(args) -> int:
    """The main job: upgrade the schema, deploy the shipped processes, serve the web app."""
    from werkzeug.serving import run_simple

    from yijianshi.engine.runtime import Engine
    from yijianshi.storage.database import Database
    from yijianshi.web.app import create_app

    db = Database(args.db)
    db.upgrade()
    engine = Engine(db)
    processes = Path(args.processes)
    if processes.exists():
        for result in engine.deploy([processes]):
            print(f"流程 {result}")
    app = create_app(engine=engine)
    from yijianshi.engine.access.accounts import seeded_lines

    print("演示账号（用户名 / 密码 / 角色 / 部门 / 名称）：")
    for line in seeded_lines(app.extensions["yijianshi.services"].accounts.seed_demo()):
        print(line)
    engine.calendar.seed_bundled()
    scheduler = None
    if not args.no_scheduler:
        from yijianshi.engine.deadlines.scheduler import DeadlineScheduler

        scheduler = DeadlineScheduler(engine)
        scheduler.start()
        role = "主（负责触发期限）" if scheduler.is_leader else "备用（另有调度器在运行）"
        print(f"期限调度器已在本进程内启动：{role}")
    print(f"数据库：{db.url.render_as_string(hide_password=True)}")
    print(f"请在浏览器中打开 http://{args.host}:{args.port}/")
    try:
        run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    finally:
        if scheduler is not None:
            scheduler.stop()
    return 0


def cmd_validate(args) -> int:
    from yijianshi.engine.modeling.definitions import parse_deployment, read_sources

    try:
        parsed = parse_deployment(read_sources(args.paths))
    except DefinitionError as err:
        _print_problems(err)
        print(f"发现 {len(err.problems)} 个问题。", file=sys.stderr)
        return 1
    names = ", ".join(d.key for d in parsed.definitions)
    print(f"全部有效：{len(parsed.sources)} 个文件，可执行流程 {names}")
    return 0


def cmd_deploy(args) -> int:
    engine = _engine(args)
    try:
        results = engine.deploy(args.paths, actor=_actor(args))
    except DefinitionError as err:
        _print_problems(err)
        print(f"部署未执行：发现 {len(err.problems)} 个问题，没有写入任何内容。", file=sys.stderr)
        return 1
    for r in results:
        print(str(r))
    return 0


def cmd_definitions(args) -> int:
    engine = _engine(args)
    rows = engine.definition_summary()
    if not rows:
        print("尚未部署任何流程。")
    for r in rows:
        print(f"{r.key}\tv{r.version}\t{r.name}\t运行中案件 {r.running}\t部署于 {_fmt_time(r.deployed_at)}")
    return 0


def cmd_start(args) -> int:
    engine = _engine(args)
    data = _json_arg(args.data, args.data_file, "--data ")
    result = engine.cases.start_case(args.key, data, _actor(args), business_key=args.business_key,
                                     title=args.title)
    print(f"已立案：案件 {result.id}（{result.status}）")
    _print_ready(result)
    return 0


def _print_ready(result) -> None:
    for item in result.ready:
        print(f"  新待办 {item.id}  {item.name}（{item.task_spec}）")


def cmd_work_items(args) -> int:
    from yijianshi.storage import case_store

    engine = _engine(args)
    with engine.db.reader.connect() as conn:
        rows = case_store.query_work_items(
            conn, groups=args.group or None, state=None if args.state == "all" else args.state,
            claimed_by=args.claimed_by, unclaimed=args.unclaimed, case_id=args.case, limit=args.limit)
    if args.json:
        print(json.dumps([_row_dict(r) for r in rows], ensure_ascii=False, indent=2, default=str))
        return 0
    if not rows:
        print("没有符合条件的待办事项。")
    for r in rows:
        claim = f"认领人 {r.claimed_by}" if r.claimed_by else "未认领"
        print(f"{r.id}  案件 {r.case_id}  {r.name}  [{r.groups}]  {r.state}  {claim}  期限 {_fmt_time(r.due_at)}")
    return 0


def _row_dict(row) -> dict[str, Any]:
    return dict(row._mapping)


def cmd_claim(args) -> int:
    engine = _engine(args)
    engine.cases.claim(args.work_item, _actor(args))
    print(f"已认领 {args.work_item}")
    return 0


def cmd_unclaim(args) -> int:
    engine = _engine(args)
    engine.cases.unclaim(args.work_item, _actor(args))
    print(f"已退回 {args.work_item}")
    return 0


def cmd_complete(args) -> int:
    engine = _engine(args)
    data = _json_arg(args.data, args.data_file, "--data ")
    result = engine.cases.complete_work_item(args.work_item, data, _actor(args))
    print(f"已办理：案件 {result.id} 现为 {result.status}")
    _print_ready(result)
    return 0


def cmd_cancel(args) -> int:
    engine = _engine(args)
    result = engine.cases.cancel_case(args.case, _actor(args), args.reason or "", withdrawn=args.withdraw)
    print(f"案件 {result.id} 已{'撤回' if args.withdraw else '撤销'}")
    return 0


def cmd_deliver(args) -> int:
    engine = _engine(args)
    correlation = {}
    for pair in args.correlation:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise EngineError(f"关联键格式应为 名称=值：{pair}")
        correlation[key] = value
    payload = _json_arg(args.payload, None, "--payload ")
    result = engine.cases.deliver_message(args.message, correlation, payload, _actor(args))
    print(f"消息已投递到案件 {result.id}")
    _print_ready(result)
    return 0


def cmd_scheduler(args) -> int:
    """Run the deadline scheduler until stopped (SIGTERM/SIGINT); one of several becomes active."""
    import signal
    import threading

    from yijianshi.engine.deadlines.scheduler import DeadlineScheduler

    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr=args.metrics_host)
    engine = _engine(args)
    engine.db.upgrade()
    scheduler = DeadlineScheduler(engine, lease_ttl_s=args.lease_ttl, tick_s=args.tick)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler.start()
    print(f"期限调度器已启动：{scheduler.holder}（{'主' if scheduler.is_leader else '备'}）", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        scheduler.stop()
    print(f"期限调度器已停止，共触发 {scheduler.fired} 个期限。")
    return 0


def cmd_bulletin_generate(args) -> int:
    """Generate (or regenerate) the weekly bulletin of a week; default: the last complete week."""
    from yijianshi.engine.supervision import weekly_bulletin

    engine = _engine(args)
    week = args.week or weekly_bulletin.previous_week(engine.clock.now())
    bulletin = weekly_bulletin.generate(engine, week, by=_actor(args).id)
    print(format_bulletin(bulletin.figures))
    return 0


def format_bulletin(f: dict) -> str:
    rate = f["on_time"]["rate"]
    rate_text = "—" if rate is None else f"{rate:g}%"
    lines = [
        f"已生成 {f['week']} 每周通报（{f['start']} 至 {f['end']}{'' if f['complete'] else '，本周尚未结束'}）",
        (f"新立案 {f['new_cases']} 件，办结 {f['completed_cases']} 件；按时办结率 {rate_text}"
         f"（按时 {f['on_time']['on_time']}，逾期办结 {f['on_time']['late']}，超期未办 {f['on_time']['timed_out']}）"),
        f"周末在办：预警 {f['warning']} 件，超期 {f['overdue']} 件",
    ]
    if f["escalations"]:
        lines.append("诉求到达各级：" + "，".join(f"第{e['level']}级 {e['cases']} 件" for e in f["escalations"]))
    return "\n".join(lines)
def cmd_backup(args) -> int:
    from yijianshi.engine.ops.backup import backup
    from yijianshi.storage.database import Database

    db = Database(args.db)
    try:
        report = backup(db, Path(args.dest), overwrite=args.force)
    finally:
        db.dispose()
    for line in report.lines():
        print(line)
    return 0


def cmd_restore(args) -> int:
    from yijianshi.engine.ops.backup import restore
    from yijianshi.storage.database import default_url

    url = args.db or default_url()
    report = restore(url, Path(args.src), force=args.force, reexecute=args.reexecute)
    for line in report.lines():
        print(line)
    return 0


def cmd_calendar_load(args) -> int:
    from yijianshi.engine.deadlines.schedule_import import load_calendar

    engine = _engine(args)
    report = load_calendar(engine, Path(args.file).read_bytes(), Path(args.file).name, _actor(args))
    for line in report.lines():
        print(line)
    return 0


def cmd_calendar_close(args) -> int:
    from datetime import date

    from yijianshi.engine.deadlines.schedule_import import add_closure

    engine = _engine(args)
    try:
        day = date.fromisoformat(args.date)
    except ValueError as err:
        raise EngineError(f"日期格式应为 YYYY-MM-DD：{args.date}") from err
    report = add_closure(engine, args.region, day, args.reason, _actor(args))
    print(f"已登记 {args.region} 地区 {day} 停止办公：{args.reason}")
    print(f"重新计算期限的案件：{len(report.rearmed)} 个")
    return 0


def cmd_calendar_show(args) -> int:
    from yijianshi.engine.deadlines.schedule_import import describe_year

    engine = _engine(args)
    for line in describe_year(engine, args.year):
        print(line)
    return 0


def cmd_history(args) -> int:
    engine = _engine(args)
    rows = engine.history(args.case)
    if args.json:
        print(json.dumps([_row_dict(r) for r in rows], ensure_ascii=False, indent=2, default=str))
        return 0
    for r in rows:
        what = f" {r.task_spec}" if r.task_spec else ""
        print(f"{r.seq:>4}  {_fmt_time(r.at)}  {r.actor:<12} {r.type}{what}  {r.data}")
    return 0


def cmd_verify(args) -> int:
    engine = _engine(args)
    reports = engine.verify(args.case)
    bad = [r for r in reports if not r.ok]
    for r in (reports if args.case is not None or args.verbose else bad):
        print(str(r))
    failures = len(bad)
    if args.reexecute:
        ids = [args.case] if args.case is not None else [r.case_id for r in reports]
        for cid in ids:
            rep = engine.reexecute(cid)
            if not rep.ok or args.case is not None or args.verbose:
                print(str(rep))
            failures += 0 if rep.ok else 1
    print(f"核验 {len(reports)} 个案件：{'全部完整' if not failures else f'{failures} 处不一致'}")
    return 1 if failures else 0


# -- argument parsing ----------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from yijianshi.storage.database import default_url

    ap = argparse.ArgumentParser(prog="yijianshi", description="一件事流程编排：部署、办件与核验。")
    ap.add_argument("--db", default=None, help=f"数据库 URL（默认 {default_url()}，或环境变量 YIJIANSHI_DATABASE_URL）")
    ap.add_argument("--debug", action="store_true", help="出错时显示完整的 Python 调用栈")
    sub = ap.add_subparsers(dest="command", required=True, metavar="命令")
    from yijianshi.cli.api_clients import add_api_client_parser
    from yijianshi.cli.scenarios import add_scenarios_parser, validate_with_lint

    add_scenarios_parser(sub)
    add_api_client_parser(sub)
    from yijianshi.cli.stack import add_stack_parser

    add_stack_parser(sub)

    db = sub.add_parser("db", help="数据库结构").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="创建或升级数据库结构（Alembic）").set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("serve", help="主程序：升级数据库、部署随附流程并启动网页服务")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--processes", default=str(Path(__file__).resolve().parents[1] / "processes"),
                   help="启动时部署的流程目录（默认：项目的 processes/）")
    p.add_argument("--no-scheduler", action="store_true",
                   help="不在本进程内运行期限调度器（另行运行 yijianshi scheduler 时使用）")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("validate", help="校验 BPMN/DMN 文件（不部署），并检查设计规范")
    p.add_argument("paths", nargs="+")
    p.set_defaults(func=validate_with_lint)

    p = sub.add_parser("deploy", help="部署文件或目录（全部有效才写入）")
    p.add_argument("paths", nargs="+")
    _actor_args(p)
    p.set_defaults(func=cmd_deploy)

    sub.add_parser("definitions", help="已部署的流程及其版本").set_defaults(func=cmd_definitions)

    p = sub.add_parser("start", help="立案")
    p.add_argument("key", help="流程定义键（BPMN process id）")
    p.add_argument("--data", help="初始数据（JSON 对象）")
    p.add_argument("--data-file", help="从文件读取初始数据")
    p.add_argument("--business-key", help="业务编号（如 12345 工单号），可用于消息关联")
    p.add_argument("--title")
    _actor_args(p)
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("work-items", help="待办事项")
    p.add_argument("--group", action="append", help="部门或角色代码，可重复")
    p.add_argument("--state", default="ready", choices=["ready", "completed", "cancelled", "all"])
    p.add_argument("--claimed-by")
    p.add_argument("--unclaimed", action="store_true")
    p.add_argument("--case", type=int)
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_work_items)

    for name, func, text in (("claim", cmd_claim, "认领待办"), ("unclaim", cmd_unclaim, "退回认领")):
        p = sub.add_parser(name, help=text)
        p.add_argument("work_item")
        _actor_args(p)
        p.set_defaults(func=func)

    p = sub.add_parser("complete", help="办理待办（提交表单数据）")
    p.add_argument("work_item")
    p.add_argument("--data", help="表单数据（JSON 对象）")
    p.add_argument("--data-file")
    _actor_args(p)
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser("cancel", help="撤销案件")
    p.add_argument("case", type=int)
    p.add_argument("--reason")
    p.add_argument("--withdraw", action="store_true", help="记录为申请人撤回")
    _actor_args(p)
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("deliver", help="按关联键向等待中的案件投递消息")
    p.add_argument("message", help="消息名称")
    p.add_argument("--correlation", action="append", default=[], metavar="名称=值", required=True)
    p.add_argument("--payload", help="消息数据（JSON 对象）")
    _actor_args(p)
    p.set_defaults(func=cmd_deliver)

    p = sub.add_parser("scheduler", help="运行期限调度器（可启动多个：一个为主，其余备用）")
    p.add_argument("--lease-ttl", type=float, default=5.0, help="主调度器失联多少秒后由备用接管")
    p.add_argument("--tick", type=float, default=0.2, help="检查到期期限的间隔（秒）")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="在此端口提供 Prometheus 指标（期限延迟、主调度器）；默认不提供")
    p.add_argument("--metrics-host", default="127.0.0.1")
    p.set_defaults(func=cmd_scheduler)

    bulletin = sub.add_parser("bulletin", help="每周通报").add_subparsers(dest="bulletin_command", required=True)
    p = bulletin.add_parser("generate", help="生成（或重新生成）某周的每周通报，默认上一个完整的周")
    p.add_argument("--week", help="ISO 周次，例如 2026-W47")
    _actor_args(p)
    p.set_defaults(func=cmd_bulletin_generate)

    p = sub.add_parser("backup", help="备份数据库（SQLite：在线备份，服务运行时也一致；PostgreSQL：pg_dump）")
    p.add_argument("dest", help="备份文件路径；给出目录时在其中生成带时间的文件名")
    p.add_argument("--force", action="store_true", help="覆盖已存在的备份文件")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="从备份恢复数据库（先核验备份；目标正在使用时拒绝）")
    p.add_argument("src", help="yijianshi backup 生成的备份文件")
    p.add_argument("--force", action="store_true", help="目标数据库已存在时用备份替换它")
    p.add_argument("--reexecute", action="store_true", help="恢复前重新执行每个案件并比对存储状态（较慢）")
    p.set_defaults(func=cmd_restore)

    cal = sub.add_parser("calendar", help="工作日日历（法定节假日安排）").add_subparsers(
        dest="calendar_command", required=True)
    p = cal.add_parser("load", help="导入新发布年度的安排，并重新计算受影响的期限")
    p.add_argument("file")
    _actor_args(p)
    p.set_defaults(func=cmd_calendar_load)
    p = cal.add_parser("close", help="登记某地区额外的停止办公日，并重新计算受影响的期限")
    p.add_argument("region", help="地区代码（流程表达式中 region 参数的取值）")
    p.add_argument("date", help="日期 YYYY-MM-DD")
    p.add_argument("reason")
    _actor_args(p)
    p.set_defaults(func=cmd_calendar_close)
    p = cal.add_parser("show", help="显示某年的安排")
    p.add_argument("year", type=int)
    p.set_defaults(func=cmd_calendar_show)

    p = sub.add_parser("history", help="案件历史")
    p.add_argument("case", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("verify", help="核验历史哈希链（可选重新执行）")
    p.add_argument("case", type=int, nargs="?")
    p.add_argument("--reexecute", action="store_true", help="重新执行记录的命令并比对存储状态")
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=cmd_verify)
    return ap


def _actor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as", dest="as_user", metavar="用户", help="以该用户身份操作（默认：命令行操作员，管理员权限）")
    p.add_argument("--groups", help="该用户所属部门/角色，逗号分隔")


# Commands that run for long and whose log lines an operator follows; the others log warnings only.
_LONG_RUNNING = {"serve", "scheduler"}


def main(argv: list[str] | None = None) -> int:
    from yijianshi.engine.ops.structured_logs import configure

    args = build_parser().parse_args(argv)
    configure("INFO" if args.command in _LONG_RUNNING else "WARNING")
    try:
        return args.func(args)
    except DefinitionError as err:
        _print_problems(err)
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
        print(f"内部错误：{type(err).__name__}: {err}（加 --debug 查看详情）", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
