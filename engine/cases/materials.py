"""Materials (申请材料 and 办理结果): uploaded files attached to a case at one of its work items.

Files are checked and staged first, then stored by content, then attached by the command that
completes the work item, in its transaction and in its history event (so they are in the case's hash
chain, and a refused completion attaches nothing).

Upload rules: only PDF, JPEG, PNG and OFD (the national e-document format), recognised by their
content, not by the name a browser sends; a size limit per file and a count limit per upload. Files
are stored once per content (SHA-256) in the file store (storage/file_store.py: the database or a
folder); the database says which case holds which file under which name. An upload is
all-or-nothing: if any file is refused, none is kept."""
from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from yijianshi.engine.access.actors import APPLICANT_ROLE, Actor
from yijianshi.engine.access.work_item_access import item_groups
from yijianshi.engine.clock import Clock, to_utc
from yijianshi.engine.errors import EngineError, NotFound
from yijianshi.engine.settings import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES
from yijianshi.storage import material_store
from yijianshi.storage.case_store import WorkItemRow
from yijianshi.storage.database import Database
from yijianshi.storage.file_store import Content, FileStore

APPLICATION, RESULT = "application", "result"
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileType:
    extensions: tuple[str, ...]
    content_type: str
    label: str


PDF = FileType((".pdf",), "application/pdf", "PDF")
JPEG = FileType((".jpg", ".jpeg"), "image/jpeg", "JPG")
PNG = FileType((".png",), "image/png", "PNG")
OFD = FileType((".ofd",), "application/ofd", "OFD")
ALLOWED_TYPES = (PDF, JPEG, PNG, OFD)
ALLOWED_EXTENSIONS = tuple(ext for t in ALLOWED_TYPES for ext in t.extensions)


class MaterialRefused(EngineError):
    """An upload broke a rule (type, size, count, empty file); nothing of it was kept."""


@dataclass(frozen=True)
class Upload:
    """One file as received: the name the browser sent and a readable binary stream."""

    filename: str
    stream: BinaryIO


@dataclass
class StagedFile:
    """A checked upload written to a temporary file in the store's scratch folder, not yet stored."""

    filename: str
    file_type: FileType
    sha256: str
    size: int
    temp_path: Path


@dataclass(frozen=True)
class NewMaterial:
    """A stored file to attach to a case, as the completion's history event records it."""

    filename: str
    content_type: str
    size_bytes: int
    sha256: str


@dataclass
class PublishedFiles:
    materials: list[NewMaterial]
    new_hashes: list[str]  # contents this upload stored first (the ones to remove if it fails)


@dataclass(frozen=True)
class MaterialRecord:
    id: int
    case_id: int
    work_item_id: str | None
    task_name: str
    kind: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    uploaded_at: object

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


def clean_filename(name: str) -> str:
    """The display name of an upload: no folders, no control characters, at most 120 characters."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = stem[:100] or "材料"
    return f"{stem}.{ext[:10]}" if ext else stem


def sniff(head: bytes, path: Path) -> FileType | None:
    """The file type its content shows, whatever its name claims."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                if "OFD.xml" in archive.namelist():
                    return OFD
        except (zipfile.BadZipFile, OSError):
            return None
    return None


