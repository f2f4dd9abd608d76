"""Inbox pages read in index order: work_item_groups carries what inboxes sort and filter on (due
key without NULLs, warning time, arrival, case, scenario, claimer) with one index per sort order,
and every work item gets a row under "*" for the inboxes of all departments. Cases get their
search terms (names, and hashes of ID numbers and credit codes), filled from the history.

Revision ID: 0008_inbox_order_and_case_search
Revises: 0007_api_clients
"""
import json

import sqlalchemy as sa
from alembic import op

import yijianshi.storage.tables.base
from yijianshi.storage import case_search
from yijianshi.storage.tables import EVERY_GROUP, NO_DEADLINE

revision = "0008_inbox_order_and_case_search"
down_revision = "0007_api_clients"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = yijianshi.storage.tables.base.UTCDateTime
SORT_INDEXES = {
    "ix_work_item_groups_due": ["group_code", "state", "due_key", "created_at", "work_item_id", "warning_at",
                                "claimed_by"],
    "ix_work_item_groups_warning": ["group_code", "state", "warning_at", "due_key", "work_item_id"],
    "ix_work_item_groups_received": ["group_code", "state", "created_at", "work_item_id"],
    "ix_work_item_groups_case": ["group_code", "state", "case_id", "created_at", "work_item_id"],
    "ix_work_item_groups_scenario": ["group_code", "state", "definition_key", "due_key", "created_at",
                                     "work_item_id"],
}


# SQLite rebuilds a table to change its columns; the state trigger (0004) names the table, so it is
# taken off while the table is rebuilt.
_SQLITE_TRIGGER = ("CREATE TRIGGER work_items_group_state AFTER UPDATE OF state ON work_items "
                   "BEGIN UPDATE work_item_groups SET state = NEW.state WHERE work_item_id = NEW.id; END")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _sqlite():
        op.execute("DROP TRIGGER IF EXISTS work_items_group_state")
    with op.batch_alter_table("work_item_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_key", UTC(), nullable=True))
        batch_op.add_column(sa.Column("warning_at", UTC(), nullable=True))
        batch_op.add_column(sa.Column("created_at", UTC(), nullable=True))
        batch_op.add_column(sa.Column("case_id", BIG_ID, nullable=True))
        batch_op.add_column(sa.Column("definition_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=255), nullable=True))
    none = sa.bindparam("none", NO_DEADLINE, type_=UTC())
    op.execute(sa.text(
        "UPDATE work_item_groups SET "
        "due_key = COALESCE((SELECT w.due_at FROM work_items w WHERE w.id = work_item_id), :none), "
        "warning_at = (SELECT w.warning_at FROM work_items w WHERE w.id = work_item_id), "
        "created_at = (SELECT w.created_at FROM work_items w WHERE w.id = work_item_id), "
        "case_id = (SELECT w.case_id FROM work_items w WHERE w.id = work_item_id), "
        "claimed_by = (SELECT w.claimed_by FROM work_items w WHERE w.id = work_item_id), "
        "definition_key = (SELECT c.definition_key FROM work_items w JOIN cases c ON c.id = w.case_id "
        "WHERE w.id = work_item_id)").bindparams(none))
    op.execute(sa.text(
        "INSERT INTO work_item_groups (work_item_id, group_code, state, due_key, warning_at, created_at, "
        "case_id, definition_key, claimed_by) "
        "SELECT w.id, :every, w.state, COALESCE(w.due_at, :none), w.warning_at, w.created_at, w.case_id, "
        "c.definition_key, w.claimed_by FROM work_items w JOIN cases c ON c.id = w.case_id")
        .bindparams(none, sa.bindparam("every", EVERY_GROUP)))
    with op.batch_alter_table("work_item_groups", schema=None) as batch_op:
        batch_op.drop_index("ix_work_item_groups_group_state")
        batch_op.drop_column("due_at")
        for name in ("due_key", "created_at", "case_id", "definition_key"):
            batch_op.alter_column(name, nullable=False)
        for name, columns in SORT_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    if _sqlite():
        op.execute(_SQLITE_TRIGGER)

    op.create_table(
        "case_search_terms",
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("term", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id", "kind", "term"),
    )
    with op.batch_alter_table("case_search_terms", schema=None) as batch_op:
        batch_op.create_index("ix_case_search_terms_lookup", ["kind", "term"], unique=False)
    _fill_search_terms(op.get_bind())


def _fill_search_terms(conn) -> None:
    """Terms of the cases there are, from the data they started with and the forms submitted since."""
    rows = conn.execute(sa.text(
        "SELECT case_id, type, data FROM events WHERE type IN ('case_started', 'work_item_completed') "
        "ORDER BY case_id, seq"))
    for case_id, type_, data in rows.fetchall():
        payload = json.loads(data)
        values = payload.get("data") if type_ == "case_started" else payload.get("submitted")
        case_search.add_terms(conn, case_id, case_search.terms_of(values or {}))


def downgrade() -> None:
    with op.batch_alter_table("case_search_terms", schema=None) as batch_op:
        batch_op.drop_index("ix_case_search_terms_lookup")
    op.drop_table("case_search_terms")
    op.execute(sa.text("DELETE FROM work_item_groups WHERE group_code = :every")
               .bindparams(sa.bindparam("every", EVERY_GROUP)))
    if _sqlite():
        op.execute("DROP TRIGGER IF EXISTS work_items_group_state")
    with op.batch_alter_table("work_item_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", UTC(), nullable=True))
    op.execute("UPDATE work_item_groups SET due_at = (SELECT w.due_at FROM work_items w WHERE w.id = work_item_id)")
    with op.batch_alter_table("work_item_groups", schema=None) as batch_op:
        for name in SORT_INDEXES:
            batch_op.drop_index(name)
        for name in ("claimed_by", "definition_key", "case_id", "created_at", "warning_at", "due_key"):
            batch_op.drop_column(name)
        batch_op.create_index("ix_work_item_groups_group_state", ["group_code", "state", "due_at"], unique=False)
    if _sqlite():
        op.execute(_SQLITE_TRIGGER)
