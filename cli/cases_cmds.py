"""`yijianshi start`, `work-items`, `claim`, `unclaim`, `complete`, `cancel` and `deliver`: working
cases from a terminal, as a clerk would in the web app."""
from __future__ import annotations

from yijianshi.cli.common import actor, actor_args, fmt_time, json_arg, open_system, print_rows_json
from yijianshi.engine.errors import EngineError


def _print_ready(result) -> None:
    for item in result.ready:
        print(f"  新待办 {item.id}  {item.name}（{item.task_spec}）")


def cmd_start(args) -> int:
    engine = open_system(args).engine
    data = json_arg(args.data, args.data_file, "--data ")
    result = engine.cases.start_case(args.key, data, actor(args), business_key=args.business_key,
                                     title=args.title)
    print(f"已立案：案件 {result.id}（{result.status}）")
    _print_ready(result)
    return 0


def cmd_work_items(args) -> int:
    from yijianshi.storage import case_store

    engine = open_system(args).engine
    with engine.db.reader.connect() as conn:
        rows = case_store.query_work_items(
            conn, groups=args.group or None, state=None if args.state == "all" else args.state,
            claimed_by=args.claimed_by, unclaimed=args.unclaimed, case_id=args.case, limit=args.limit)
    if args.json:
        print_rows_json(rows)
        return 0
    if not rows:
        print("没有符合条件的待办事项。")
    for r in rows:
        claim = f"认领人 {r.claimed_by}" if r.claimed_by else "未认领"
        print(f"{r.id}  案件 {r.case_id}  {r.name}  [{r.groups}]  {r.state}  {claim}  期限 {fmt_time(r.due_at)}")
    return 0


def cmd_claim(args) -> int:
    engine = open_system(args).engine
    engine.cases.claim(args.work_item, actor(args))
    print(f"已认领 {args.work_item}")
    return 0


def cmd_unclaim(args) -> int:
    engine = open_system(args).engine
    engine.cases.unclaim(args.work_item, actor(args))
    print(f"已退回 {args.work_item}")
    return 0


def cmd_complete(args) -> int:
    engine = open_system(args).engine
    data = json_arg(args.data, args.data_file, "--data ")
    result = engine.cases.complete_work_item(args.work_item, data, actor(args))
    print(f"已办理：案件 {result.id} 现为 {result.status}")
    _print_ready(result)
    return 0


def cmd_cancel(args) -> int:
    engine = open_system(args).engine
    result = engine.cases.cancel_case(args.case, actor(args), args.reason or "", withdrawn=args.withdraw)
    print(f"案件 {result.id} 已{'撤回' if args.withdraw else '撤销'}")
    return 0


def cmd_deliver(args) -> int:
    engine = open_system(args).engine
    correlation = {}
    for pair in args.correlation:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise EngineError(f"关联键格式应为 名称=值：{pair}")
        correlation[key] = value
    payload = json_arg(args.payload, None, "--payload ")
    result = engine.cases.deliver_message(args.message, correlation, payload, actor(args))
    print(f"消息已投递到案件 {result.id}")
    _print_ready(result)
    return 0


def cmd_migrate(args) -> int:
    """Dry run (the default) or migration of the running cases of one version to another."""
    from yijianshi.storage import definition_store

    engine = open_system(args).engine
    with engine.db.reader.connect() as conn:
        source = definition_store.by_key_version(conn, args.key, args.from_version)
        target = (definition_store.by_key_version(conn, args.key, args.to_version) if args.to_version
                  else definition_store.latest(conn, args.key))
    if source is None or target is None:
        raise EngineError(f"流程“{args.key}”没有所说的版本（用 yijianshi definitions 查看已部署的版本）。")
    plans = ([engine.cases.plan_migration(c, target.id) for c in args.case] if args.case
             else engine.cases.plan_migrations(source.id, target.id))
    moved = refused = 0
    for plan in plans:
        if not plan.movable:
            refused += 1
            print(f"案件 {plan.case_id}：不能迁移：" + "；".join(plan.blockers))
            continue
        steps = "、".join(plan.open_steps) or "无"
        if args.apply:
            engine.cases.migrate_case(plan.case_id, target.id, actor(args), args.reason or "")
            moved += 1
            print(f"案件 {plan.case_id}：已从 v{plan.from_version} 迁移到 v{plan.to_version}（在办环节：{steps}）")
        else:
            print(f"案件 {plan.case_id}：可迁移 v{plan.from_version} → v{plan.to_version}（在办环节：{steps}；"
                  f"有改动的元素：{'、'.join(plan.changed) or '无'}）")
    verb = "已迁移" if args.apply else "可迁移"
    print(f"共 {len(plans)} 个办件：{verb} {moved if args.apply else len(plans) - refused} 个，不能迁移 {refused} 个"
          + ("" if args.apply else "（试运行，未做改动；加 --apply 执行）"))
    return 0 if refused == 0 else 1


def add_cases_parsers(sub) -> None:
    p = sub.add_parser("migrate", help="把运行中的办件迁移到流程的新版本（默认试运行）")
    p.add_argument("key", help="流程定义键")
    p.add_argument("--from-version", type=int, required=True, help="办件当前所在的版本")
    p.add_argument("--to-version", type=int, help="目标版本（默认最新版本）")
    p.add_argument("--case", type=int, action="append", help="只迁移这些办件（可重复）")
    p.add_argument("--apply", action="store_true", help="执行迁移（否则只报告会怎样）")
    p.add_argument("--reason", help="迁移原因（记入办件历史）")
    actor_args(p)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("start", help="立案")
    p.add_argument("key", help="流程定义键（BPMN process id）")
    p.add_argument("--data", help="初始数据（JSON 对象）")
    p.add_argument("--data-file", help="从文件读取初始数据")
    p.add_argument("--business-key", help="业务编号（如 12345 工单号），可用于消息关联")
    p.add_argument("--title")
    actor_args(p)
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
        actor_args(p)
        p.set_defaults(func=func)

    p = sub.add_parser("complete", help="办理待办（提交表单数据）")
    p.add_argument("work_item")
    p.add_argument("--data", help="表单数据（JSON 对象）")
    p.add_argument("--data-file")
    actor_args(p)
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser("cancel", help="撤销案件")
    p.add_argument("case", type=int)
    p.add_argument("--reason")
    p.add_argument("--withdraw", action="store_true", help="记录为申请人撤回")
    actor_args(p)
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("deliver", help="按关联键向等待中的案件投递消息")
    p.add_argument("message", help="消息名称")
    p.add_argument("--correlation", action="append", default=[], metavar="名称=值", required=True)
    p.add_argument("--payload", help="消息数据（JSON 对象）")
    actor_args(p)
    p.set_defaults(func=cmd_deliver)
