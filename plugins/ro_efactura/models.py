"""e-Factura tables: one submission per document, its history, and OAuth tokens per CUI."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from praho.core.db import Base, JSONDocument, UTCDateTime
from praho.core.models.base import IdMixin, TimestampMixin
from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship


class SubmissionState(StrEnum):
    """Where a document is on its way to ANAF (transitions: :mod:`.states`)."""

    PENDING = "pending"  # queued, nothing sent yet
    INVALID = "invalid"  # our own validation failed: never uploaded
    UPLOADING = "uploading"  # claimed by one worker; the request is about to leave
    UPLOADED = "uploaded"  # ANAF gave an upload index (index_incarcare)
    PROCESSING = "processing"  # stareMesaj said "in prelucrare"
    ACCEPTED = "accepted"  # stare ok: the signed invoice can be downloaded
    REJECTED = "rejected"  # stare nok, or refused at upload: ANAF's errors are stored
    UNKNOWN = "unknown"  # the request left and no answer came back
    CANCELLED = "cancelled"  # the document was voided before it was sent


class EfacturaSubmission(IdMixin, TimestampMixin, Base):
    """The one submission of one document to ANAF's SPV (unique per document)."""

    __tablename__ = "efactura_submissions"

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), unique=True)
    document_number: Mapped[str] = mapped_column(String(200))
    seller_cui: Mapped[str] = mapped_column(String(12), index=True)
    # upload?standard=UBL for invoices, CN for credit notes.
    standard: Mapped[str] = mapped_column(String(3))
    b2c: Mapped[bool] = mapped_column(Boolean, default=False)
    extern: Mapped[bool] = mapped_column(Boolean, default=False)
    self_billed: Mapped[bool] = mapped_column(Boolean, default=False)
    environment: Mapped[str] = mapped_column(String(4))
    state: Mapped[SubmissionState] = mapped_column(
        String(12), default=SubmissionState.PENDING, index=True
    )
    issue_date: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The exact bytes uploaded (or about to be), so an unknown outcome can be matched.
    xml: Mapped[bytes | None] = mapped_column(LargeBinary)
    xml_sha256: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    upload_index: Mapped[str | None] = mapped_column(String(40), unique=True)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    poll_count: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    download_id: Mapped[str | None] = mapped_column(String(40))
    response_zip: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_sha256: Mapped[str | None] = mapped_column(String(64))
    anaf_errors: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    last_error: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    alerted_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    events: Mapped[list[EfacturaEvent]] = relationship(
        back_populates="submission", order_by="EfacturaEvent.id", cascade="save-update, merge"
    )

    def __repr__(self) -> str:
        return f"<EfacturaSubmission {self.document_number} {self.state}>"


class EfacturaEvent(IdMixin, Base):
    """One state change of a submission, with what ANAF said (append-only history)."""

    __tablename__ = "efactura_events"

    submission_id: Mapped[int] = mapped_column(ForeignKey("efactura_submissions.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    submission: Mapped[EfacturaSubmission] = relationship(back_populates="events")


class EfacturaToken(IdMixin, TimestampMixin, Base):
    """The OAuth2 tokens of one CUI in one ANAF environment, encrypted (AES-GCM, key per CUI)."""

    __tablename__ = "efactura_tokens"
    __table_args__ = (UniqueConstraint("cui", "environment"),)

    cui: Mapped[str] = mapped_column(String(12))
    environment: Mapped[str] = mapped_column(String(4))
    access_token_enc: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token_enc: Mapped[bytes] = mapped_column(LargeBinary)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refresh_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:  # never print the tokens
        return f"<EfacturaToken {self.cui} {self.environment} until {self.access_expires_at}>"
