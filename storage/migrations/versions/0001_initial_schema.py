"""Initial schema: definitions, cases, projections, and the append-only event log.

Revision ID: 0001
Revises: 
"""
import sqlalchemy as sa
from alembic import op

import yijianshi.storage.tables.base

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('definition_files',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    op.create_table('definitions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('spec_json', sa.Text(), nullable=False),
    sa.Column('task_meta_json', sa.Text(), nullable=False),
    sa.Column('files_json', sa.Text(), nullable=False),
    sa.Column('deployed_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
    sa.Column('deployed_by', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', 'version', name='uq_definitions_key_version')
    )
    with op.batch_alter_table('definitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_definitions_key'), ['key'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('definition_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('definition_key', sa.String(length=255), nullable=False),
    sa.Column('business_key', sa.String(length=255), nullable=True),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('engine_state', sa.Text(), nullable=False),
    sa.Column('started_by', sa.String(length=255), nullable=False),
    sa.Column('started_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
    sa.Column('ended_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=True),
    sa.Column('history_seq', sa.Integer(), nullable=False),
    sa.Column('history_head', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['definition_id'], ['definitions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_business_key'), ['business_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_definition_id'), ['definition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_definition_key'), ['definition_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status'), ['status'], unique=False)

    op.create_table('correlation_values',
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=512), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'name')
    )
    with op.batch_alter_table('correlation_values', schema=None) as batch_op:
        batch_op.create_index('ix_correlation_values_lookup', ['name', 'value'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('at', yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
    sa.Column('work_item_id', sa.String(length=36), nullable=True),
    sa.Column('task_spec', sa.String(length=255), nullable=True),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'seq', name='uq_events_case_seq')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_case_id'), ['case_id'], unique=False)

    op.create_table('message_waits',
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_name', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'message_name')
    )
    with op.batch_alter_table('message_waits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_waits_message_name'), ['message_name'], unique=False)

    op.create_table('work_items',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('definition_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('process_id', sa.String(length=255), nullable=False),
    sa.Column('task_spec', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('groups', sa.String(length=1024), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('claimed_by', sa.String(length=255), nullable=True),
    sa.Column('claimed_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=True),
    sa.Column('due_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=True),
    sa.Column('created_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
    sa.Column('ended_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=True),
    sa.Column('ended_by', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['definition_id'], ['definitions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_items_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_work_items_claimed', ['claimed_by', 'state'], unique=False)
        batch_op.create_index('ix_work_items_state_due', ['state', 'due_at'], unique=False)

    op.create_table('work_item_groups',
    sa.Column('work_item_id', sa.String(length=36), nullable=False),
    sa.Column('group_code', sa.String(length=128), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('due_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['work_item_id'], ['work_items.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('work_item_id', 'group_code')
    )
    with op.batch_alter_table('work_item_groups', schema=None) as batch_op:
        batch_op.create_index('ix_work_item_groups_group_state', ['group_code', 'state', 'due_at'], unique=False)


    _make_events_append_only()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS events_append_only()")
    with op.batch_alter_table('work_item_groups', schema=None) as batch_op:
        batch_op.drop_index('ix_work_item_groups_group_state')

    op.drop_table('work_item_groups')
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.drop_index('ix_work_items_state_due')
        batch_op.drop_index('ix_work_items_claimed')
        batch_op.drop_index(batch_op.f('ix_work_items_case_id'))

    op.drop_table('work_items')
    with op.batch_alter_table('message_waits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_waits_message_name'))

    op.drop_table('message_waits')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_case_id'))

    op.drop_table('events')
    with op.batch_alter_table('correlation_values', schema=None) as batch_op:
        batch_op.drop_index('ix_correlation_values_lookup')

    op.drop_table('correlation_values')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_status'))
        batch_op.drop_index(batch_op.f('ix_cases_definition_key'))
        batch_op.drop_index(batch_op.f('ix_cases_definition_id'))
        batch_op.drop_index(batch_op.f('ix_cases_business_key'))

    op.drop_table('cases')
    with op.batch_alter_table('definitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_definitions_key'))

    op.drop_table('definitions')
    op.drop_table('definition_files')


def _make_events_append_only() -> None:
    """History rows may be added, never changed or removed; the database itself refuses."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
                "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
            )
    elif bind.dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'events are append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION events_append_only()"
        )
