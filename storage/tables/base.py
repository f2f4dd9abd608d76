"""What every table module shares: the declarative base (whose metadata the migrations compare
against), the UTC timestamp column type, the digest column type and the id column type."""
from __future__ import annotations

from datetime import timezone
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, Table, TypeDecorator
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.orm import DeclarativeBase


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC: SQLite keeps no zone, PostgreSQL would shift it."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def bind_processor(self, dialect):
        impl = self.impl_instance.dialect_impl(dialect)
        if not isinstance(impl, SQLITE_DATETIME) or impl._storage_format != SQLITE_DATETIME._storage_format:
            return super().bind_processor(dialect)
        # SQLite keeps the text SQLAlchemy's DATETIME writes ("2026-01-02 03:04:05.000006"); the same
        # text from isoformat, without the dict of seven fields SQLAlchemy formats per value (a command
        # binds a dozen timestamps).
        return _sqlite_utc_text

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class HexDigest(TypeDecorator):
    """A SHA-256 digest stored as its 32 bytes (BLOB, bytea), read and written as the 64 hex digits
    the code works with ('' stays empty): half the bytes of the hex text (0025)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else bytes.fromhex(value)

    def process_result_value(self, value, dialect):
        return None if value is None else bytes(value).hex()


def _sqlite_utc_text(value):
    global _last_utc_text
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    last = _last_utc_text
    if value == last[0]:  # a command binds its own time many times over (both in UTC: same instant)
        return last[1]
    text = value.isoformat(" ")[:-6]  # without its "+00:00"
    if not value.microsecond:
        text += ".000000"
    _last_utc_text = (value, text)
    return text


_last_utc_text: tuple = (None, None)


# BigInteger ids on PostgreSQL, but SQLite only autoincrements a plain INTEGER primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """The declarative base of every table; its metadata is the schema the migrations build."""

    if TYPE_CHECKING:
        # Every model here is mapped to a Table (never a join or a subquery), so the SQL modules may
        # pass Model.__table__ to insert(), update() and delete().
        __table__: ClassVar[Table]
