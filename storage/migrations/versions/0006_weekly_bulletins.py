"""The weekly bulletin (每周通报) of supervision, one row per ISO week; indexes on work items for
the supervision dashboard's period figures.

Revision ID: 0006_weekly_bulletins
Revises: 0005_audit
"""
import sqlalchemy as sa
from alembic import op

import yijianshi.storage.tables.base

revision = '0006_weekly_bulletins'
down_revision = '0005_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('weekly_bulletins',
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('week_start', sa.String(length=10), nullable=False),
    sa.Column('generated_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
    sa.Column('generated_by', sa.String(length=255), nullable=False),
    sa.Column('figures_json', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('week')
    )
    # Plain CREATE INDEX (no batch mode): recreating work_items on SQLite would drop its trigger.
    op.create_index('ix_work_items_ended', 'work_items', ['ended_at'], unique=False)
    op.create_index('ix_work_items_process_created', 'work_items', ['process_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_work_items_process_created', table_name='work_items')
    op.drop_index('ix_work_items_ended', table_name='work_items')
    op.drop_table('weekly_bulletins')
