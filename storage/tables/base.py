"""What every table module shares: the declarative base (whose metadata the migrations compare
against), the UTC timestamp column type, the digest column type, the task id column type and the id
column type."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, String, Table, TypeDecorator
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.functions import FunctionElement


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


def _task_id_bytes(value):
    """The 16 bytes of a canonical UUID text, anything else as it is."""
    if not isinstance(value, str) or len(value) != 36:
        return value
    try:
        raw = bytes.fromhex(value[:8] + value[9:13] + value[14:18] + value[19:23] + value[24:])
    except ValueError:
        return value
    # bytes.fromhex skips spaces and reads upper case: only the exact canonical form becomes bytes
    # (so that what is read back is exactly what was written).
    if len(raw) != 16 or _task_id_text(raw) != value:
        return value
    return raw


def _task_id_text(value):
    """The canonical UUID text of 16 bytes; a text value as it is."""
    if isinstance(value, bytes) and len(value) == 16:
        h = value.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return value


def _digest_bytes(value):
    """The 32 bytes of 64 lower-case hex digits, anything else as it is."""
    if not isinstance(value, str) or len(value) != 64:
        return value
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return value
    return raw if len(raw) == 32 and raw.hex() == value else value  # fromhex reads upper case, spaces


def _digest_text(value):
    return value.hex() if isinstance(value, bytes) else value


class SqliteStoredText(TypeDecorator):
    """Text that SQLite keeps in a more compact form: `to_sqlite` turns a value into what is stored
    (bytes, or text it keeps as it is), `from_sqlite` what is read back into the same text; SQL
    with the value written in (literal binds) gets the stored form too. PostgreSQL keeps the text.
    Subclasses set the two functions (staticmethod) and `impl`."""

    impl: Any = String  # a length given to the type (DigestText(255)) goes to the String
    cache_ok = True
    to_sqlite: Callable[[Any], Any]
    from_sqlite: Callable[[Any], Any]

    def process_bind_param(self, value, dialect):
        return self.to_sqlite(value) if dialect.name == "sqlite" and value is not None else value

    def process_result_value(self, value, dialect):
        return self.from_sqlite(value) if dialect.name == "sqlite" and value is not None else value

    # The conversions themselves, without a call of process_bind_param per value (a command binds a
    # dozen ids); elsewhere those of the text type.
    def bind_processor(self, dialect):
        if dialect.name == "sqlite":
            return self.to_sqlite
        return self.impl_instance.dialect_impl(dialect).bind_processor(dialect)

    def result_processor(self, dialect, coltype):
        if dialect.name == "sqlite":
            return self.from_sqlite
        return self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)

    def literal_processor(self, dialect):
        text_literal = self.impl_instance.dialect_impl(dialect).literal_processor(dialect)
        if dialect.name != "sqlite":
            return text_literal
        to_sqlite = self.to_sqlite

        def literal(value):
            stored = to_sqlite(value)
            if isinstance(stored, bytes):
                return f"X'{stored.hex()}'"
            return text_literal(stored) if text_literal is not None else repr(stored)
        return literal


class TaskId(SqliteStoredText):
    """A work item's (engine task's) id: a UUID in its canonical text form (36 characters, lower
    case), as SpiffWorkflow writes it. SQLite keeps it as its 16 bytes (a BLOB in the VARCHAR(36)
    column: SQLite does not convert a BLOB to a column's type), read back as the same text (0027);
    PostgreSQL keeps the text. Any other value (an id from a URL that is no UUID, a test's "nope", a
    UUID in upper case) is bound and kept as the text it is: it never equals a 16-byte value, so a
    lookup by it finds nothing. Byte order is the order of the hex text, so sorting by the column
    keeps its order."""

    impl = String(36)
    cache_ok = True
    to_sqlite = staticmethod(_task_id_bytes)
    from_sqlite = staticmethod(_task_id_text)


class DigestText(SqliteStoredText):
    """Text that is mostly a SHA-256 in hex (a case's history head, the hashed search terms): on
    SQLite a value of exactly 64 lower-case hex digits is kept as its 32 bytes and read back as the
    same text (0029); any other text is kept as it is (it never equals a 32-byte value, and a
    BLOB sorts after every TEXT, so a range of text never takes one in). PostgreSQL keeps the text."""

    impl = String
    cache_ok = True
    to_sqlite = staticmethod(_digest_bytes)
    from_sqlite = staticmethod(_digest_text)


class TaskIdText(FunctionElement):
    """A TaskId column as its text on every database, for SQL that builds text from it (SQLite's
    `'warning:' || id` of a 16-byte id would be those bytes, not the id): TaskIdText(work_items.c.id)."""

    type = String()
    name = "task_id_text"
    inherit_cache = True


@compiles(TaskIdText)
def _task_id_text_sql(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(TaskIdText, "sqlite")
def _task_id_text_sqlite(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    digits = f"lower(hex({column}))"
    parts = " || '-' || ".join(f"substr({digits}, {start}, {length})"
                               for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12)))
    return f"(CASE WHEN typeof({column}) = 'blob' THEN {parts} ELSE {column} END)"


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
