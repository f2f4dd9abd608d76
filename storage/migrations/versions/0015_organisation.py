"""The organisation as data: units (district, 街镇, 片区, departments, sub-units), memberships,
deputies (代理) and absences.

Revision ID: 0015_organisation
Revises: 0014_notification_outbox
"""
import sqlalchemy as sa
from alembic import op

revision = "0015_organisation"
down_revision = "0014_notification_outbox"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "org_units",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=64), nullable=True),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(["parent_code"], ["org_units.code"]),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index(op.f("ix_org_units_parent_code"), "org_units", ["parent_code"], unique=False)
    op.create_table(
        "org_memberships",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["unit_code"], ["org_units.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username", "unit_code", name="uq_org_memberships_person_unit"),
    )
    op.create_index(op.f("ix_org_memberships_username"), "org_memberships", ["username"], unique=False)
    op.create_index(op.f("ix_org_memberships_unit_code"), "org_memberships", ["unit_code"], unique=False)
    op.create_table(
        "org_deputies",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("deputy", sa.String(length=64), nullable=False),
        sa.Column("principal", sa.String(length=64), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_org_deputies_deputy"), "org_deputies", ["deputy"], unique=False)
    op.create_index(op.f("ix_org_deputies_principal"), "org_deputies", ["principal"], unique=False)
    op.create_table(
        "org_absences",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), server_default=sa.text("''"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_org_absences_username"), "org_absences", ["username"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_org_absences_username"), table_name="org_absences")
    op.drop_table("org_absences")
    op.drop_index(op.f("ix_org_deputies_principal"), table_name="org_deputies")
    op.drop_index(op.f("ix_org_deputies_deputy"), table_name="org_deputies")
    op.drop_table("org_deputies")
    op.drop_index(op.f("ix_org_memberships_unit_code"), table_name="org_memberships")
    op.drop_index(op.f("ix_org_memberships_username"), table_name="org_memberships")
    op.drop_table("org_memberships")
    op.drop_index(op.f("ix_org_units_parent_code"), table_name="org_units")
    op.drop_table("org_units")
