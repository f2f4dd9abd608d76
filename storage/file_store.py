"""Stored files — uploaded materials (by content hash) and finished exports — behind one interface
with two backends, chosen by the settings (engine/settings.py: YIJIANSHI_FILE_STORE):

* `FolderFiles`: files under one folder (the default with SQLite, where one machine serves). A file
  is written aside and renamed into place, so it is there whole or not at all.
* `DatabaseFiles`: files in the database (the default with PostgreSQL), so that web processes on
  several hosts share nothing but the database. A file is a `stored_files` row plus its content in
  1 MiB bytea chunks, all inserted in one transaction; a download reads one chunk at a time, each on
  a connection borrowed from the pool only for that chunk, so a 100 MB file costs 1 MiB of memory
  and a slow client holds no connection. Why chunks in a table rather than PostgreSQL large objects:
  psycopg 3 has no client-side large-object API (only the server functions), large objects are not
  deleted with the row that refers to them (they need lo_unlink or vacuumlo) and have their own
  permissions, while a chunk table is plain SQL that works the same on SQLite (so the same tests
  cover both), is deleted by ON DELETE CASCADE and is in every pg_dump of the database.

A key is a relative path, the file's place under the upload folder (materials ab/cd/<sha256>,
exports exports/<name>), so a folder of files moves into the database key for key
(`copy_folder_to`, behind `yijianshi files migrate-to-database`). Each backend also names a local
scratch folder where uploads are staged and exports written before they are stored."""
from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Protocol

from sqlalchemy import Engine, bindparam, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from yijianshi.storage.tables import StoredFile, StoredFileChunk

CHUNK_BYTES = 1024 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
# Folders under the upload folder that hold no stored files (staging areas of one host).
SCRATCH_FOLDERS = ("tmp", "design-staging")

files_t = StoredFile.__table__
chunks_t = StoredFileChunk.__table__


class BadKey(ValueError):
    """A key that is not a plain relative path (no '..', no absolute path)."""


def check_key(key: str) -> str:
    if len(key) > 255 or not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise BadKey(f"not a stored file key: {key!r}")
    return key


class Content(Protocol):
    """A stored file being read."""

    size: int

    def chunks(self) -> Iterator[bytes]: ...

    def reader(self) -> BinaryIO: ...


class FileStore(Protocol):
    kind: str  # "folder" or "database"
    scratch: Path  # a local folder for files not yet stored

    def put(self, key: str, source: Path, *, replace: bool = False) -> bool:
        """Store the file `source` (which is consumed: moved or deleted) under `key`, whole or not
        at all; False (and nothing changed) when `key` is stored already and not `replace`."""
        ...

    def open(self, key: str) -> Content | None: ...

    def exists(self, key: str) -> bool: ...

    def remove(self, key: str) -> None: ...

    def keys(self) -> Iterator[str]: ...


class FolderFile:
    def __init__(self, path: Path):
        self.path = path
        self.size = path.stat().st_size

    def chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                yield chunk

    def reader(self) -> BinaryIO:
        return open(self.path, "rb")


class FolderFiles:
    """Files under one folder, <root>/<key>."""

    kind = "folder"

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.scratch = self.root / "tmp"

    def path_for(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, source: Path, *, replace: bool = False) -> bool:
        final = self.path_for(key)
        try:
            if final.exists() and not replace:
                return False
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(source, final)
            except OSError:  # another file system: copy aside, then rename
                fd, temp = tempfile.mkstemp(dir=final.parent, prefix=".put-")
                os.close(fd)
                shutil.copyfile(source, temp)
                os.replace(temp, final)
            return True
        finally:
            Path(source).unlink(missing_ok=True)

    def open(self, key: str) -> FolderFile | None:
        path = self.path_for(key)
        return FolderFile(path) if path.is_file() else None

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def remove(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        if not self.root.exists():
            return
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root)
            if not path.is_file() or rel.parts[0] in SCRATCH_FOLDERS or path.name.startswith("."):
                continue
            if path.name.endswith(".part"):  # an export being written
                continue
            yield rel.as_posix()


