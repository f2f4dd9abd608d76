"""Measured outcomes: the finished cases of a scenario in a period are found by one index range scan
(storage/outcome_store.py).

Revision ID: 0021_measured_outcomes
Revises: 0020_several_hosts
"""
from alembic import op

revision = "0021_measured_outcomes"
down_revision = "0020_several_hosts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_scenario_ended", "cases", ["definition_key", "ended_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_scenario_ended", table_name="cases")
