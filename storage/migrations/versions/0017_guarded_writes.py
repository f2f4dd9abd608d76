"""The server-side check of a guarded write (storage/write_batch.py): a case command sends its
version-checked UPDATE, its other writes and COMMIT to PostgreSQL in one round trip, so the version
check cannot wait for the client; `yijianshi_expect_rows` raises SQLSTATE YJ409 when the UPDATE
matched another number of rows than expected, which skips the rest of the pipeline, COMMIT
included. SQLite checks the row count in the client and needs nothing.

Revision ID: 0017_guarded_writes
Revises: 0015_organisation
"""
from alembic import op

revision = "0017_guarded_writes"
down_revision = "0015_organisation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION yijianshi_expect_rows(actual bigint, expected bigint) RETURNS bigint "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "IF actual <> expected THEN "
        "RAISE EXCEPTION 'stale write: % rows changed, % expected', actual, expected USING ERRCODE = 'YJ409'; "
        "END IF; RETURN actual; END $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS yijianshi_expect_rows(bigint, bigint)")
