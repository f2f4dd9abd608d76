"""Tables of the integration API: the department systems and platforms (API clients) that call it,
and the idempotency keys that make a retried "start a case" request start one case only."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, BigId, UTCDateTime


class ApiClient(Base):
    """A system that calls the API with a bearer token. Only the SHA-256 of the token is kept."""

    __tablename__ = "api_clients"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(255))  # space-separated, e.g. "cases:start cases:read"
    processes: Mapped[str] = mapped_column(String(1024))  # comma-separated process keys; empty = every process
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiIdempotencyKey(Base):
    """The first outcome of a start request under one client's Idempotency-Key. The primary key makes a
    concurrent retry fail on insert, inside the transaction that started its (then discarded) case."""

    __tablename__ = "api_idempotency_keys"
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the canonical request body
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    outcome: Mapped[str] = mapped_column(Text)  # JSON of what the start produced
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
