"""`yijianshi db upgrade`, `serve` and `scheduler`: preparing the database and running the service."""
from __future__ import annotations

from pathlib import Path

from yijianshi.cli.common import open_system

PROCESSES = Path(__file__).resolve().parents[1] / "processes"


def cmd_db_upgrade(args) -> int:
    system = open_system(args)
    system.db.upgrade()
    print(f"数据库已升级到最新结构：{system.db.url.render_as_string(hide_password=True)}")
    added = system.engine.calendar.seed_bundled()
    if added:
        print(f"已导入随附的法定节假日安排：{', '.join(map(str, added))} 年")
    return 0


def cmd_serve(args) -> int:
    """The main job: upgrade the schema, deploy the shipped processes, serve the web app."""
    from werkzeug.serving import run_simple

    from yijianshi.engine.access.accounts import seeded_lines
    from yijianshi.engine.access.org_seed import seed_organisation
    from yijianshi.web.app import create_app

    system = open_system(args)
    system.db.upgrade()
    processes = Path(args.processes)
    if processes.exists():
        for result in system.engine.deploy([processes]):
            print(f"流程 {result}")
    app = create_app(system)
    print("演示账号（用户名 / 密码 / 角色 / 部门 / 名称）：")
    for line in seeded_lines(system.accounts.seed_demo()):
        print(line)
    seed_organisation(system.db)
    system.engine.calendar.seed_bundled()
    scheduler = None
    if not args.no_scheduler:
        scheduler = system.scheduler()
        scheduler.start()
        role = "主（负责触发期限）" if scheduler.is_leader else "备用（另有调度器在运行）"
        print(f"期限调度器已在本进程内启动：{role}")
    print(f"数据库：{system.db.url.render_as_string(hide_password=True)}")
    print(f"请在浏览器中打开 http://{args.host}:{args.port}/")
    try:
        run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    finally:
        if scheduler is not None:
            scheduler.stop()
    return 0


def cmd_scheduler(args) -> int:
    """Run the deadline scheduler until stopped (SIGTERM/SIGINT); one of several becomes active."""
    import signal
    import threading

    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr=args.metrics_host)
    system = open_system(args)
    system.db.upgrade()
    scheduler = system.scheduler(lease_ttl_s=args.lease_ttl, tick_s=args.tick)
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


def add_service_parsers(sub) -> None:
    db = sub.add_parser("db", help="数据库结构").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="创建或升级数据库结构（Alembic）").set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("serve", help="主程序：升级数据库、部署随附流程并启动网页服务")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--processes", default=str(PROCESSES), help="启动时部署的流程目录（默认：项目的 processes/）")
    p.add_argument("--no-scheduler", action="store_true",
                   help="不在本进程内运行期限调度器（另行运行 yijianshi scheduler 时使用）")
    p.set_defaults(func=cmd_serve)


def add_scheduler_parser(sub) -> None:
    p = sub.add_parser("scheduler", help="运行期限调度器（可启动多个：一个为主，其余备用）")
    p.add_argument("--lease-ttl", type=float, default=5.0, help="主调度器失联多少秒后由备用接管")
    p.add_argument("--tick", type=float, default=0.2, help="检查到期期限的间隔（秒）")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="在此端口提供 Prometheus 指标（期限延迟、主调度器）；默认不提供")
    p.add_argument("--metrics-host", default="127.0.0.1")
    p.set_defaults(func=cmd_scheduler)
