"""Tables of the organisation: units as a tree (district → 街镇 → 片区; departments → sub-units),
who belongs to which unit and in which capacity, who deputises for whom (代理) and who is absent
between which dates. People are named by their user name (an account may be created later)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, BigId


class OrgUnit(Base):
    """One unit: kind district | street | grid | department | sub_unit; parent_code None at the top."""

    __tablename__ = "org_units"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("org_units.code"), index=True)
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))  # order among siblings


class OrgMembership(Base):
    """A person in a unit: role member (办事人员) or leader (负责人, who also sees the units below)."""

    __tablename__ = "org_memberships"
    __table_args__ = (UniqueConstraint("username", "unit_code", name="uq_org_memberships_person_unit"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("org_units.code"), index=True)
    role: Mapped[str] = mapped_column(String(16))


class OrgDeputy(Base):
    """`deputy` acts for `principal` from starts_on to ends_on (both days included)."""

    __tablename__ = "org_deputies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    deputy: Mapped[str] = mapped_column(String(64), index=True)
    principal: Mapped[str] = mapped_column(String(64), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)


class OrgAbsence(Base):
    """A person away from starts_on to ends_on (both days included): offered no new work items."""

    __tablename__ = "org_absences"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), server_default=text("''"))
