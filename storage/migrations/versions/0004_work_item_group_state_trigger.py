"""Keep work_item_groups.state in step with work_items.state inside the database, so ending a work
item is one statement instead of two on the hot path of every completion.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER work_items_group_state AFTER UPDATE OF state ON work_items "
            "BEGIN UPDATE work_item_groups SET state = NEW.state WHERE work_item_id = NEW.id; END"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION work_items_group_state() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN UPDATE work_item_groups SET state = NEW.state WHERE work_item_id = NEW.id; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER work_items_group_state AFTER UPDATE OF state ON work_items "
            "FOR EACH ROW EXECUTE FUNCTION work_items_group_state()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS work_items_group_state")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS work_items_group_state ON work_items")
        op.execute("DROP FUNCTION IF EXISTS work_items_group_state()")
