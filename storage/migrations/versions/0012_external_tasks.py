"""Open external tasks (Camunda service tasks done by workers over /engine-rest).

Revision ID: 0012_external_tasks
Revises: 0011_start_event_forms
"""
import sqlalchemy as sa
from alembic import op

import yijianshi.storage.tables.base

revision = "0012_external_tasks"
down_revision = "0011_start_event_forms"
branch_labels = None
depends_on = None

UTC = yijianshi.storage.tables.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "external_tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("definition_key", sa.String(length=255), nullable=False),
        sa.Column("business_key", sa.String(length=255), nullable=True),
        sa.Column("process_id", sa.String(length=255), nullable=False),
        sa.Column("task_spec", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("variables_json", sa.Text(), nullable=False),
        sa.Column("worker_id", sa.String(length=255), nullable=True),
        sa.Column("lock_expires_at", UTC(), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.String(length=2000), nullable=True),
        sa.Column("error_details", sa.Text(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("external_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_external_tasks_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_external_tasks_topic", ["topic", "lock_expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("external_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_external_tasks_topic")
        batch_op.drop_index(batch_op.f("ix_external_tasks_case_id"))
    op.drop_table("external_tasks")
