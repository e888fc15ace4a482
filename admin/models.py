"""Back-office tables: staff users (with a role) and staff notes.

Staff are not customers and never appear on documents. Notes are the one thing a
support user may write: free text attached to a customer, document or subscription,
append-only (a note is never edited or deleted, so it can be trusted as a record).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from praho.core.db import Base, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship


class StaffRole(StrEnum):
    """What a staff user may do: everything, money operations, or read plus notes."""

    ADMIN = "admin"
    BILLING = "billing"
    SUPPORT = "support"


class StaffUser(IdMixin, TimestampMixin, Base):
    """A person who logs in to /admin. The password is stored as a salted slow hash only."""

    __tablename__ = "staff_users"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[StaffRole] = mapped_column(String(10))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(2), default="ro")
    # Bumped when the password changes or the user is disabled: older sessions stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:  # never print the hash
        return f"<StaffUser {self.email} {self.role}>"


class StaffNote(IdMixin, TimestampMixin, Base):
    """A note a staff user left on an object (``customer``, ``invoice``, ``subscription``)."""

    __tablename__ = "staff_notes"
    __table_args__ = (Index("ix_staff_notes_object", "object_type", "object_id"),)

    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int] = mapped_column(BigInteger)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    body: Mapped[str] = mapped_column(Text)

    author: Mapped[StaffUser] = relationship()
