"""Table of sign-in accounts: applicants, clerks and staff members with a role."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, UTCDateTime


class UserAccount(Base):
    """A person who signs in: an applicant, a clerk, or a staff member with a role."""

    __tablename__ = "user_accounts"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    departments: Mapped[str] = mapped_column(String(512))  # comma-separated department/role codes
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_logins: Mapped[int] = mapped_column(Integer)  # consecutive failures since the last success
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
