"""Work-item ids as their 16 bytes on SQLite: less stored per finished case (#17).

On SQLite a work item's (engine task's) id is kept as the 16 bytes of its UUID instead of its 36
characters (storage/tables/base.TaskId still reads and writes the text, so ids in URLs, events'
hashes and checkpoints are the same values as before). The columns keep
their declared type VARCHAR(36): SQLite keeps a BLOB in it as it is, so no table is rebuilt. The ids
are work_items.id (stored twice: the row and its primary key index), work_item_groups.work_item_id,
work_item_group_links.work_item_id, events.work_item_id, external_tasks.id, deadlines.task_id,
command_failures.work_item_id and materials.work_item_id.

The upgrade converts the values that are a UUID in canonical text (36 characters, lower case), as
TaskId writes them; any other text stays text (TaskId binds it as text too). The downgrade converts
the 16-byte values back to exactly that text. The pages freed stay in the file for new rows (a VACUUM
gives them back to the file system). On PostgreSQL nothing changes (the ids
stay text).

Revision ID: 0027_work_item_ids_as_bytes
Revises: 0026_sqlite_integer_timestamps
"""
import uuid

from alembic import op

revision = "0027_work_item_ids_as_bytes"
down_revision = "0026_sqlite_integer_timestamps"
branch_labels = None
depends_on = None

# (table, column) of every work item / task id.
_COLUMNS = (
    ("work_items", "id"),
    ("work_item_groups", "work_item_id"),
    ("work_item_group_links", "work_item_id"),
    ("events", "work_item_id"),
    ("external_tasks", "id"),
    ("deadlines", "task_id"),
    ("command_failures", "work_item_id"),
    ("materials", "work_item_id"),
)


def _as_bytes(value):
    """The 16 bytes of a UUID in canonical text, anything else as it is (frozen copy of TaskId's rule)."""
    if not isinstance(value, str) or len(value) != 36:
        return value
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return value
    return parsed.bytes if str(parsed) == value else value


def _as_text(value):
    return str(uuid.UUID(bytes=value)) if isinstance(value, bytes) and len(value) == 16 else value


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _convert("yj_task_id_bytes",
                 "typeof({c}) = 'text' AND length({c}) = 36 AND typeof(yj_task_id_bytes({c})) = 'blob'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _convert("yj_task_id_text", "typeof({c}) = 'blob' AND length({c}) = 16")


def _convert(function: str, where: str) -> None:
    """Every id column's values through `function` (a Python function given to this SQLite
    connection), with the foreign key of work_item_groups checked at commit (its rows and their
    work items change one after the other) and the append-only guard of events off meanwhile."""
    bind = op.get_bind()
    raw = bind.connection.driver_connection
    assert raw is not None  # a connection in use
    raw.create_function("yj_task_id_bytes", 1, _as_bytes, deterministic=True)
    raw.create_function("yj_task_id_text", 1, _as_text, deterministic=True)
    guard = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'events_no_update'").scalar()
    op.execute("PRAGMA defer_foreign_keys = ON")
    if guard is not None:
        op.execute("DROP TRIGGER events_no_update")
    for table, column in _COLUMNS:
        op.execute(f"UPDATE {table} SET {column} = {function}({column}) WHERE {where.format(c=column)}")
    if guard is not None:
        op.execute(guard)
