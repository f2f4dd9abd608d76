"""Tables of deployed process definitions: source files by content hash, and one row per version."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, BigId, UTCDateTime


class DefinitionFile(Base):
    """A BPMN or DMN source file, stored once by content hash."""

    __tablename__ = "definition_files"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))
    content: Mapped[str] = mapped_column(Text)


class Definition(Base):
    """One deployed version of a process definition (its key is the BPMN process id)."""

    __tablename__ = "definitions"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_definitions_key_version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))
    spec_json: Mapped[str] = mapped_column(Text)
    task_meta_json: Mapped[str] = mapped_column(Text)
    # The start event's camunda:formData (Form.to_dict()); NULL: the process has no start-event form.
    start_form_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    initiator: Mapped[str | None] = mapped_column(String(255), nullable=True)  # camunda:initiator
    files_json: Mapped[str] = mapped_column(Text)  # [{"filename", "sha256", "kind"}]
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deployed_by: Mapped[str] = mapped_column(String(255))