class DatabaseFile:
    def __init__(self, engine: Engine, key: str, size: int, count: int):
        self.engine = engine
        self.key = key
        self.size = size
        self.count = count

    def chunks(self) -> Iterator[bytes]:
        for seq in range(self.count):
            with self.engine.connect() as conn:
                data = conn.execute(_CHUNK, {"k": self.key, "s": seq}).scalar()
            if data is None:
                raise OSError(f"stored file {self.key} lost its chunk {seq} while being read")
            yield bytes(data)

    def reader(self) -> BinaryIO:
        return io.BufferedReader(_ChunkReader(self.chunks()), buffer_size=CHUNK_BYTES)


_CHUNK = select(chunks_t.c.data).where(chunks_t.c.key == bindparam("k"), chunks_t.c.seq == bindparam("s"))
_HEAD = select(files_t.c.size_bytes, files_t.c.chunks).where(files_t.c.key == bindparam("k"))


class DatabaseFiles:
    """Files in the database's stored_files and stored_file_chunks tables. `engine`: the database's
    reader (an autocommit engine on PostgreSQL); `writer`: the engine whose begin() is a transaction."""

    kind = "database"

    def __init__(self, reader: Engine, writer: Engine, scratch: str | Path):
        self.reader = reader
        self.writer = writer
        self.scratch = Path(scratch)

    def put(self, key: str, source: Path, *, replace: bool = False) -> bool:
        check_key(key)
        try:
            with self.writer.begin() as conn:
                exists = conn.execute(_HEAD, {"k": key}).first() is not None
                if exists and not replace:
                    return False
                if exists:
                    conn.execute(delete(files_t).where(files_t.c.key == key))
                conn.execute(insert(files_t).values(key=key, size_bytes=0, sha256="", chunks=0,
                                                    created_at=datetime.now(timezone.utc)))
                digest, size, seq = hashlib.sha256(), 0, 0
                with open(source, "rb") as f:
                    while chunk := f.read(CHUNK_BYTES):
                        conn.execute(insert(chunks_t).values(key=key, seq=seq, data=chunk))
                        digest.update(chunk)
                        size += len(chunk)
                        seq += 1
                conn.execute(files_t.update().where(files_t.c.key == key)
                             .values(size_bytes=size, sha256=digest.hexdigest(), chunks=seq))
            return True
        except IntegrityError:  # another host stored the same key meanwhile
            if replace:
                raise
            return False
        finally:
            Path(source).unlink(missing_ok=True)

    def open(self, key: str) -> DatabaseFile | None:
        with self.reader.connect() as conn:
            head = conn.execute(_HEAD, {"k": check_key(key)}).first()
        return None if head is None else DatabaseFile(self.reader, key, head.size_bytes, head.chunks)

    def exists(self, key: str) -> bool:
        with self.reader.connect() as conn:
            return conn.execute(_HEAD, {"k": check_key(key)}).first() is not None

    def remove(self, key: str) -> None:
        with self.writer.begin() as conn:
            conn.execute(delete(chunks_t).where(chunks_t.c.key == check_key(key)))
            conn.execute(delete(files_t).where(files_t.c.key == key))

    def keys(self) -> Iterator[str]:
        with self.reader.connect() as conn:
            yield from list(conn.execute(select(files_t.c.key).order_by(files_t.c.key)).scalars())

    def total_bytes(self) -> int:
        with self.reader.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.sum(files_t.c.size_bytes), 0))).scalar_one())


def copy_folder_to(folder: FolderFiles, target: FileStore) -> tuple[int, int]:
    """Store every file of `folder` in `target` under the same key, leaving the folder as it is;
    files already there are skipped, so a run that stopped half-way is simply run again. Returns
    (files copied, files skipped)."""
    copied = skipped = 0
    target.scratch.mkdir(parents=True, exist_ok=True)
    for key in folder.keys():
        if target.exists(key):
            skipped += 1
            continue
        fd, temp = tempfile.mkstemp(dir=target.scratch, prefix="migrate-")
        os.close(fd)
        shutil.copyfile(folder.path_for(key), temp)
        if target.put(key, Path(temp)):
            copied += 1
        else:
            skipped += 1
    return copied, skipped


class _ChunkReader(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n
