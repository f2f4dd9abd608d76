"""Less stored per finished case (#17): digests as their bytes on SQLite, index entries that no query
reads left out.

- cases.history_head and case_search_terms.term: on SQLite a value of 64 lower-case hex digits (a
  SHA-256: every history head, every hashed ID number or credit code) is kept as its 32 bytes
  (storage/tables/base.DigestText reads it back as the same text); other text stays text. The
  columns keep their declared types; PostgreSQL keeps the text.
- ix_cases_definition_key is dropped: ix_cases_scenario_ended (definition_key, ended_at) serves
  every lookup by scenario.
- ix_cases_business_key, ix_work_items_claimed and the unique index of outbox.dedupe_key hold only
  rows that have a value (a lookup is always by a value; NULL entries were never read). On SQLite
  the unique constraint of outbox.dedupe_key was part of the table, so the table is copied once.

Revision ID: 0029_lean_case_indexes
Revises: 0028_event_type_codes
"""
import sqlalchemy as sa
from alembic import op

revision = "0029_lean_case_indexes"
down_revision = "0028_event_type_codes"
branch_labels = None
depends_on = None

# (table, column) whose SHA-256 hex values become bytes on SQLite.
_DIGEST_COLUMNS = (("cases", "history_head"), ("case_search_terms", "term"))
# Partial indexes: (name, table, column).
_PARTIAL = (("ix_cases_business_key", "cases", "business_key"),
            ("ix_work_items_claimed", "work_items", "claimed_by"))


def _as_bytes(value):
    """The 32 bytes of 64 lower-case hex digits, anything else as it is (frozen copy of DigestText's rule)."""
    if not isinstance(value, str) or len(value) != 64:
        return value
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return value
    return raw if len(raw) == 32 and raw.hex() == value else value


def _as_text(value):
    return value.hex() if isinstance(value, bytes) else value


def _outbox(unique: bool) -> sa.Table:
    """The outbox table as it is at 0029 (frozen), with its dedupe key unique in the table or not."""
    return sa.Table(
        "outbox", sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(1000), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(255), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        *([sa.UniqueConstraint("dedupe_key")] if unique else []),
        sa.Index("ix_outbox_due", "state", "next_attempt_at"),
        sa.Index("ix_outbox_case_id", "case_id"),
    )


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _convert_digests(_as_bytes, "typeof({c}) = 'text' AND length({c}) = 64")
    op.drop_index("ix_cases_definition_key", table_name="cases")
    for name, table, column in _PARTIAL:
        op.drop_index(name, table_name=table)
        _partial_index(name, table, column)
    if sqlite:
        with op.batch_alter_table("outbox", copy_from=_outbox(unique=False), recreate="always"):
            pass
    else:
        op.drop_constraint("outbox_dedupe_key_key", "outbox", type_="unique")
    op.create_index("uq_outbox_dedupe_key", "outbox", ["dedupe_key"], unique=True,
                    sqlite_where=sa.text("dedupe_key IS NOT NULL"), postgresql_where=sa.text("dedupe_key IS NOT NULL"))


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("uq_outbox_dedupe_key", table_name="outbox")
    if sqlite:
        with op.batch_alter_table("outbox", copy_from=_outbox(unique=True), recreate="always"):
            pass
    else:
        op.create_unique_constraint("outbox_dedupe_key_key", "outbox", ["dedupe_key"])
    for name, table, column in _PARTIAL:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [column])
    op.create_index("ix_cases_definition_key", "cases", ["definition_key"])
    if sqlite:
        _convert_digests(_as_text, "typeof({c}) = 'blob'")


def _partial_index(name: str, table: str, column: str) -> None:
    where = sa.text(f"{column} IS NOT NULL")
    op.create_index(name, table, [column], sqlite_where=where, postgresql_where=where)


def _convert_digests(function, where: str) -> None:
    """The digest columns' values through `function`, a Python function given to this SQLite connection."""
    raw = op.get_bind().connection.driver_connection
    assert raw is not None  # a connection in use
    raw.create_function("yj_digest", 1, function, deterministic=True)
    for table, column in _DIGEST_COLUMNS:
        op.execute(f"UPDATE {table} SET {column} = yj_digest({column}) WHERE {where.format(c=column)}")
