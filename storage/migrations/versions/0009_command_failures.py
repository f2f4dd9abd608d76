"""Failed case commands (for the administrators' list of stuck cases).

Revision ID: 0009_command_failures
Revises: 0008_inbox_order_and_case_search
"""
import sqlalchemy as sa
from alembic import op

import yijianshi.storage.tables.base

revision = "0009_command_failures"
down_revision = "0008_inbox_order_and_case_search"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "command_failures",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("case_version", sa.Integer(), nullable=False),
        sa.Column("command", sa.String(length=64), nullable=False),
        sa.Column("work_item_id", sa.String(length=36), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("error", sa.String(length=2000), nullable=False),
        sa.Column("failed_at", yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("command_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_command_failures_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("command_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_command_failures_case_id"))
    op.drop_table("command_failures")
