"""Audit: background export jobs, and indexes for the case search (applicant, application time).

Revision ID: 0005_audit
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

import yijianshi.storage.tables.base

revision = "0005_audit"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("filter_json", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=1024), nullable=True),
        sa.Column("created_at", yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
        sa.Column("finished_at", yijianshi.storage.tables.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_export_jobs_requested_by", "export_jobs", ["requested_by", "id"], unique=False)
    op.create_index("ix_cases_started_by", "cases", ["started_by", "id"], unique=False)
    op.create_index("ix_cases_started_at", "cases", ["started_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cases_started_at", table_name="cases")
    op.drop_index("ix_cases_started_by", table_name="cases")
    op.drop_index("ix_export_jobs_requested_by", table_name="export_jobs")
    op.drop_table("export_jobs")
