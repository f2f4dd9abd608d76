"""Checked uploads waiting for the designer's "deploy" click: kept on disk under a random token, so
the deploy uses exactly the bytes that were checked and the files need not be sent again.

Each staged upload is a folder `<token>/` holding the files as `0.xml`, `1.xml`, … (never under the
names the browser sent) and `manifest.json` with the owner, the time, and each file's name, role and
SHA-256. Only the owner can deploy it; it expires after a while; loading checks every hash."""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from yijianshi.engine.modeling.definitions import SourceFile
from yijianshi.engine.errors import NotFound

_TOKEN_RE = re.compile(r"[0-9a-f]{32}")
DEFAULT_TTL = timedelta(hours=2)


class StagingArea:
    def __init__(self, folder: str | Path, ttl: timedelta = DEFAULT_TTL):
        self.folder = Path(folder)
        self.ttl = ttl

    def stage(self, owner: str, uploaded: list[SourceFile], included: list[SourceFile], now: datetime) -> str:
        """Keep the files; returns the token that deploys them. Expired uploads are swept first."""
        self.sweep(now)
        token = secrets.token_hex(16)
        temp = self.folder / f".{token}.tmp"
        temp.mkdir(parents=True)
        files = []
        marked = [(s, False) for s in uploaded] + [(s, True) for s in included]
        for i, (src, included_file) in enumerate(marked):
            (temp / f"{i}.xml").write_bytes(src.data)
            files.append({"filename": src.filename, "sha256": src.sha256, "included": included_file})
        manifest = {"owner": owner, "staged_at": now.isoformat(), "files": files}
        (temp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        os.replace(temp, self.folder / token)  # appears whole or not at all
        return token

    def load(self, token: str, owner: str, now: datetime) -> tuple[list[SourceFile], list[SourceFile]]:
        """(uploaded, included) files of a staged upload of this owner; NotFound when it does not
        exist, belongs to someone else, has expired or was altered."""
        gone = NotFound("待部署的文件不存在或已过期（校验结果保留 2 小时），请重新上传。")
        folder = self._folder(token)
        if folder is None:
            raise gone
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            if manifest["owner"] != owner or now - datetime.fromisoformat(manifest["staged_at"]) > self.ttl:
                raise gone
            uploaded: list[SourceFile] = []
            included: list[SourceFile] = []
            for i, f in enumerate(manifest["files"]):
                data = (folder / f"{i}.xml").read_bytes()
                if hashlib.sha256(data).hexdigest() != f["sha256"]:
                    raise gone
                (included if f["included"] else uploaded).append(SourceFile(f["filename"], data))
        except (OSError, ValueError, KeyError, TypeError):
            raise gone from None
        return uploaded, included

    def discard(self, token: str) -> None:
        folder = self._folder(token)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def sweep(self, now: datetime) -> None:
        """Remove staged uploads older than the time to live."""
        if not self.folder.is_dir():
            return
        for entry in self.folder.iterdir():
            try:
                staged = datetime.fromisoformat(
                    json.loads((entry / "manifest.json").read_text(encoding="utf-8"))["staged_at"])
                expired = now - staged > self.ttl
            except (OSError, ValueError, KeyError, TypeError):
                try:
                    expired = now.timestamp() - entry.stat().st_mtime > self.ttl.total_seconds()
                except OSError:
                    continue  # removed meanwhile by another worker
            if expired:
                shutil.rmtree(entry, ignore_errors=True)

    def _folder(self, token: str) -> Path | None:
        if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
            return None
        folder = self.folder / token
        return folder if folder.is_dir() else None