def material_key(sha256: str) -> str:
    """Where the content with this hash is stored: ab/cd/<sha256>."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise NotFound("材料文件不存在。")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def stage_upload(scratch: Path, upload: Upload, max_bytes: int) -> StagedFile:
    """Copy an upload to a temporary file in `scratch` while hashing it; refuse it if too big or of a
    wrong type (nothing of it is kept)."""
    name = clean_filename(upload.filename)
    scratch.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=scratch, prefix="upload-")
    temp_path = Path(temp)
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := upload.stream.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise MaterialRefused(f"文件“{name}”超过 {_megabytes(max_bytes)} 的大小上限，请压缩或拆分后再上传。")
                if len(head) < 16:
                    head += chunk[:16]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise MaterialRefused(f"文件“{name}”是空文件，请重新选择。")
        file_type = sniff(head, temp_path)
        if file_type is None:
            raise MaterialRefused(f"文件“{name}”不是允许的类型。只接受 {allowed_types_text()} 文件。")
        ext = os.path.splitext(name)[1].lower()
        if ext not in file_type.extensions:
            raise MaterialRefused(f"文件“{name}”的扩展名与内容不符（内容是 {file_type.label}），请改正后再上传。")
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return StagedFile(name, file_type, digest.hexdigest(), size, temp_path)


class MaterialService:
    """Attaching uploads to a case at a ready work item, and listing a case's materials."""

    def __init__(self, db: Database, store: FileStore, clock: Clock | None = None, *,
                 max_bytes: int = DEFAULT_MAX_BYTES, max_files: int = DEFAULT_MAX_FILES):
        self.db = db
        self.store = store
        self.clock = clock or Clock()
        self.max_bytes = max_bytes
        self.max_files = max_files

    def stage(self, uploads: list[Upload]) -> list[StagedFile]:
        """Check and stage every upload; if any is refused, none is kept (MaterialRefused)."""
        uploads = [u for u in uploads if u.filename]
        if len(uploads) > self.max_files:
            raise MaterialRefused(f"一次最多上传 {self.max_files} 个文件，本次选择了 {len(uploads)} 个。")
        staged: list[StagedFile] = []
        try:
            for upload in uploads:
                staged.append(stage_upload(self.store.scratch, upload, self.max_bytes))
        except BaseException:
            self.discard(staged)
            raise
        return staged

    def discard(self, staged: Iterable[StagedFile]) -> None:
        """Remove staged files that will not be published."""
        for s in staged:
            s.temp_path.unlink(missing_ok=True)

    def publish(self, staged: list[StagedFile]) -> PublishedFiles:
        """Store checked uploads by content, ready to be attached by the command that completes a
        work item (CaseService.complete_work_item(materials=...)), in its transaction: a file is
        stored whole before any row refers to it. If that command fails, `forget` removes what this
        call stored."""
        published = PublishedFiles([], [])
        try:
            for s in staged:
                if self.store.put(material_key(s.sha256), s.temp_path):
                    published.new_hashes.append(s.sha256)
                published.materials.append(NewMaterial(s.filename, s.file_type.content_type, s.size, s.sha256))
        except BaseException:
            self.discard(staged)
            self.forget(published)
            raise
        return published

    def forget(self, published: PublishedFiles) -> None:
        """Remove files that `publish` stored and that no stored material refers to (the command
        that was to attach them failed)."""
        hashes = published.new_hashes
        if not hashes:
            return
        with self.db.reader.connect() as conn:
            referenced = material_store.referenced(conn, hashes)
        for sha in hashes:
            if sha not in referenced:
                self.store.remove(material_key(sha))

    def for_case(self, case_id: int) -> list[MaterialRecord]:
        with self.db.reader.connect() as conn:
            return [record_from_row(r) for r in material_store.for_case(conn, case_id)]

    def get(self, material_id: int) -> MaterialRecord:
        with self.db.reader.connect() as conn:
            row = material_store.get(conn, material_id)
        if row is None:
            raise NotFound("材料不存在。")
        return record_from_row(row)

    def content_of(self, record: MaterialRecord) -> Content:
        """The stored file of a material, to stream."""
        content = self.store.open(material_key(record.sha256))
        if content is None:
            raise NotFound(f"材料“{record.filename}”的文件已不在文件存储中，请联系系统管理员。")
        return content


def material_rows(materials: Iterable[NewMaterial], *, case_id: int, item: WorkItemRow, actor: Actor,
                  at: datetime) -> list[dict[str, Any]]:
    """The rows that attach files to a case at a work item: application materials at the applicant's
    steps, results (办理结果) at the departments'."""
    kind = APPLICATION if APPLICANT_ROLE in item_groups(item.groups) else RESULT
    return [dict(case_id=case_id, work_item_id=item.id, task_name=item.name, kind=kind, filename=m.filename,
                 content_type=m.content_type, size_bytes=m.size_bytes, sha256=m.sha256, uploaded_by=actor.id,
                 uploaded_at=to_utc(at)) for m in materials]


def record_from_row(row) -> MaterialRecord:
    m = row._mapping
    return MaterialRecord(**{k: m[k] for k in MaterialRecord.__dataclass_fields__})


def allowed_types_text() -> str:
    return "、".join(t.label for t in ALLOWED_TYPES)


def _megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB"
