"""What every table module shares: the declarative base (whose metadata the migrations compare
against), the UTC timestamp column type, the digest column type and the id column type."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, Table, TypeDecorator
from sqlalchemy.orm import DeclarativeBase


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC: PostgreSQL would shift a zone. SQLite keeps the instant
    as an integer of microseconds since 1970-01-01 UTC (0026) in the DATETIME column (SQLite keeps
    what it is given): 8 bytes instead of 26 characters, the same order, and no text to format or
    parse; a text value from before 0026 is still read."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def bind_processor(self, dialect):
        if dialect.name == "sqlite":
            return utc_micros
        return super().bind_processor(dialect)

    def literal_processor(self, dialect):
        if dialect.name == "sqlite":
            return lambda value: str(utc_micros(value))
        return super().literal_processor(dialect)

    def result_processor(self, dialect, coltype):
        if dialect.name == "sqlite":
            return utc_from_micros
        return super().result_processor(dialect, coltype)

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


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def utc_micros(value: datetime | None) -> int | None:
    """An aware datetime as SQLite stores it: microseconds since 1970-01-01 UTC."""
    global _last_micros
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    if value.tzinfo is not timezone.utc:
        # first: two wall-clock times of one zone compare equal across its repeated hour (fold)
        value = value.astimezone(timezone.utc)
    last = _last_micros
    if value == last[0]:  # a command binds its own time many times over
        return last[1]
    micros = (value - EPOCH) // _MICROSECOND
    _last_micros = (value, micros)
    return micros


def utc_from_micros(value: int | str | None) -> datetime | None:
    """What utc_micros stored, as an aware UTC datetime (exact to the microsecond). Text is SQLite's
    form before 0026 ("2026-01-02 03:04:05.000006", UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return EPOCH + timedelta(microseconds=int(value))


_last_micros: tuple = (None, None)


# BigInteger ids on PostgreSQL, but SQLite only autoincrements a plain INTEGER primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """The declarative base of every table; its metadata is the schema the migrations build."""

    if TYPE_CHECKING:
        # Every model here is mapped to a Table (never a join or a subquery), so the SQL modules may
        # pass Model.__table__ to insert(), update() and delete().
        __table__: ClassVar[Table]
