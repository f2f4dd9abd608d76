"""Integration API: clients with hashed bearer tokens, and idempotency keys of start requests.

Revision ID: 0007_api_clients
Revises: 0006_weekly_bulletins
"""
import sqlalchemy as sa
from alembic import op

import yijianshi.storage.tables.base

revision = "0007_api_clients"
down_revision = "0006_weekly_bulletins"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=255), nullable=False),
        sa.Column("processes", sa.String(length=1024), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", yijianshi.storage.tables.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "api_idempotency_keys",
        sa.Column("client_id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("created_at", yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("client_id", "key"),
    )
    with op.batch_alter_table("api_idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_idempotency_keys_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_idempotency_keys_case_id"))
    op.drop_table("api_idempotency_keys")
    op.drop_table("api_clients")
