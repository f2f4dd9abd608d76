"""`yijianshi history` and `verify`: a case's recorded history, and checking that it is intact."""
from __future__ import annotations

from yijianshi.cli.common import fmt_time, open_system, print_rows_json


def cmd_history(args) -> int:
    engine = open_system(args).engine
    rows = engine.history(args.case)
    if args.json:
        print_rows_json(rows)
        return 0
    for r in rows:
        what = f" {r.task_spec}" if r.task_spec else ""
        print(f"{r.seq:>4}  {fmt_time(r.at)}  {r.actor:<12} {r.type}{what}  {r.data}")
    return 0


def cmd_verify(args) -> int:
    engine = open_system(args).engine
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


def add_audit_parsers(sub) -> None:
    p = sub.add_parser("history", help="案件历史")
    p.add_argument("case", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("verify", help="核验历史哈希链（可选重新执行）")
    p.add_argument("case", type=int, nargs="?")
    p.add_argument("--reexecute", action="store_true", help="重新执行记录的命令并比对存储状态")
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=cmd_verify)
