"""Less written per case command and per finished case: inbox rows only for open items, departments
kept in work_item_group_links, work_items indexes without state, the engine state compressed.

- work_item_groups holds the open items only: an ending item's rows are deleted by the command
  (the state trigger of 0004 goes); which departments an item ever had moves to the insert-only
  work_item_group_links, filled here from the existing rows;
- work_items' indexes no longer contain `state`, so ending an item on PostgreSQL touches fewer
  index entries;
- the engine state is stored zlib-compressed in cases.state_blob (engine_state stays for rows
  written before; a command writing the state empties it);
- events lose ix_events_case_id (uq_events_case_seq starts with case_id).

Revision ID: 0019_lean_case_rows
Revises: 0017_guarded_writes
"""
import sqlalchemy as sa
from alembic import op

import yijianshi.storage.tables.base

revision = "0019_lean_case_rows"
down_revision = "0017_guarded_writes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "work_item_group_links",
        sa.Column("work_item_id", sa.String(length=36), nullable=False),
        sa.Column("group_code", sa.String(length=128), nullable=False),
        sa.Column("case_id", yijianshi.storage.tables.base.BigId, nullable=False),
        sa.PrimaryKeyConstraint("work_item_id", "group_code"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_work_item_group_links_group", "work_item_group_links", ["group_code", "case_id"])
    op.execute("INSERT INTO work_item_group_links (work_item_id, group_code, case_id) "
               "SELECT work_item_id, group_code, case_id FROM work_item_groups WHERE group_code <> '*'")
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS work_items_group_state")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS work_items_group_state ON work_items")
        op.execute("DROP FUNCTION IF EXISTS work_items_group_state()")
    op.execute("DELETE FROM work_item_groups WHERE state <> 'ready'")
    # Plain DDL (never batch mode, which would recreate work_items).
    op.drop_index("ix_work_items_state_due", table_name="work_items")
    op.drop_index("ix_work_items_claimed", table_name="work_items")
    op.create_index("ix_work_items_due", "work_items", ["due_at"])
    op.create_index("ix_work_items_claimed", "work_items", ["claimed_by"])
    op.drop_index("ix_events_case_id", table_name="events")
    op.add_column("cases", sa.Column("state_blob", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    # Rows written since keep their state only in the blob: put it back as text first.
    bind = op.get_bind()
    import zlib
    rows = bind.execute(sa.text("SELECT id, state_blob FROM cases WHERE state_blob IS NOT NULL")).all()
    for case_id, blob in rows:
        bind.execute(sa.text("UPDATE cases SET engine_state = :s WHERE id = :i"),
                     {"s": zlib.decompress(blob).decode("utf-8"), "i": case_id})
    op.drop_column("cases", "state_blob")
    op.create_index("ix_events_case_id", "events", ["case_id"])
    op.drop_index("ix_work_items_claimed", table_name="work_items")
    op.drop_index("ix_work_items_due", table_name="work_items")
    op.create_index("ix_work_items_claimed", "work_items", ["claimed_by", "state"])
    op.create_index("ix_work_items_state_due", "work_items", ["state", "due_at"])
    # The inbox rows of ended items are gone; the links give their departments back.
    op.execute("INSERT INTO work_item_groups (work_item_id, group_code, state, due_key, warning_at, created_at, "
               "case_id, definition_key, claimed_by, priority_key) "
               "SELECT l.work_item_id, l.group_code, w.state, COALESCE(w.due_at, '9999-12-31 23:59:59'), w.warning_at, "
               "w.created_at, w.case_id, c.definition_key, w.claimed_by, -w.priority "
               "FROM work_item_group_links l JOIN work_items w ON w.id = l.work_item_id "
               "JOIN cases c ON c.id = w.case_id WHERE w.state <> 'ready'")
    if dialect == "sqlite":
        op.execute("CREATE TRIGGER work_items_group_state AFTER UPDATE OF state ON work_items "
                   "BEGIN UPDATE work_item_groups SET state = NEW.state WHERE work_item_id = NEW.id; END")
    elif dialect == "postgresql":
        op.execute("CREATE FUNCTION work_items_group_state() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN UPDATE work_item_groups SET state = NEW.state WHERE work_item_id = NEW.id; RETURN NEW; END $$")
        op.execute("CREATE TRIGGER work_items_group_state AFTER UPDATE OF state ON work_items "
                   "FOR EACH ROW EXECUTE FUNCTION work_items_group_state()")
    op.drop_index("ix_work_item_group_links_group", table_name="work_item_group_links")
    op.drop_table("work_item_group_links")
