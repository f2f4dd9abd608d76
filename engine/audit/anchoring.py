"""Verifying the database's history against the signed checkpoints (engine/audit/checkpoints.py).

First the checkpoints themselves: signatures by trusted keys, each one chained to the one before,
leaves files that give the signed roots. Then the tree of the database's events up to the latest
checkpoint is recomputed and its root compared with the signed one, while the database's events and
the checkpoints' leaves are merged by event id, which names every event that diverges: deleted (in a
checkpoint, gone from the database), inserted (in the covered id range but in no checkpoint) or
changed (any column, including a chain re-hashed after an edit upstream). Events after the latest
checkpoint are counted as not yet covered, not as errors — except those whose recorded time lies
well before that checkpoint, which it would have covered had they existed: they were added later."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from yijianshi.engine.audit import merkle
from yijianshi.engine.audit.checkpoints import Checkpoint, Checkpoints, StoredLeaf, leaf_and_content, leaf_of
from yijianshi.engine.clock import SHANGHAI
from yijianshi.storage import checkpoint_store

# An event may be recorded a moment before a checkpoint and committed just after it (its command was
# running, or waiting for the checkpoint's lock); one recorded this much earlier was not.
LATE_GRACE = timedelta(minutes=10)
# Divergent events listed one by one; the rest are counted (and their cases named).
LISTED = 50

DELETED, INSERTED, CHANGED, LATE = "deleted", "inserted", "changed", "late"


@dataclass(frozen=True)
class Divergence:
    kind: str
    event_id: int
    case_id: int  # as the checkpoint recorded it (as the database has it for inserted/late events)
    seq: int
    now_case_id: int | None = None  # a changed event as the database has it now
    now_seq: int | None = None
    at: str = ""
    edited: bool = True  # changed: what the event says changed (not only its number or chain hashes)

    def __str__(self) -> str:
        where = f"案件 {self.case_id} 第 {self.seq} 条记录（记录编号 {self.event_id}）"
        if self.kind == DELETED:
            return f"{where}已被删除"
        if self.kind == INSERTED:
            return f"{where}不在检查点中：是在检查点之后插入的"
        if self.kind == LATE:
            return f"{where}记录时间为 {self.at}，早于最新检查点却未被其覆盖：是事后补入的"
        moved = []
        if self.now_case_id is not None and self.now_case_id != self.case_id:
            moved.append(f"现属案件 {self.now_case_id}")
        if self.now_seq is not None and self.now_seq != self.seq:
            moved.append(f"现为第 {self.now_seq} 条")
        if self.edited:
            moved.insert(0, "内容被改动")
        elif moved:
            moved.append("内容未变：前面的记录被删除或插入后重新编号")
        else:
            moved.append("内容未变，链哈希被重算：前面的记录被改动")
        return f"{where}与检查点不符（{'，'.join(moved)}）"


@dataclass
class AnchorReport:
    folder: Path
    case_id: int | None  # None: the whole history
    checkpoint_files: int = 0
    latest: Checkpoint | None = None
    file_problems: list[str] = field(default_factory=list)
    divergences: list[Divergence] = field(default_factory=list)  # the first LISTED
    divergent: int = 0  # how many in all
    cases: set[int] = field(default_factory=set)  # cases with a divergent event
    root_matches: bool | None = None  # None: not compared (one case only, or no checkpoint)
    compared: int = 0  # covered events found in the database
    uncovered: int = 0
    late: list[Divergence] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.file_problems and not self.divergent and not self.late and self.root_matches is not False

    @property
    def first(self) -> Divergence | None:
        return self.divergences[0] if self.divergences else None

    def add(self, d: Divergence) -> None:
        self.divergent += 1
        self.cases.add(d.case_id)
        if d.now_case_id is not None:
            self.cases.add(d.now_case_id)
        if len(self.divergences) < LISTED:
            self.divergences.append(d)

    def lines(self) -> list[str]:
        out = []
        scope = f"案件 {self.case_id}" if self.case_id is not None else "全部历史"
        if self.latest is None and not self.file_problems:
            return [f"检查点核验（{scope}）：{self.folder} 中尚无检查点（运行 yijianshi checkpoint 创建）"]
        out += [f"检查点文件有误：{p}" for p in self.file_problems]
        cp = self.latest
        if cp is not None:
            local = cp.time.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
            out.append(f"检查点核验（{scope}）：依据 {self.folder} 中检查点 #{cp.number}（{local}，"
                       f"共 {cp.tree_size} 条记录，树根 {cp.root_hash[:16]}…，密钥 {cp.key_id[:16]}）")
            if self.root_matches is False:
                out.append(f"按数据库重新计算的前 {cp.tree_size} 条记录的树根与检查点 #{cp.number} 签名的树根不符")
            out += [f"  {d}" for d in self.divergences]
            if self.divergent > len(self.divergences):
                out.append(f"  ……另有 {self.divergent - len(self.divergences)} 条记录不符")
            if self.divergent:
                cases = sorted(self.cases)
                shown = "、".join(str(c) for c in cases[:30]) + ("等" if len(cases) > 30 else "")
                first = self.divergences[0]
                out.append(f"与检查点不一致：{self.divergent} 条记录；首个不一致为案件 {first.case_id} "
                           f"第 {first.seq} 条记录；涉及 {len(cases)} 个案件：{shown}")
            out += [f"  {d}" for d in self.late]
            if self.ok:
                out.append(f"与检查点一致：检查点覆盖的 {self.compared} 条记录均未被改动")
            if self.uncovered:
                out.append(f"检查点之后新增 {self.uncovered} 条记录，尚未被检查点覆盖")
        return out


def verify(checkpoints: Checkpoints, case_id: int | None = None,
           trust: frozenset[str] = frozenset()) -> AnchorReport:
    """Compare the history in the database (of one case, or all) with the checkpoints."""
    report = AnchorReport(checkpoints.folder, case_id)
    keys, key_problems = checkpoints.keys.read()
    audit = checkpoints.log.audit(keys, trust)
    report.checkpoint_files = audit.files
    report.file_problems = audit.problems + (key_problems if audit.problems else [])
    cp = report.latest = audit.latest
    if cp is None:
        return report
    db = checkpoints.db
    stored = checkpoints.log.stored_leaves(audit.good, case_id)
    with db.reader.connect() as conn:
        rows = checkpoint_store.events_in_id_order(conn, 0, cp.last_event_id, case_id)
        tree = merkle.Frontier() if case_id is None else None
        _merge(report, stored, rows, tree)
        if tree is not None:
            report.root_matches = tree.size == cp.tree_size and tree.root().hex() == cp.root_hash
        report.uncovered = checkpoint_store.count_after(conn, cp.last_event_id, case_id)
        for row in checkpoint_store.recorded_before(conn, cp.last_event_id, cp.time - LATE_GRACE, case_id):
            at = row.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
            report.late.append(Divergence(LATE, row.id, row.case_id, row.seq, at=at))
            report.cases.add(row.case_id)
    return report


def _merge(report: AnchorReport, stored: Iterator[StoredLeaf], rows: Iterator, tree: merkle.Frontier | None) -> None:
    """Walk the checkpoints' leaves and the database's rows together, both in event id order."""
    s = next(stored, None)
    r = next(rows, None)
    while s is not None or r is not None:
        if r is not None and (s is None or r.id < s.event_id):
            report.add(Divergence(INSERTED, r.id, r.case_id, r.seq))
            if tree is not None:
                tree.append(leaf_of(r))
            r = next(rows, None)
        elif r is None or (s is not None and s.event_id < r.id):
            assert s is not None
            report.add(Divergence(DELETED, s.event_id, s.case_id, s.seq))
            s = next(stored, None)
        else:
            assert s is not None
            leaf, content = leaf_and_content(r)
            if tree is not None:
                tree.append(leaf)
            report.compared += 1
            if leaf.hex() != s.leaf:
                report.add(Divergence(CHANGED, s.event_id, s.case_id, s.seq, r.case_id, r.seq,
                                      edited=content != s.content))
            s, r = next(stored, None), next(rows, None)

