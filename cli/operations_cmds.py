"""`yijianshi bulletin`, `backup`, `restore`, `files` and `calendar`: what an operator runs now and then to
keep the service and its working-day calendar in order."""
from __future__ import annotations

from pathlib import Path

from yijianshi.cli.common import actor, actor_args, open_system
from yijianshi.engine.errors import EngineError


def cmd_bulletin_generate(args) -> int:
    """Generate (or regenerate) the weekly bulletin of a week; default: the last complete week."""
    from yijianshi.engine.supervision import weekly_bulletin

    engine = open_system(args).engine
    week = args.week or weekly_bulletin.previous_week(engine.clock.now())
    bulletin = weekly_bulletin.generate(engine, week, by=actor(args).id)
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

    system = open_system(args)
    try:
        report = backup(system.db, Path(args.dest), overwrite=args.force)
    finally:
        system.close()
    for line in report.lines():
        print(line)
    return 0


def cmd_restore(args) -> int:
    """Restores into the database the settings name; no System is built on it (it is being replaced)."""
    from yijianshi.engine.ops.backup import restore

    report = restore(args.settings.database_url, Path(args.src), force=args.force, reexecute=args.reexecute)
    for line in report.lines():
        print(line)
    return 0


def cmd_calendar_load(args) -> int:
    from yijianshi.engine.deadlines.schedule_import import load_calendar

    engine = open_system(args).engine
    report = load_calendar(engine, Path(args.file).read_bytes(), Path(args.file).name, actor(args))
    for line in report.lines():
        print(line)
    return 0


def cmd_calendar_close(args) -> int:
    from datetime import date

    from yijianshi.engine.deadlines.schedule_import import add_closure

    engine = open_system(args).engine
    try:
        day = date.fromisoformat(args.date)
    except ValueError as err:
        raise EngineError(f"日期格式应为 YYYY-MM-DD：{args.date}") from err
    report = add_closure(engine, args.region, day, args.reason, actor(args))
    print(f"已登记 {args.region} 地区 {day} 停止办公：{args.reason}")
    print(f"重新计算期限的案件：{len(report.rearmed)} 个")
    return 0


def cmd_calendar_show(args) -> int:
    from yijianshi.engine.deadlines.schedule_import import describe_year

    engine = open_system(args).engine
    for line in describe_year(engine, args.year):
        print(line)
    return 0


def cmd_files_migrate(args) -> int:
    """Copy the upload folder's materials and exports into the database file store."""
    from yijianshi.engine.cases.materials import material_key
    from yijianshi.storage import material_store
    from yijianshi.storage.file_store import DatabaseFiles, FolderFiles, copy_folder_to

    system = open_system(args)
    settings, db = system.settings, system.db
    folder = FolderFiles(settings.uploads)
    target = DatabaseFiles(db.reader, db.writer, settings.uploads / "tmp")
    copied, skipped = copy_folder_to(folder, target)
    print(f"已从 {settings.uploads} 复制 {copied} 个文件到数据库；{skipped} 个已在数据库中，跳过。")
    with db.reader.connect() as conn:
        hashes = sorted(material_store.all_hashes(conn))
    missing = [h for h in hashes if not target.exists(material_key(h))]
    for h in missing:
        print(f"缺少材料文件：{h}（不在 {settings.uploads}，也不在数据库中）")
    if settings.file_store_kind != "database":
        print("注意：当前设置仍从文件夹读取文件；请设置 YIJIANSHI_FILE_STORE=database（PostgreSQL 时为默认）。")
    return 1 if missing else 0


def add_operations_parsers(sub) -> None:
    bulletin = sub.add_parser("bulletin", help="每周通报").add_subparsers(dest="bulletin_command", required=True)
    p = bulletin.add_parser("generate", help="生成（或重新生成）某周的每周通报，默认上一个完整的周")
    p.add_argument("--week", help="ISO 周次，例如 2026-W47")
    actor_args(p)
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

    files = sub.add_parser("files", help="材料与导出文件的存储").add_subparsers(dest="files_command", required=True)
    p = files.add_parser("migrate-to-database",
                         help="把上传目录（YIJIANSHI_UPLOADS）中的材料与导出文件复制到数据库，供多台主机共用；可重复运行")
    p.set_defaults(func=cmd_files_migrate)

    cal = sub.add_parser("calendar", help="工作日日历（法定节假日安排）").add_subparsers(
        dest="calendar_command", required=True)
    p = cal.add_parser("load", help="导入新发布年度的安排，并重新计算受影响的期限")
    p.add_argument("file")
    actor_args(p)
    p.set_defaults(func=cmd_calendar_load)
    p = cal.add_parser("close", help="登记某地区额外的停止办公日，并重新计算受影响的期限")
    p.add_argument("region", help="地区代码（流程表达式中 region 参数的取值）")
    p.add_argument("date", help="日期 YYYY-MM-DD")
    p.add_argument("reason")
    actor_args(p)
    p.set_defaults(func=cmd_calendar_close)
    p = cal.add_parser("show", help="显示某年的安排")
    p.add_argument("year", type=int)
    p.set_defaults(func=cmd_calendar_show)
