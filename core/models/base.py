"""Column helpers shared by every model module."""

from __future__ import annotations

from datetime import datetime

from praho.core.clock import utcnow
from praho.core.db import BigIntPK, UTCDateTime
from sqlalchemy.orm import Mapped, mapped_column


class IdMixin:
    """A BIGINT surrogate primary key (INTEGER on SQLite so it autoincrements)."""

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)


class TimestampMixin:
    """``created_at`` set once; models that change also carry ``updated_at``."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
