"""`yijianshi connectors run-once`: one round of the data-sharing connectors (as the scheduler's job
does): registry checks waiting as external tasks are looked up and completed, or retried."""
from __future__ import annotations

from yijianshi.cli.common import open_system


def cmd_run_once(args) -> int:
    system = open_system(args)
    if system.connectors is None:
        print("未配置数据共享接口（YIJIANSHI_REGISTRY_URL），连接器未运行；共享核验任务保持等待。")
        return 1
    outcome = system.connectors.run_once()
    print(f"已完成 {outcome.completed} 项共享核验，失败待重试 {outcome.failed - outcome.incidents} 项，"
          f"重试用尽转为故障 {outcome.incidents} 项。")
    return 0


def add_connectors_parsers(sub) -> None:
    p = sub.add_parser("connectors", help="数据共享连接器：立即运行一轮共享核验（调度器每隔几秒自动执行）")
    actions = p.add_subparsers(dest="action", required=True, metavar="操作")
    r = actions.add_parser("run-once", help="领取并办理一轮等待中的共享核验任务")
    r.set_defaults(func=cmd_run_once)
