"""SQLite keeps every timestamp as an integer of microseconds since 1970-01-01 UTC instead of the
26 characters of "2026-01-02 03:04:05.000006" (#17: about 1.2 KB less per finished case, 45
timestamps and their index entries). The columns keep their declared DATETIME type: SQLite stores
what it is given, so no table is rebuilt; storage/tables/base.UTCDateTime writes and reads the
integers. The instants are the same to the microsecond; ordering and comparisons keep working
because every value of a column has the same form.

PostgreSQL is unchanged (its timestamps are already 8 bytes). The downgrade writes the text back.

Revision ID: 0026_sqlite_integer_timestamps
Revises: 0025_lean_history_and_outbox
"""
from datetime import datetime, timedelta, timezone

from alembic import op

revision = "0026_sqlite_integer_timestamps"
down_revision = "0025_lean_history_and_outbox"
branch_labels = None
depends_on = None

# Every UTCDateTime column at 0026 (frozen here: later tables are made with integers from the start).
COLUMNS = {
    "api_clients": ["created_at", "revoked_at"],
    "api_idempotency_keys": ["created_at"],
    "app_secrets": ["created_at"],
    "calendar_years": ["loaded_at"],
    "cases": ["started_at", "updated_at", "ended_at"],
    "checkpoint_marks": ["signed_at"],
    "command_failures": ["failed_at"],
    "deadlines": ["due_at", "armed_at", "fired_at"],
    "definitions": ["deployed_at"],
    "events": ["at"],
    "export_jobs": ["created_at", "updated_at", "finished_at"],
    "external_tasks": ["lock_expires_at", "created_at"],
    "materials": ["uploaded_at"],
    "notifications": ["created_at", "read_at"],
    "outbox": ["next_attempt_at", "claimed_until", "created_at", "sent_at"],
    "scheduler_leases": ["expires_at", "acquired_at"],
    "sign_in_sessions": ["created_at", "expires_at"],
    "stored_files": ["created_at"],
    "user_accounts": ["created_at", "last_login_at", "locked_until"],
    "weekly_bulletins": ["generated_at"],
    "work_item_groups": ["due_key", "warning_at", "created_at"],
    "work_items": ["claimed_at", "due_at", "warning_at", "created_at", "ended_at", "follow_up_at"],
}

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_APPEND_ONLY = "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"


def _micros(text):
    """SQLAlchemy's SQLite text of a naive UTC datetime -> microseconds since the epoch."""
    if not isinstance(text, str):
        return text
    moment = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _text(micros):
    """Microseconds since the epoch -> the text SQLAlchemy's SQLite DATETIME writes."""
    if not isinstance(micros, int):
        return micros
    moment = _EPOCH + timedelta(microseconds=micros)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def upgrade() -> None:
    _convert("text", "yjs_micros", _micros)


def downgrade() -> None:
    _convert("integer", "yjs_text", _text)


def _convert(stored: str, name: str, function) -> None:
    """Each column's values of SQLite type `stored` through `function` (a SQL function of this
    connection), the events table's update guard off meanwhile."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    driver = bind.connection.dbapi_connection
    assert driver is not None  # a live connection: Alembic runs in it
    driver.create_function(name, 1, function, deterministic=True)
    existing = {row[0] for row in bind.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    op.execute("DROP TRIGGER IF EXISTS events_no_update")
    for table, columns in COLUMNS.items():
        if table not in existing:
            continue
        for column in columns:
            op.execute(f"UPDATE {table} SET {column} = {name}({column}) WHERE typeof({column}) = '{stored}'")
    op.execute(f"CREATE TRIGGER events_no_update BEFORE UPDATE ON events {_APPEND_ONLY}")
