"""`yijianshi notifications dispatch | list | requeue`: deliver due notifications once (as the
scheduler's job does), list the outbox (e.g. the failed deliveries) and queue a failed one again."""
from __future__ import annotations

from yijianshi.cli.common import open_system
from yijianshi.engine.notifications.messages import KIND_LABELS, STATE_LABELS
from yijianshi.storage import outbox_store


def cmd_dispatch(args) -> int:
    outcome = open_system(args).notifier.run_once(limit=args.limit)
    print(f"已发送 {outcome.sent} 条，待重试 {outcome.retried} 条，失败 {outcome.failed} 条；"
          f"新预警/超期提醒 {outcome.alerts} 条。")
    return 0


def cmd_list(args) -> int:
    system = open_system(args)
    with system.db.reader.connect() as conn:
        rows = outbox_store.listing(conn, args.state, args.limit)
    for r in rows:
        print(f"{r.id}\t{STATE_LABELS.get(r.state, r.state)}\t{r.channel}\t{KIND_LABELS.get(r.kind, r.kind)}\t"
              f"办件 {r.case_id or '-'}\t尝试 {r.attempts} 次\t{r.last_error or ''}")
    print(f"共 {len(rows)} 条。")
    return 0


def cmd_requeue(args) -> int:
    system = open_system(args)
    with system.db.writer.begin() as conn:
        done = outbox_store.requeue(conn, args.id, system.engine.clock.now())
    print(f"通知 {args.id} 已重新排队。" if done else f"通知 {args.id} 不是发送失败的通知，未改动。")
    return 0 if done else 1


def add_notifications_parsers(sub) -> None:
    p = sub.add_parser("notifications", help="消息通知：立即发送到期的通知、查看发件箱、重发失败的通知")
    actions = p.add_subparsers(dest="action", required=True, metavar="操作")
    d = actions.add_parser("dispatch", help="发送一轮到期的通知（调度器每隔几秒自动执行）")
    d.add_argument("--limit", type=int, default=100, help="本轮最多发送的条数（默认 100）")
    d.set_defaults(func=cmd_dispatch)
    listing = actions.add_parser("list", help="列出发件箱中的通知（最新的在前）")
    listing.add_argument("--state", choices=sorted(STATE_LABELS), help="只列出此状态的通知，如 failed")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=cmd_list)
    r = actions.add_parser("requeue", help="把发送失败的通知重新排队")
    r.add_argument("id", type=int)
    r.set_defaults(func=cmd_requeue)
