"""The type of a history event as SQLite stores it: a small number instead of its name (0028). The
code table is fixed here (storage may not import the engine, whose engine/cases/history.py names
the types; a test checks that every one of them has a code); the EventType column type writes the
code and reads the name back, so the code above the database (the hash chain included) only ever
sees names."""
from __future__ import annotations

from sqlalchemy import String

from yijianshi.storage.tables.base import SqliteStoredText

# Event type -> its code on SQLite. NEVER renumber or reuse a code: stored rows keep theirs (and
# migration 0028 holds a frozen copy of this table). A new event type takes the next free number.
# The most frequent types have one-digit codes: the code is stored as its decimal text (the
# column is VARCHAR, so SQLite would turn an integer into text anyway), one byte for 1..9.
EVENT_TYPE_CODES: dict[str, int] = {
    "work_item_ready": 1,
    "work_item_completed": 2,
    "work_item_claimed": 3,
    "case_started": 4,
    "case_completed": 5,
    "work_item_cancelled": 6,
    "deadline_fired": 7,
    "message_sent": 8,
    "message_delivered": 9,
    "work_item_unclaimed": 10,
    "timers_fired": 11,
    "timers_rearmed": 12,
    "case_cancelled": 13,
    "case_migrated": 14,
    "external_task_created": 15,
    "external_task_completed": 16,
    "external_task_bpmn_error": 17,
    "external_task_failed": 18,
    "external_task_retries_set": 19,
    "work_item_transferred": 20,
    "work_item_delegated": 21,
    "work_item_returned": 22,
    "work_item_commented": 23,
    "work_item_follow_up_set": 24,
}

# As stored (decimal text) both ways.
_STORED: dict[str, str] = {name: str(code) for name, code in EVENT_TYPE_CODES.items()}
_NAMES: dict[str, str] = {stored: name for name, stored in _STORED.items()}


def stored_event_type(value):
    """What SQLite stores for an event type: the code of a known one (as its decimal text), any
    other text as it is. Text of digits only would read back as the type of that code, so it is
    refused (an event type is a name)."""
    stored = _STORED.get(value)
    if stored is not None:
        return stored
    if isinstance(value, str) and value.isdigit():
        raise ValueError(f"an event type is a name, not digits: {value!r}")
    return value


def event_type_name(value):
    """An event type as SQLite stored it, as its name (text that is no code as it is)."""
    return _NAMES.get(value, value)


class EventType(SqliteStoredText):
    """events.type: on SQLite a known event type is stored as its code (EVENT_TYPE_CODES, "2"
    instead of "work_item_completed") and read back as its name; any other text is stored and read
    as it is (it never equals a code, so a lookup by it finds only itself). Comparisons in SQL
    (`events.c.type == X`, `.in_(...)`, `case(...)`) bind the code too. PostgreSQL keeps the names."""

    impl = String(32)
    cache_ok = True
    to_sqlite = staticmethod(stored_event_type)
    from_sqlite = staticmethod(event_type_name)


def event_types_sql(names: tuple[str, ...], dialect_name: str, column: str = "type") -> str:
    """`column IN (...)` of these event types as the dialect stores them (SQL text: the WHERE of a
    partial index, which SQLite matches only against the same literals in a query)."""
    values = [stored_event_type(n) if dialect_name == "sqlite" else n for n in names]
    quoted = ("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({', '.join(quoted)})"
