"""Ending a work item becomes a HOT update on PostgreSQL: work_items keeps no index of a column that
ending changes (the due-time index goes: open items are read through work_item_groups; the
ended-time index goes: the items ended in a window are found through a partial index of their
ending events, ix_events_item_ends), and its pages keep 15 % free for the new row versions.

Revision ID: 0023_hot_work_item_updates
Revises: 0021_measured_outcomes
"""
import sqlalchemy as sa
from alembic import op

revision = "0023_hot_work_item_updates"
down_revision = "0021_measured_outcomes"
branch_labels = None
depends_on = None

ITEM_ENDS = sa.text("type IN ('work_item_completed', 'work_item_cancelled')")


def upgrade() -> None:
    op.drop_index("ix_work_items_due", table_name="work_items")
    op.drop_index("ix_work_items_ended", table_name="work_items")
    op.create_index("ix_events_item_ends", "events", ["at"], postgresql_where=ITEM_ENDS, sqlite_where=ITEM_ENDS)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE work_items SET (fillfactor = 85)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE work_items RESET (fillfactor)")
    op.drop_index("ix_events_item_ends", table_name="events")
    op.create_index("ix_work_items_ended", "work_items", ["ended_at"])
    op.create_index("ix_work_items_due", "work_items", ["due_at"])
