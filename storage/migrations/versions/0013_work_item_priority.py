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


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default=sa.text("50"), nullable=False))
        batch_op.add_column(sa.Column("follow_up_at", UTC(), nullable=True))
    with op.batch_alter_table("work_item_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority_key", sa.Integer(), server_default=sa.text("-50"), nullable=False))
        batch_op.create_index("ix_work_item_groups_priority", ["group_code", "state", "priority_key", "due_key",
                                                               "created_at", "work_item_id"], unique=False)
    with op.batch_alter_table("definitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("initiator", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("definitions", schema=None) as batch_op:
        batch_op.drop_column("initiator")
    with op.batch_alter_table("work_item_groups", schema=None) as batch_op:
        batch_op.drop_index("ix_work_item_groups_priority")
        batch_op.drop_column("priority_key")
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_column("follow_up_at")
        batch_op.drop_column("priority")
