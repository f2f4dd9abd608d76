"""Working-day calendar, armed deadlines, scheduler leadership; work-item warning times.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import yijianshi.storage.tables.base

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_closures',
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('region', 'day')
    )
    op.create_table('calendar_years',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('schedule_json', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=1024), nullable=False),
    sa.Column('loaded_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
    sa.Column('loaded_by', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.create_table('scheduler_leases',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=255), nullable=False),
    sa.Column('expires_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
    sa.Column('acquired_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('deadlines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('task_spec', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('due_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('armed_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
    sa.Column('fired_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deadlines_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_deadlines_state_due', ['state', 'due_at'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attention', sa.String(length=512), nullable=True))

    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warning_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.drop_column('warning_at')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('attention')

    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_deadlines_state_due')
        batch_op.drop_index(batch_op.f('ix_deadlines_case_id'))

    op.drop_table('deadlines')
    op.drop_table('scheduler_leases')
    op.drop_table('calendar_years')
    op.drop_table('calendar_closures')
