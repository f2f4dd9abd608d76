"""Tables of sign-in accounts (applicants, clerks and staff members with a role) and of their sessions:
a signed-in browser's cookie names a session row, so signing out or changing the password ends
sessions on the server, whatever cookies are still around."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, text
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
    # Sign-in attempts in the current window (counted before the password is checked); reset by a
    # success and when the account is locked.
    failed_logins: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lockouts: Mapped[int] = mapped_column(Integer, server_default=text("0"))  # locks since the last success


class SignInSession(Base):
    """One signed-in browser. Only the SHA-256 of the session id in its cookie is kept."""

    __tablename__ = "sign_in_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("user_accounts.username"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
