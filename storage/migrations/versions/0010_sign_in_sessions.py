"""Server-side sign-in sessions, and the count of consecutive account locks (the lock doubles).

Revision ID: 0010_sign_in_sessions
Revises: 0009_command_failures
"""
import sqlalchemy as sa
from alembic import op

import yijianshi.storage.tables.base

revision = "0010_sign_in_sessions"
down_revision = "0009_command_failures"
branch_labels = None
depends_on = None

UTC = yijianshi.storage.tables.base.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("user_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lockouts", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.create_table(
        "sign_in_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["user_accounts.username"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("sign_in_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_sessions_username"), ["username"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sign_in_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_sessions_username"))
    op.drop_table("sign_in_sessions")
    with op.batch_alter_table("user_accounts", schema=None) as batch_op:
        batch_op.drop_column("lockouts")
