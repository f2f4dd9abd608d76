"""Camunda 7 assignment attributes: the priority and follow-up date of a work item (with the
inbox's priority order), and the camunda:initiator variable of a definition version.

Revision ID: 0013_work_item_priority
Revises: 0012_external_tasks
"""
import sqlalchemy as sa
from alembic import op

import yijianshi.storage.tables.base

revision = "0013_work_item_priority"
down_revision = "0012_external_tasks"
branch_labels = None
depends_on = None

UTC = yijianshi.storage.tables.base.UTCDateTime


# Plain ALTER TABLE (never batch mode): recreating work_items on SQLite would drop the trigger of
# migration 0004 that keeps work_item_groups.state in step. SQLite >= 3.35 drops columns natively.


def upgrade() -> None:
    op.add_column("work_items", sa.Column("priority", sa.Integer(), server_default=sa.text("50"), nullable=False))
    op.add_column("work_items", sa.Column("follow_up_at", UTC(), nullable=True))
    op.add_column("work_item_groups",
                  sa.Column("priority_key", sa.Integer(), server_default=sa.text("-50"), nullable=False))
    op.create_index("ix_work_item_groups_priority", "work_item_groups",
                    ["group_code", "state", "priority_key", "due_key", "created_at", "work_item_id"], unique=False)
    op.add_column("definitions", sa.Column("initiator", sa.String(length=255), nullable=True))


def downgrade() -> None:
    op.drop_column("definitions", "initiator")
    op.drop_index("ix_work_item_groups_priority", table_name="work_item_groups")
    op.drop_column("work_item_groups", "priority_key")
    op.drop_column("work_items", "follow_up_at")
    op.drop_column("work_items", "priority")
