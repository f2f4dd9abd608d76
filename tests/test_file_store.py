"""The file store (storage/file_store.py) on both backends: a file is stored whole or not at all,
read back chunk by chunk, found by key; the folder's files move into the database with
`yijianshi files migrate-to-database`; generated secrets are created once for every host."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from yijianshi.cli.main import main
from yijianshi.engine.settings import Settings
from yijianshi.storage import file_store, secret_store
from yijianshi.storage.database import Database
from yijianshi.storage.file_store import BadKey, DatabaseFiles, FolderFiles
from yijianshi.web.settings import secret_key


@pytest.fixture(params=["folder", "database"])
def store(request, tmp_path, migrated_db_url):
    if request.param == "folder":
        yield FolderFiles(tmp_path / "files")
        return
    db = Database(migrated_db_url)
    yield DatabaseFiles(db.reader, db.writer, tmp_path / "scratch")
    db.dispose()


def _source(tmp_path: Path, data: bytes, name: str = "src") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_put_open_remove(store, tmp_path, monkeypatch):
    monkeypatch.setattr(file_store, "CHUNK_BYTES", 10)
    data = bytes(range(256)) * 3  # many chunks
    source = _source(tmp_path, data)
    assert store.put("ab/cd/one", source)
    assert not source.exists()  # consumed
    content = store.open("ab/cd/one")
    assert content.size == len(data)
    assert b"".join(content.chunks()) == data
    assert content.reader().read() == data
    assert len(next(iter(content.chunks()))) == 10  # read a chunk at a time
    assert not store.put("ab/cd/one", _source(tmp_path, b"other"))  # stored already: unchanged
    assert b"".join(store.open("ab/cd/one").chunks()) == data
    assert store.put("ab/cd/one", _source(tmp_path, b"other"), replace=True)
    assert b"".join(store.open("ab/cd/one").chunks()) == b"other"
    store.put("exports/x.csv", _source(tmp_path, b"a,b\n"))
    assert list(store.keys()) == ["ab/cd/one", "exports/x.csv"]
    store.remove("ab/cd/one")
    assert store.open("ab/cd/one") is None and not store.exists("ab/cd/one")
    with pytest.raises(BadKey):
        store.open("../secret_key")


def test_a_failed_write_leaves_nothing(tmp_path, migrated_db_url, monkeypatch):
    """The database store inserts a file's row and chunks in one transaction: a write that fails
    half-way (a read error after two chunks) leaves no row and no chunk."""
    monkeypatch.setattr(file_store, "CHUNK_BYTES", 4)
    db = Database(migrated_db_url)
    store = DatabaseFiles(db.reader, db.writer, tmp_path)
    real_open = open

    class Failing(io.BytesIO):
        reads = 0

        def read(self, n=-1):
            Failing.reads += 1
            if Failing.reads > 2:
                raise OSError("读取中断")
            return super().read(n)

    monkeypatch.setattr(file_store, "open", lambda path, mode="r": Failing(real_open(path, "rb").read()),
                        raising=False)
    with pytest.raises(OSError, match="读取中断"):
        store.put("ab/cd/broken", _source(tmp_path, b"0123456789abcdef"))
    assert not store.exists("ab/cd/broken")
    with db.reader.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM stored_file_chunks").scalar() == 0
    db.dispose()


def test_shared_secret_is_created_once(migrated_db_url):
    db = Database(migrated_db_url)
    first = secret_store.shared_secret(db.writer, "k", lambda: "first")
    second = secret_store.shared_secret(db.writer, "k", lambda: pytest.fail("made a second secret"))
    assert first == second == "first"
    db.dispose()


def test_hosts_without_a_secret_key_share_the_one_in_the_database(tmp_path, migrated_db_url):
    """Two hosts (separate homes) with the database file store and no YIJIANSHI_SECRET_KEY sign
    sessions with the same key, generated once into the database; none is written to a home."""
    db = Database(migrated_db_url)
    a = Settings.at(tmp_path / "a", migrated_db_url, file_store="database")
    b = Settings.at(tmp_path / "b", migrated_db_url, file_store="database")
    key = secret_key(a, db)
    assert len(key) == 64 and secret_key(b, db) == key
    assert not a.secret_key_file.exists() and not b.secret_key_file.exists()
    folder = Settings.at(tmp_path / "c", migrated_db_url, file_store="folder")
    assert secret_key(folder, db) != key and folder.secret_key_file.exists()  # one machine: its file
    db.dispose()


def test_migrate_folder_files_to_the_database(tmp_path, migrated_db_url, monkeypatch, capsys):
    uploads = tmp_path / "uploads"
    pdf = b"%PDF-1.4 material"
    sha = hashlib.sha256(pdf).hexdigest()
    folder = FolderFiles(uploads)
    folder.put(f"{sha[:2]}/{sha[2:4]}/{sha}", _source(tmp_path, pdf))
    folder.put("exports/yijianshi-events-1.csv", _source(tmp_path, b"case_id\n1\n"))
    (uploads / "tmp").mkdir()
    (uploads / "tmp" / "upload-half").write_bytes(b"staged, never stored")
    (uploads / "exports" / "yijianshi-events-2.csv.part").write_bytes(b"being written")
    monkeypatch.setenv("YIJIANSHI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("YIJIANSHI_UPLOADS", str(uploads))
    monkeypatch.delenv("YIJIANSHI_FILE_STORE", raising=False)

    assert main(["--db", migrated_db_url, "files", "migrate-to-database"]) == 0
    assert "复制 2 个文件" in capsys.readouterr().out
    db = Database(migrated_db_url)
    store = DatabaseFiles(db.reader, db.writer, tmp_path / "scratch")
    assert set(store.keys()) == {"exports/yijianshi-events-1.csv", f"{sha[:2]}/{sha[2:4]}/{sha}"}
    assert b"".join(store.open(f"{sha[:2]}/{sha[2:4]}/{sha}").chunks()) == pdf
    assert (uploads / sha[:2] / sha[2:4] / sha).exists()  # the folder is left as it was
    assert main(["--db", migrated_db_url, "files", "migrate-to-database"]) == 0  # again: nothing to do
    assert "复制 0 个文件到数据库；2 个已在数据库中" in capsys.readouterr().out
    db.dispose()
