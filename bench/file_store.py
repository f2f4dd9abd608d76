"""Storing and streaming a large file through the file stores (storage/file_store.py): the seconds
to store a file and to read it back chunk by chunk, and the most memory the read path held at once
(tracemalloc), for the database store on a throwaway PostgreSQL and for the folder store.

    .venv/bin/python bench/file_store.py [--megabytes 100]"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

from yijianshi.storage.database import Database
from yijianshi.storage.file_store import DatabaseFiles, FileStore, FolderFiles
from yijianshi.storage.throwaway_postgres import throwaway_postgres


def measure(store: FileStore, source: Path, label: str) -> str:
    size = source.stat().st_size
    copy = source.with_name(source.name + ".copy")
    copy.write_bytes(source.read_bytes())
    t0 = time.perf_counter()
    store.put("bench/big.bin", copy)
    stored = time.perf_counter() - t0
    content = store.open("bench/big.bin")
    tracemalloc.start()
    t0 = time.perf_counter()
    read = 0
    reader = content.reader()
    while block := reader.read(8192):  # as werkzeug's FileWrapper reads
        read += len(block)
    streamed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    reader.close()
    assert read == size
    mb = size / 1024 / 1024
    return (f"{label:<9} {mb:6.0f} MB  store {stored:6.2f} s ({mb / stored:6.1f} MB/s)  "
            f"stream {streamed:6.2f} s ({mb / streamed:6.1f} MB/s)  "
            f"peak memory while streaming {peak / 1024 / 1024:5.1f} MB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--megabytes", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "big.bin"
        source.write_bytes(os.urandom(args.megabytes * 1024 * 1024))
        print(measure(FolderFiles(Path(tmp) / "folder"), source, "folder"))
        with throwaway_postgres() as url:
            db = Database(url)
            db.upgrade()
            print(measure(DatabaseFiles(db.reader, db.writer, Path(tmp) / "scratch"), source, "database"))
            db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
