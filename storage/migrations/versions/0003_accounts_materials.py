"""Sign-in accounts and uploaded materials (the web front's tables).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

import yijianshi.storage.tables.base

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_accounts',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('departments', sa.String(length=512), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
    sa.Column('last_login_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', yijianshi.storage.tables.base.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('username')
    )
    op.create_table('materials',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('work_item_id', sa.String(length=36), nullable=True),
    sa.Column('task_name', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', yijianshi.storage.tables.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('materials', schema=None) as batch_op:
        batch_op.create_index('ix_materials_case', ['case_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_materials_sha256'), ['sha256'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('materials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_materials_sha256'))
        batch_op.drop_index('ix_materials_case')

    op.drop_table('materials')
    op.drop_table('user_accounts')
