"""A case's base state gets a row of its own (#17): `case_states (case_id, base)`, written only by a
command that writes a full state (the start, a compaction, the end). A command that writes a delta
updates the small case row alone; with the base in that row, every command's UPDATE copied it
(PostgreSQL writes a whole new row version, and its WAL record carried the base too, the column
sitting between the changed ones). The blobs of existing cases move over; `cases.engine_state`
stays for rows written before 0019 (plain JSON).

Revision ID: 0031_case_state_bases
Revises: 0030_case_state_deltas
"""
import sqlalchemy as sa
from alembic import op

revision = "0031_case_state_bases"
down_revision = "0030_case_state_deltas"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "case_states",
        sa.Column("case_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("base", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.execute("INSERT INTO case_states (case_id, base) SELECT id, state_blob FROM cases WHERE state_blob IS NOT NULL")
    op.drop_column("cases", "state_blob")  # SQLite: ALTER TABLE ... DROP COLUMN (3.35 and later)


def downgrade() -> None:
    op.add_column("cases", sa.Column("state_blob", sa.LargeBinary(), nullable=True))
    op.execute("UPDATE cases SET state_blob = (SELECT base FROM case_states WHERE case_states.case_id = cases.id)")
    op.drop_table("case_states")
