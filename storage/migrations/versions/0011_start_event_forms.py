"""The start-event form (camunda:formData on the process's start event) of a definition version.

Revision ID: 0011_start_event_forms
Revises: 0010_sign_in_sessions
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_start_event_forms"
down_revision = "0010_sign_in_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("definitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("start_form_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("definitions", schema=None) as batch_op:
        batch_op.drop_column("start_form_json")
