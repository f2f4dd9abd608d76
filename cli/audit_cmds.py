"""`yijianshi history`, `verify`, `checkpoint` and `keys`: a case's recorded history, checking that it
is intact (its hash chain, and against the signed checkpoints kept outside the database), signing
checkpoints and managing the key that signs them."""
from __future__ import annotations

from pathlib import Path

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
    from yijianshi.engine.audit import anchoring

    system = open_system(args)
    engine = system.engine
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
    anchor = anchoring.verify(_checkpoints(system, args), args.case, frozenset(args.trust_key or ()))
    for line in anchor.lines():
        print(line)
    failures += 0 if anchor.ok else 1
    print(f"核验 {len(reports)} 个案件：{'全部完整' if not failures else f'{failures} 处不一致'}")
    return 1 if failures else 0


def _checkpoints(system, args):
    """The system's checkpoints, or those in the folder --checkpoints names (a write-once copy)."""
    from yijianshi.engine.audit.checkpoints import Checkpoints

    if not getattr(args, "checkpoints", None):
        return system.checkpoints
    return Checkpoints(system.db, system.engine.clock, Path(args.checkpoints).resolve(),
                       system.settings.signing_key_file)


def cmd_checkpoint(args) -> int:
    system = open_system(args)
    checkpoints = _checkpoints(system, args)
    if args.action == "show":
        cp = checkpoints.log.get(args.number) if args.number else checkpoints.log.latest()
        if cp is None:
            print(f"{checkpoints.folder} 中尚无检查点。")
            return 1
        print(cp.printable())
        return 0
    cp = checkpoints.create()
    assert cp is not None
    print(f"已签署检查点 #{cp.number}：覆盖 {cp.tree_size} 条记录，写入 {checkpoints.folder}")
    print(cp.printable())
    return 0


def cmd_keys(args) -> int:
    system = open_system(args)
    ring = _checkpoints(system, args).keys
    now = system.engine.clock.now()
    if args.action == "init":
        kid = ring.init(now, replace_lost=args.replace_lost)
        print(f"已生成签名密钥 {kid}：私钥 {ring.key_file}（权限 0600），公钥 {ring.folder / (kid + '.json')}")
        if args.replace_lost:
            print("新密钥未经原密钥签认：请公布其密钥标识，核验时以 --trust-key 指明。")
    elif args.action == "rotate":
        old, new = ring.rotate(now)
        print(f"签名密钥已轮换：{old[:16]} → {new}（新密钥由原密钥签认；原私钥已被替换，原公钥保留以核验旧检查点）")
    else:
        keys, problems = ring.read()
        current = None
        if ring.key_file.exists():
            from yijianshi.engine.audit.signing_keys import key_id_of

            current = key_id_of(ring.signing_key().public_key())
        for k in sorted(keys.values(), key=lambda k: k.created):
            by = f"由 {k.endorsed_by[:16]} 签认" if k.endorsed_by else "起始密钥"
            mark = "  （当前签名密钥）" if k.key_id == current else ""
            print(f"{k.key_id}  {k.created}  {by}{mark}")
        for p in problems:
            print(p)
        if not keys:
            print(f"{ring.folder} 中没有密钥。")
    return 0


def add_audit_parsers(sub) -> None:
    p = sub.add_parser("history", help="案件历史")
    p.add_argument("case", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("verify", help="核验历史哈希链（可选重新执行）")
    p.add_argument("case", type=int, nargs="?")
    p.add_argument("--reexecute", action="store_true", help="重新执行记录的命令并比对存储状态")
    p.add_argument("--verbose", action="store_true")
    _checkpoint_dir_arg(p)
    p.add_argument("--trust-key", action="append", metavar="密钥标识",
                   help="信任这把未经签认的密钥（丢失私钥后重新生成的；可重复）")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("checkpoint", help="签署历史检查点（show：打印检查点，供公布）")
    p.add_argument("action", nargs="?", choices=["create", "show"], default="create")
    p.add_argument("number", type=int, nargs="?", help="show：检查点编号（默认最新）")
    _checkpoint_dir_arg(p)
    p.set_defaults(func=cmd_checkpoint)

    p = sub.add_parser("keys", help="检查点签名密钥：init 生成、rotate 轮换、list 列出")
    p.add_argument("action", choices=["init", "rotate", "list"])
    p.add_argument("--replace-lost", action="store_true", help="init：原私钥已丢失时生成新的起始密钥")
    _checkpoint_dir_arg(p)
    p.set_defaults(func=cmd_keys)


def _checkpoint_dir_arg(p) -> None:
    p.add_argument("--checkpoints", metavar="目录",
                   help="检查点目录（默认 YIJIANSHI_CHECKPOINT_DIR 或 <home>/checkpoints；可指向一次写入存储上的副本）")
