"""The Ed25519 keys that sign history checkpoints. The private key is one file outside the database
(PEM, permissions 0600, refused when others may read it); every public key ever used is kept
beside the checkpoints as keys/<key id>.json, key id = SHA-256 of the raw public key, so that old
checkpoints still verify after a rotation. A rotated-in key is endorsed: the key it replaces signs
it, so the keys form one chain from the first, and a key that appears without an endorsement (a key
an intruder added to sign forged checkpoints) is not trusted unless the operator names it."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from yijianshi.engine.errors import EngineError

ENDORSEMENT_CONTEXT = b"yijianshi key endorsement v1\n"
KEYS_FOLDER = "keys"


def key_id_of(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(public)).hexdigest()


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    public: Ed25519PublicKey
    created: str
    endorsed_by: str | None  # the key this one replaced, which signed it; None: a first key
    endorsement: bytes | None

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.public.verify(signature, message)
            return True
        except InvalidSignature:
            return False


class KeyRing:
    """The public keys kept in <checkpoint dir>/keys and the private signing key file."""

    def __init__(self, checkpoint_dir: Path, key_file: Path):
        self.folder = checkpoint_dir / KEYS_FOLDER
        self.key_file = key_file

    # -- public keys -----------------------------------------------------------------------------

    def read(self) -> tuple[dict[str, PublicKey], list[str]]:
        """Every kept public key by id, and what is wrong with the files that are not one."""
        problems = []
        keys: dict[str, PublicKey] = {}
        for path in sorted(self.folder.glob("*.json")):
            try:
                key = _read_public(path)
            except (ValueError, KeyError, TypeError) as err:
                problems.append(f"公钥文件 {path.name} 无法读取：{err}")
                continue
            if path.stem != key.key_id:
                problems.append(f"公钥文件 {path.name} 的内容是另一把密钥（{key.key_id[:16]}）")
                continue
            keys[key.key_id] = key
        return keys, problems

    def _write_public(self, private: Ed25519PrivateKey, now: datetime,
                      endorser: Ed25519PrivateKey | None) -> str:
        public = private.public_key()
        kid = key_id_of(public)
        body: dict = {"key_id": kid, "algorithm": "Ed25519", "public_key": b64(raw_public(public)),
                      "created": now.isoformat(), "endorsed_by": None, "endorsement": None}
        if endorser is not None:
            body["endorsed_by"] = key_id_of(endorser.public_key())
            body["endorsement"] = b64(endorser.sign(ENDORSEMENT_CONTEXT + raw_public(public)))
        self.folder.mkdir(parents=True, exist_ok=True)
        write_new(self.folder / f"{kid}.json", (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode())
        return kid

    # -- the private key -------------------------------------------------------------------------

    def signing_key(self) -> Ed25519PrivateKey:
        """The private key, after checking that no one but its owner may read the file and that its
        public key is kept beside the checkpoints."""
        if not self.key_file.exists():
            raise EngineError(f"签名密钥文件 {self.key_file} 不存在（首次使用请运行 yijianshi keys init）。")
        mode = stat.S_IMODE(self.key_file.stat().st_mode)
        if mode & 0o077:
            raise EngineError(f"签名密钥文件 {self.key_file} 的权限为 {mode:04o}，他人可读；"
                              f"请改为 0600（chmod 600 {self.key_file}）。")
        try:
            key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        except ValueError as err:
            raise EngineError(f"签名密钥文件 {self.key_file} 不是有效的密钥：{err}") from err
        if not isinstance(key, Ed25519PrivateKey):
            raise EngineError(f"签名密钥文件 {self.key_file} 不是 Ed25519 密钥。")
        kid = key_id_of(key.public_key())
        if not (self.folder / f"{kid}.json").exists():
            raise EngineError(f"签名密钥 {kid[:16]} 未登记在 {self.folder}（请用 yijianshi keys init 或 keys rotate "
                              f"生成密钥，不要手工替换密钥文件）。")
        return key

    def init(self, now: datetime, *, replace_lost: bool = False) -> str:
        """Generate the first key. With keys already kept beside the checkpoints this is refused
        unless `replace_lost` (the private key was lost: the new key starts a new chain, which
        verification trusts only when told to)."""
        if self.key_file.exists():
            raise EngineError(f"签名密钥文件 {self.key_file} 已存在；更换密钥请用 yijianshi keys rotate。")
        if any(self.folder.glob("*.json")) and not replace_lost:
            raise EngineError(f"{self.folder} 中已有密钥，但签名密钥文件 {self.key_file} 不存在：请恢复该文件；"
                              f"若确已丢失，用 yijianshi keys init --replace-lost 生成新密钥。")
        private = Ed25519PrivateKey.generate()
        kid = self._write_public(private, now, endorser=None)
        _write_private(self.key_file, private)
        return kid

    def rotate(self, now: datetime) -> tuple[str, str]:
        """Replace the signing key by a new one the old one endorses; the old private key file is
        replaced (its public key stays, so checkpoints it signed still verify). (old id, new id)."""
        old = self.signing_key()
        private = Ed25519PrivateKey.generate()
        kid = self._write_public(private, now, endorser=old)
        _write_private(self.key_file, private)
        return key_id_of(old.public_key()), kid


def _read_public(path: Path) -> PublicKey:
    body = json.loads(path.read_text(encoding="utf-8"))
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(body["public_key"]))
    endorsement = body.get("endorsement")
    return PublicKey(key_id_of(public), public, str(body.get("created", "")), body.get("endorsed_by"),
                     base64.b64decode(endorsement) if endorsement else None)


def _write_private(path: Path, private: Ed25519PrivateKey) -> None:
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_new(path: Path, data: bytes) -> None:
    """Write a file that must not exist yet, whole or not at all (see `link_into_place`)."""
    tmp = temporary_beside(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    link_into_place(tmp, path)


def temporary_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def link_into_place(tmp: Path, path: Path) -> None:
    """Give the finished (flushed) file `tmp` its final name: a hard link, which fails when the name
    is taken (FileExistsError), so a reader never sees half a file and nothing is ever overwritten."""
    try:
        os.link(tmp, path)
    finally:
        tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)

def trusted_ids(keys: dict[str, PublicKey], roots: set[str]) -> set[str]:
    """The roots (keys trusted as they are: the key of the first checkpoint, keys the operator names)
    and every key a trusted key endorsed, however long the chain of rotations."""
    good = {k for k in roots if k in keys}
    grew = True
    while grew:
        grew = False
        for k in keys.values():
            if k.key_id in good or k.endorsed_by not in good or k.endorsement is None:
                continue
            if keys[k.endorsed_by].verify(k.endorsement, ENDORSEMENT_CONTEXT + raw_public(k.public)):
                good.add(k.key_id)
                grew = True
    return good
