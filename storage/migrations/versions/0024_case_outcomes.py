"""The measured outcome of each finished case (case_outcomes), kept so that the figures after a
restart read one row per case instead of every case's events (engine/supervision/outcomes.py).

Revision ID: 0024_case_outcomes
Revises: 0023_hot_work_item_updates
"""
import sqlalchemy as sa
from alembic import op

revision = "0024_case_outcomes"
down_revision = "0023_hot_work_item_updates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_outcomes",
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("basis", sa.String(64), nullable=False),
        sa.Column("measured_json", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("case_outcomes")
