"""Tables of what several web hosts share through the database alone: stored files (materials and
finished exports, when the file store is the database) and the application's generated secrets.

A stored file is one `stored_files` row and its content in `stored_file_chunks`, 1 MiB of bytea
(BLOB on SQLite) per row, written in one transaction with it: a file is there whole or not at all,
and deleting the row deletes its chunks."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, UTCDateTime


class StoredFile(Base):
    """One stored file, by its key (the path it would have under the upload folder)."""

    __tablename__ = "stored_files"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    chunks: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StoredFileChunk(Base):
    """A piece of a stored file's content, in order of `seq` from 0."""

    __tablename__ = "stored_file_chunks"
    key: Mapped[str] = mapped_column(ForeignKey("stored_files.key", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class AppSecret(Base):
    """A secret the application generated once for every host (the key that signs sessions), unless
    the environment gives it."""

    __tablename__ = "app_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
