"""Signed checkpoints of the whole history, kept outside the database so that a database
administrator cannot rewrite history unnoticed (the per-case hash chains alone they can recompute).

A checkpoint is an RFC 6962-style signed tree head: the Merkle tree hash (engine/audit/merkle.py)
over every history event in id order, one leaf per event committing to all of its columns (id,
case, seq, type, actor, time, work item, task, data and both chain hashes), so a re-hashed chain
still changes the leaves. Its head — number, tree size, root hash, last event id, time, key id,
the digest of the previous checkpoint, the digest of its leaves file and the tree's frontier — is
signed with Ed25519 (engine/audit/signing_keys.py). Each checkpoint is two files in the checkpoint
folder, written once and never rewritten: NNNNNN.json (the signed head) and NNNNNN.<digest>.leaves (one line
`id case_id seq leaf-hash content-digest` per event it added), so that verification can name exactly which case
and event diverge. A checkpoint only covers events whose place in the id order is final
(storage/checkpoint_store.settled_last_id); building one reads only the events added since the
previous one. engine/audit/anchoring.py compares the database against them."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from yijianshi.engine.audit import merkle
from yijianshi.engine.audit.signing_keys import (KeyRing, PublicKey, b64, key_id_of, link_into_place,
                                                 temporary_beside, trusted_ids, write_new)
from yijianshi.engine.cases.history import canonical_bytes, canonical_json
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.errors import EngineError
from yijianshi.storage import checkpoint_store

_SHARE_FOLDER = ("签署检查点的各主机须共用同一个检查点目录（YIJIANSHI_CHECKPOINT_DIR）和签名密钥；若该目录确已丢失，"
                 "请从一次写入存储中恢复。")

FORMAT = "yijianshi-checkpoint/1"
_NAME = re.compile(r"^(\d{6,})\.json$")


def leaf_bytes(row) -> bytes:
    """What the tree commits to for one history row: every column, in a fixed canonical form."""
    return canonical_bytes([row.id, row.case_id, row.seq, row.type, row.actor, _utc_iso(row.at), row.work_item_id,
                            row.task_spec, row.data, row.prev_hash, row.hash])


def leaf_of(row) -> bytes:
    return merkle.leaf_hash(leaf_bytes(row))


def content_of(row) -> str:
    """A digest of what an event says, without its place (id, seq) and chain hashes: kept beside its
    leaf so that verification can tell an edited event from one only renumbered or re-hashed after an
    edit before it. Diagnosis only (the leaf is the commitment), so 128 bits suffice."""
    return _content(row.case_id, row.type, row.actor, _utc_iso(row.at), row.work_item_id, row.task_spec, row.data)


def leaf_and_content(row) -> tuple[bytes, str]:
    """leaf_of and content_of of one row at once (the hot loop of checkpoints and verification)."""
    id_, case_id, seq, type_, actor, at, work_item_id, task_spec, data, prev_hash, hash_ = (
        row.id, row.case_id, row.seq, row.type, row.actor, row.at, row.work_item_id, row.task_spec, row.data,
        row.prev_hash, row.hash)
    at_iso = _utc_iso(at)
    leaf = merkle.leaf_hash(canonical_bytes([id_, case_id, seq, type_, actor, at_iso, work_item_id, task_spec, data,
                                             prev_hash, hash_]))
    return leaf, _content(case_id, type_, actor, at_iso, work_item_id, task_spec, data)


def _content(*fields) -> str:
    return hashlib.sha256(canonical_bytes(list(fields))).hexdigest()[:32]


def _utc_iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat()


@dataclass(frozen=True)
class Checkpoint:
    number: int
    tree_size: int
    root_hash: str
    last_event_id: int
    timestamp: str  # ISO 8601, UTC
    key_id: str
    previous: str | None  # digest() of the checkpoint before, None for the first
    leaves_file: str
    leaves_sha256: str
    frontier: tuple[str, ...]
    signature: bytes = field(repr=False)

    def head(self) -> dict:
        return {"format": FORMAT, "number": self.number, "tree_size": self.tree_size, "root_hash": self.root_hash,
                "last_event_id": self.last_event_id, "timestamp": self.timestamp, "key_id": self.key_id,
                "previous": self.previous, "leaves_file": self.leaves_file, "leaves_sha256": self.leaves_sha256,
                "frontier": list(self.frontier)}

    def signed_bytes(self) -> bytes:
        return canonical_json(self.head()).encode("utf-8")

    def digest(self) -> str:
        """What the next checkpoint names as `previous`: the head and its signature."""
        return hashlib.sha256(self.signed_bytes() + self.signature).hexdigest()

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.timestamp)

    def publication_line(self) -> str:
        """One line that states the checkpoint completely, to publish (a gazette, a notice board, a
        partner's archive): anyone holding the public key can check it."""
        return (f"{FORMAT} #{self.number} size={self.tree_size} last_id={self.last_event_id} "
                f"time={self.timestamp} root={self.root_hash} key={self.key_id} "
                f"sig={b64(self.signature)}")

    def printable(self) -> str:
        local = self.time.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        return "\n".join([
            f"一件事办件历史检查点 #{self.number}",
            f"时间：{local}（北京时间）  {self.timestamp}",
            f"记录条数（树大小）：{self.tree_size}（记录编号至 {self.last_event_id}）",
            f"树根哈希：{self.root_hash}",
            f"签名密钥：{self.key_id}",
            f"签名：{b64(self.signature)}",
            f"前一检查点摘要：{self.previous or '（无，首个检查点）'}",
            "公布用单行文本：",
            self.publication_line(),
        ])


class CheckpointFileError(EngineError):
    """A checkpoint file that cannot be read as one; the message names the file."""


@dataclass(frozen=True)
class StoredLeaf:
    event_id: int
    case_id: int
    seq: int
    leaf: str  # hex
    content: str  # content_of the event, hex


@dataclass
class LogAudit:
    """The checkpoints that check out (in order; the comparison uses them) and what is wrong with the
    first one that does not (nothing after it is used)."""

    good: list[Checkpoint]
    problems: list[str]
    files: int

    @property
    def latest(self) -> Checkpoint | None:
        return self.good[-1] if self.good else None


class CheckpointLog:
    """The checkpoint files in one folder (the configured one, or a copy from write-once storage)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def paths(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.folder.iterdir() if (m := _NAME.match(p.name))]
        return [p for _, p in sorted(found)]

    def load(self, path: Path) -> Checkpoint:
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            head = body["head"]
            if head.get("format") != FORMAT:
                raise ValueError(f"格式 {head.get('format')!r} 不是 {FORMAT}")
            return Checkpoint(
                number=int(head["number"]), tree_size=int(head["tree_size"]), root_hash=str(head["root_hash"]),
                last_event_id=int(head["last_event_id"]), timestamp=str(head["timestamp"]),
                key_id=str(head["key_id"]), previous=head["previous"], leaves_file=str(head["leaves_file"]),
                leaves_sha256=str(head["leaves_sha256"]), frontier=tuple(head["frontier"]),
                signature=base64.b64decode(body["signature"], validate=True))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise CheckpointFileError(f"检查点文件 {path.name} 无法读取：{err}") from err

    def latest(self) -> Checkpoint | None:
        paths = self.paths()
        return self.load(paths[-1]) if paths else None

    def get(self, number: int) -> Checkpoint:
        path = self.folder / f"{number:06d}.json"
        if not path.exists():
            raise EngineError(f"检查点 #{number} 不存在（{self.folder}）。")
        return self.load(path)

    def leaves(self, cp: Checkpoint) -> Iterator[StoredLeaf]:
        with open(self.folder / cp.leaves_file, encoding="ascii") as f:
            for line in f:
                event_id, case_id, seq, leaf, content = line.split()
                yield StoredLeaf(int(event_id), int(case_id), int(seq), leaf, content)

    def stored_leaves(self, checkpoints: list[Checkpoint], case_id: int | None = None) -> Iterator[StoredLeaf]:
        """The leaves of these checkpoints (consecutive, from the first) in id order; of one case."""
        for cp in checkpoints:
            for leaf in self.leaves(cp):
                if case_id is None or leaf.case_id == case_id:
                    yield leaf

    def audit(self, keys: dict[str, PublicKey], trust: frozenset[str] = frozenset()) -> LogAudit:
        """Check every checkpoint: consecutive numbers, a signature by a trusted key, the link to the
        one before, its leaves file, and that the leaves so far give its root. Trusted keys: the one
        that signed checkpoint #1, those named in `trust` (id or its first 16 characters), and keys
        endorsed by a trusted key."""
        paths = self.paths()
        audit = LogAudit([], [], len(paths))
        roots = {k for k in keys if k in trust or k[:16] in trust}
        tree = merkle.Frontier()
        prev: Checkpoint | None = None
        for path in paths:
            try:
                cp = self.load(path)
            except CheckpointFileError as err:
                audit.problems.append(str(err))
                break
            problem = self._check(cp, path, prev, keys, roots, tree)
            if problem:
                audit.problems.append(f"检查点 #{cp.number}（{path.name}）：{problem}")
                break
            audit.good.append(cp)
            prev = cp
        return audit

    def _check(self, cp: Checkpoint, path: Path, prev: Checkpoint | None, keys: dict[str, PublicKey],
               roots: set[str], tree: merkle.Frontier) -> str | None:
        expected = prev.number + 1 if prev else 1
        if cp.number != expected or path.name != f"{cp.number:06d}.json":
            return f"编号不连续（应为 #{expected}）：检查点文件缺失或被改名"
        if cp.key_id not in keys:
            return f"签名密钥 {cp.key_id[:16]} 的公钥不在 {self.folder / 'keys'}"
        if prev is None:
            roots.add(cp.key_id)  # the first checkpoint's key is the root of trust (published with it)
        if cp.key_id not in trusted_ids(keys, roots):
            return (f"签名密钥 {cp.key_id[:16]} 没有经此前受信任的密钥签认；若确为丢失密钥后新生成的，"
                    f"核实后用 --trust-key {cp.key_id[:16]} 核验")
        if not keys[cp.key_id].verify(cp.signature, cp.signed_bytes()):
            return "签名无效：检查点文件被改动"
        if cp.previous != (prev.digest() if prev else None):
            return f"未接续前一检查点 #{expected - 1}（前一检查点摘要不符）：检查点被替换或插入"
        if prev and (cp.tree_size < prev.tree_size or cp.last_event_id < prev.last_event_id):
            return "记录条数比前一检查点少"
        leaves_path = self.folder / cp.leaves_file
        if not re.fullmatch(rf"{cp.number:06d}\.[0-9a-f]{{16}}\.leaves", cp.leaves_file) or not leaves_path.exists():
            return f"叶子文件 {cp.leaves_file} 缺失"
        if _sha256_file(leaves_path) != cp.leaves_sha256:
            return f"叶子文件 {cp.leaves_file} 被改动（摘要与签名的检查点不符）"
        last = prev.last_event_id if prev else 0
        try:
            for leaf in self.leaves(cp):
                if not last < leaf.event_id <= cp.last_event_id:
                    return f"叶子文件 {cp.leaves_file} 中记录编号 {leaf.event_id} 的次序不对"
                last = leaf.event_id
                tree.append(bytes.fromhex(leaf.leaf))
        except ValueError as err:
            return f"叶子文件 {cp.leaves_file} 无法读取：{err}"
        if tree.size != cp.tree_size or tree.root().hex() != cp.root_hash \
                or [h.hex() for h in tree.subtrees] != list(cp.frontier):
            return f"叶子文件 {cp.leaves_file} 与检查点的树根不符"
        return None


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Checkpoints:
    """Makes checkpoints of one database into one folder, signed with one key file."""

    def __init__(self, db, clock, folder: Path, key_file: Path):
        self.db = db
        self.clock = clock
        self.log = CheckpointLog(folder)
        self.keys = KeyRing(folder, key_file)
        self._writing = threading.Lock()

    @property
    def folder(self) -> Path:
        return self.log.folder

    def create(self, *, only_if_grown: bool = False) -> Checkpoint | None:
        """Sign a checkpoint of every event whose place is final. The first ever checkpoint creates
        the signing key if there is none yet (and no checkpoint or key is kept). `only_if_grown`: none
        when no event was added since the latest (the scheduler's periodic run)."""
        with self._writing:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._check_same_log(self.log.latest())
            if not self.keys.key_file.exists() and not self.log.paths() and not any(self.keys.folder.glob("*.json")):
                self.keys.init(self.clock.now())
            key = self.keys.signing_key()
            prev = self.log.latest()
            if prev is not None:
                keys, _ = self.keys.read()
                signer = keys.get(prev.key_id)
                if signer is None or not signer.verify(prev.signature, prev.signed_bytes()):
                    raise EngineError(f"最新检查点 #{prev.number} 的签名无法核验，不在其后续写；请先运行 yijianshi verify。")
            with self.db.writer.begin() as conn:
                last_id = checkpoint_store.settled_last_id(conn)
            now = self.clock.now().astimezone(timezone.utc)
            after = prev.last_event_id if prev else 0
            if prev is not None and only_if_grown and last_id <= after:
                return None
            number = prev.number + 1 if prev else 1
            tree = merkle.Frontier(prev.tree_size, [bytes.fromhex(h) for h in prev.frontier]) if prev \
                else merkle.Frontier()
            tmp = temporary_beside(self.folder / f"{number:06d}.leaves")
            try:
                digest, last_seen = self._write_leaves(tmp, tree, after, max(last_id, after))
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            # Named by its content too: a file left by a run that died before its head was written
            # never stands in the way (the folder may be write-once).
            leaves_name = f"{number:06d}.{digest.hexdigest()[:16]}.leaves"
            unsigned = Checkpoint(number=number, tree_size=tree.size, root_hash=tree.root().hex(),
                                  last_event_id=last_seen, timestamp=now.isoformat(),
                                  key_id=key_id_of(key.public_key()), previous=prev.digest() if prev else None,
                                  leaves_file=leaves_name, leaves_sha256=digest.hexdigest(),
                                  frontier=tuple(h.hex() for h in tree.subtrees), signature=b"")
            cp = dataclasses.replace(unsigned, signature=key.sign(unsigned.signed_bytes()))
            body = {"head": cp.head(), "signature": b64(cp.signature)}
            try:
                link_into_place(tmp, self.folder / leaves_name)
            except FileExistsError:
                pass  # the same leaves, left by a run that died before writing its head
            try:
                # The mark and the file together: another host that signed this number first (into
                # another folder) makes the insert fail before the file is written.
                with self.db.writer.begin() as conn:
                    try:
                        checkpoint_store.add_mark(conn, number, cp.digest(), now)
                    except IntegrityError as err:
                        raise EngineError(f"检查点 #{number} 已由另一进程或主机签署；{_SHARE_FOLDER}") from err
                    write_new(self.folder / f"{number:06d}.json",
                              (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
            except FileExistsError as err:
                raise EngineError(f"检查点 #{number} 已由另一进程写入；请重试。") from err
            return cp

    def _check_same_log(self, prev: Checkpoint | None) -> None:
        """Refuse to continue a log that is behind the checkpoints signed against this database: this
        folder is not the one the others write to (another host's, or a lost one)."""
        with self.db.reader.connect() as conn:
            mark = checkpoint_store.latest_mark(conn)
        if mark is None or (prev is not None and prev.number > mark.number):
            return
        if prev is None or prev.number < mark.number or prev.digest() != mark.digest:
            have = f"#{prev.number}" if prev is not None else "没有检查点"
            raise EngineError(f"检查点目录 {self.folder} 中{'最新为 ' if prev else ''}{have}，与数据库记录的已签署检查点 "
                              f"#{mark.number}（{mark.signed_at:%Y-%m-%d %H:%M} UTC）不符，不在此目录续写。{_SHARE_FOLDER}")

    def _write_leaves(self, tmp: Path, tree: merkle.Frontier, after: int, up_to: int):
        """Stream the events after `after` up to `up_to` into the tree and the leaves file `tmp`;
        returns the file's running digest and the last event id seen."""
        digest = hashlib.sha256()
        last_seen = after
        with open(tmp, "wb") as out, self.db.reader.connect() as conn:
            for row in checkpoint_store.events_in_id_order(conn, after, up_to):
                leaf, content = leaf_and_content(row)
                tree.append(leaf)
                line = f"{row.id} {row.case_id} {row.seq} {leaf.hex()} {content}\n".encode("ascii")
                out.write(line)
                digest.update(line)
                last_seen = row.id
            out.flush()
            os.fsync(out.fileno())
        return digest, last_seen
