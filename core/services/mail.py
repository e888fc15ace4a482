"""E-mail: render from Jinja templates, store in an outbox, deliver over SMTP after commit.

Queuing happens inside the business transaction, so a message exists exactly when the
work that caused it committed. Delivery happens afterwards: a Celery task per message
is sent when the transaction commits, and a periodic task retries whatever is still
queued, with backoff. A message key makes queuing idempotent, and the outbox row makes
sending at-most-once per successful SMTP hand-off.

Templates are ``email/<template>.<language>.txt``; the first line is ``Subject: ...``,
then a blank line, then the body. Plugins add templates through ``register_templates``.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterable
from datetime import datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid
from typing import Any

from flask import current_app
from jinja2 import TemplateNotFound
from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError, PrahoError
from praho.core.models.mail import EmailMessage, EmailStatus
from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session, SessionTransaction

RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
                timedelta(hours=2), timedelta(hours=6))
_QUEUED_KEY = "praho.mail.queued"


class TemplateMissing(PrahoError):
    """No template for this name in any language."""

    code = "template_missing"


def render_email(template: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
    """Render a template to (subject, body), falling back to English then Romanian."""
    env = current_app.jinja_env
    for lang in dict.fromkeys((language, "en", "ro")):
        try:
            text = env.get_template(f"email/{template}.{lang}.txt").render(**context)
        except TemplateNotFound:
            continue
        first, _, body = text.partition("\n")
        if not first.startswith("Subject:"):
            raise TemplateMissing(f"email/{template}.{lang}.txt must start with 'Subject: '")
        return first.removeprefix("Subject:").strip(), body.lstrip("\n")
    raise TemplateMissing(f"no e-mail template {template!r} (looked for email/{template}.<lang>.txt)")


def queue_email(session: Session, *, to: str, template: str, language: str, context: dict[str, Any],
                key: str, related: tuple[str, Any] | None = None,
                now: datetime | None = None) -> EmailMessage:
    """Render and store a message; the same ``key`` returns the stored message unchanged."""
    existing = session.execute(select(EmailMessage).where(EmailMessage.key == key)).scalar_one_or_none()
    if existing is not None:
        return existing
    address = v.email("to", to)
    v.text("key", key, max_length=200)
    if language not in ("ro", "en"):
        raise FieldError("language", f"{language!r} is not ro or en")
    subject, body = render_email(template, language, context)
    message = EmailMessage(
        key=key, to_address=address, template=template, language=language, subject=subject[:300],
        body_text=body, status=EmailStatus.QUEUED, created_at=resolve_now(now),
        related_type=related[0] if related else None,
        related_id=str(related[1]) if related else None,
    )
    session.add(message)
    session.flush()
    session.info.setdefault(_QUEUED_KEY, []).append(message.id)
    return message


def _smtp_settings() -> dict[str, Any]:
    config = current_app.config
    return {"host": config.get("SMTP_HOST") or "127.0.0.1", "port": int(config.get("SMTP_PORT") or 25),
            "user": config.get("SMTP_USER"), "password": config.get("SMTP_PASSWORD"),
            "starttls": bool(config.get("SMTP_STARTTLS")), "sender": config.get("MAIL_FROM")}


def _mime(message: EmailMessage, sender: str) -> MimeMessage:
    mime = MimeMessage()
    mime["From"] = sender
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False)
    mime["Message-ID"] = make_msgid(idstring=f"praho-{message.id}")
    mime["X-PRAHO-Message-Key"] = message.key
    mime.set_content(message.body_text)
    return mime


def deliver(session: Session, message: EmailMessage, *, now: datetime | None = None) -> bool:
    """Hand one queued message to the SMTP server; record the outcome. True when sent."""
    moment = resolve_now(now)
    if message.status == EmailStatus.SENT:
        return True
    smtp = _smtp_settings()
    message.attempts += 1
    try:
        with smtplib.SMTP(smtp["host"], smtp["port"], timeout=30) as client:
            if smtp["starttls"]:
                client.starttls()
            if smtp["user"]:
                client.login(smtp["user"], smtp["password"] or "")
            client.send_message(_mime(message, smtp["sender"]))
    except (OSError, smtplib.SMTPException) as exc:
        delay = RETRY_DELAYS[min(message.attempts, len(RETRY_DELAYS)) - 1]
        exhausted = message.attempts >= len(RETRY_DELAYS) + 1
        message.status = EmailStatus.FAILED if exhausted else EmailStatus.QUEUED
        message.next_attempt_at = None if exhausted else moment + delay
        message.last_error = f"{type(exc).__name__}: {exc}"[:500]
        session.flush()
        return False
    message.status = EmailStatus.SENT
    message.sent_at = moment
    message.last_error = None
    message.next_attempt_at = None
    session.flush()
    return True


def deliver_due(session: Session, *, now: datetime | None = None, limit: int = 200) -> int:
    """Deliver queued messages whose retry time has come; returns how many were sent."""
    moment = resolve_now(now)
    due = session.execute(
        select(EmailMessage).where(
            EmailMessage.status == EmailStatus.QUEUED,
            or_(EmailMessage.next_attempt_at.is_(None), EmailMessage.next_attempt_at <= moment),
        ).order_by(EmailMessage.id).limit(limit).with_for_update(skip_locked=True)
    ).scalars().all()
    return sum(1 for message in due if deliver(session, message, now=moment))


def deliver_by_ids(session: Session, ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Deliver specific queued messages (used right after the queuing transaction commits)."""
    sent = 0
    for message_id in ids:
        message = session.execute(
            select(EmailMessage).where(EmailMessage.id == message_id).with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if message is not None and message.status == EmailStatus.QUEUED and deliver(session, message, now=now):
            sent += 1
    return sent


def _dispatch_after_commit(session: Session) -> None:
    ids = session.info.pop(_QUEUED_KEY, [])
    if not ids or session.in_nested_transaction():
        if ids:
            session.info[_QUEUED_KEY] = ids
        return
    from praho.core.mail_tasks import deliver_messages

    deliver_messages.delay(ids)


def _forget(session: Session, previous_transaction: SessionTransaction) -> None:
    # Only the whole transaction's rollback: a savepoint's rollback (a webhook handler that
    # failed) must not forget the messages queued before it. Ids queued inside the
    # savepoint are rolled back with it and simply not found when delivering.
    if previous_transaction.parent is None:
        session.info.pop(_QUEUED_KEY, None)


def install_dispatch() -> None:
    """Send delivery tasks when a transaction that queued messages commits (idempotent)."""
    if not event.contains(Session, "after_commit", _dispatch_after_commit):
        event.listen(Session, "after_commit", _dispatch_after_commit)
        event.listen(Session, "after_soft_rollback", _forget)
