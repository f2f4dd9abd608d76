"""`yijianshi api-client create|list|revoke`: the systems that may call the integration API.

Wiring (cli/main.py): `add_api_client_parser(sub)`."""
from __future__ import annotations

import argparse

from yijianshi.cli.common import fmt_time, open_system
from yijianshi.engine.access.api_clients import SCOPES


def _service(args):
    return open_system(args).api_clients


def cmd_create(args) -> int:
    client, token = _service(args).create(args.name, args.scope or [], args.process or [])
    print(f"已创建接口客户端“{client.name}”，权限：{' '.join(sorted(client.scopes))}；"
          f"流程：{'、'.join(sorted(client.processes)) or '全部流程'}")
    print("令牌（只显示这一次，请妥善保存；调用时放在请求头 Authorization: Bearer <令牌>）：")
    print(token)
    return 0


def cmd_list(args) -> int:
    clients = _service(args).all()
    if not clients:
        print("还没有接口客户端。用 yijianshi api-client create 创建。")
    for c in clients:
        state = "有效" if c.active else f"已吊销 {fmt_time(c.revoked_at)}"
        print(f"{c.name:<24} {state:<22} 权限：{' '.join(sorted(c.scopes)):<40} "
              f"流程：{'、'.join(sorted(c.processes)) or '全部流程'}  创建于 {fmt_time(c.created_at)}")
    return 0


def cmd_revoke(args) -> int:
    client = _service(args).revoke(args.name)
    print(f"已吊销接口客户端“{client.name}”，其令牌立即失效。")
    return 0


def add_api_client_parser(sub) -> None:
    group = sub.add_parser("api-client", help="集成接口客户端（令牌、权限范围、可用流程）").add_subparsers(
        dest="api_client_command", required=True)
    p = group.add_parser("create", help="创建客户端并显示其令牌（仅显示一次）",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog="权限范围：\n" + "\n".join(f"  {k:<18} {v}" for k, v in SCOPES.items()))
    p.add_argument("name", help="客户端名称（小写字母、数字、_ . -），在历史中记为 api:<名称>")
    p.add_argument("--scope", action="append", choices=sorted(SCOPES), required=True, help="权限范围，可重复")
    p.add_argument("--process", action="append", metavar="流程键", help="可使用的流程，可重复；不给则为全部流程")
    p.set_defaults(func=cmd_create)
    group.add_parser("list", help="列出客户端").set_defaults(func=cmd_list)
    p = group.add_parser("revoke", help="吊销客户端（令牌立即失效）")
    p.add_argument("name")
    p.set_defaults(func=cmd_revoke)
