"""Event types as small codes on SQLite: less stored per finished case (#17).

On SQLite events.type keeps a code instead of the type's name ("2" instead of
"work_item_completed": about 14 events a case, 15 bytes each); storage/tables/event_types.EventType
writes the codes and reads the names back, so the hash chain (which commits to the names), the
replay and every reader see the same values as before. The code is stored as its decimal text: the
column stays VARCHAR(32) (SQLite would turn an integer into text in it), so no table is rebuilt.
The partial index ix_events_item_ends is made again with the codes in its WHERE (a query uses it
only with the same literals).

The upgrade converts the names of the code table as it is here (frozen: the codes never change);
any other text stays text. The downgrade writes the names back. On PostgreSQL nothing changes (the
names stay text).

Revision ID: 0028_event_type_codes
Revises: 0027_work_item_ids_as_bytes
"""
from alembic import op

revision = "0028_event_type_codes"
down_revision = "0027_work_item_ids_as_bytes"
branch_labels = None
depends_on = None

# storage/tables/event_types.EVENT_TYPE_CODES at 0028 (frozen).
CODES = {
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
_ITEM_ENDS = ("work_item_completed", "work_item_cancelled")


def upgrade() -> None:
    _convert({name: str(code) for name, code in CODES.items()}, [str(CODES[name]) for name in _ITEM_ENDS])


def downgrade() -> None:
    _convert({str(code): name for name, code in CODES.items()}, list(_ITEM_ENDS))


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _convert(mapping: dict[str, str], item_ends: list[str]) -> None:
    """SQLite: every events.type in `mapping` replaced by its value (one UPDATE, the append-only
    guard of events off meanwhile), and ix_events_item_ends made again for `item_ends` (the
    ending events' types as now stored, in the order of the model's WHERE)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    whens = " ".join(f"WHEN {_quoted(old)} THEN {_quoted(new)}" for old, new in mapping.items())
    olds = ", ".join(_quoted(old) for old in mapping)
    guard = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'events_no_update'").scalar()
    if guard is not None:
        op.execute("DROP TRIGGER events_no_update")
    op.execute("DROP INDEX IF EXISTS ix_events_item_ends")
    op.execute(f"UPDATE events SET type = CASE type {whens} END WHERE type IN ({olds})")
    op.execute("CREATE INDEX ix_events_item_ends ON events (at) "
               f"WHERE type IN ({', '.join(_quoted(v) for v in item_ends)})")
    if guard is not None:
        op.execute(guard)
