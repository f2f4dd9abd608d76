"""Several hosts: stored files and generated secrets in the database, so that web hosts share
nothing but the database (storage/tables/shared_files.py), and marks of the signed checkpoints, so
that a scheduler whose checkpoint folder is not the shared one notices (storage/tables/audit.py).
On PostgreSQL the chunks are stored uncompressed (STORAGE EXTERNAL): PDFs, JPEGs, PNGs and OFDs are
compressed already.

Revision ID: 0020_several_hosts
Revises: 0019_lean_case_rows
"""
import sqlalchemy as sa
from alembic import op

revision = "0020_several_hosts"
down_revision = "0019_lean_case_rows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_files",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "stored_file_chunks",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["key"], ["stored_files.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key", "seq"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE stored_file_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    op.create_table(
        "checkpoint_marks",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("number"),
    )
    op.create_table(
        "app_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("app_secrets")
    op.drop_table("checkpoint_marks")
    op.drop_table("stored_file_chunks")
    op.drop_table("stored_files")
