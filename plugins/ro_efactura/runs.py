"""Batch services the Celery tasks and CLI call: each document in its own transaction.

One document failing (ANAF down, a validation error) never stops the others.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

from praho.core.clock import business_date, resolve_now
from praho.plugins.ro_efactura.anaf_client import AnafClient
from praho.plugins.ro_efactura.models import EfacturaSubmission, SubmissionState
from praho.plugins.ro_efactura.settings import EfacturaSettings
from praho.plugins.ro_efactura.submissions import (
    DeadlineAlert,
    deadline_alerts,
    ids_in_state,
    mark_stale_claims_unknown,
)
from praho.plugins.ro_efactura.transmission import (
    TransactionFactory,
    poll_submission,
    resolve_unknown,
    upload_submission,
)
from sqlalchemy import select

log = logging.getLogger("praho.efactura")
S = SubmissionState


@dataclass
class RunReport:
    """How many submissions ended in which state during one run."""

    states: dict[str, int] = field(default_factory=dict)

    def count(self, state: SubmissionState | str) -> None:
        """Count one submission's resulting state."""
        self.states[str(state)] = self.states.get(str(state), 0) + 1


def submit_pending(
    transaction: TransactionFactory,
    *,
    client: AnafClient,
    settings: EfacturaSettings,
    now: datetime | None = None,
) -> RunReport:
    """Upload every pending document (at most ``submit_batch_size``), each at most once."""
    moment = resolve_now(now)
    report = RunReport()
    with transaction() as session:
        ids = ids_in_state(session, S.PENDING, limit=settings.submit_batch_size)
    for submission_id in ids:
        report.count(
            upload_submission(
                transaction, submission_id, client=client, settings=settings, now=moment
            )
        )
    return report


def poll_due(
    transaction: TransactionFactory,
    *,
    client: AnafClient,
    settings: EfacturaSettings,
    now: datetime | None = None,
) -> RunReport:
    """Check every uploaded document due for a poll, fetch missing zips, settle unknowns."""
    moment = resolve_now(now)
    report = RunReport()
    with transaction() as session:
        mark_stale_claims_unknown(session, now=moment)
        ids = []
        for state in (S.UPLOADED, S.PROCESSING, S.UNKNOWN):
            ids += ids_in_state(session, state, limit=settings.submit_batch_size, due_before=moment)
        # Settled documents whose zip is still missing, only once their backoff is over:
        # ANAF allows 10 downloads per message per day (see transmission.MIN_DOWNLOAD_RETRY).
        ids += list(
            session.execute(
                select(EfacturaSubmission.id)
                .where(
                    EfacturaSubmission.state.in_([str(S.ACCEPTED), str(S.REJECTED)]),
                    EfacturaSubmission.download_id.is_not(None),
                    EfacturaSubmission.response_zip.is_(None),
                    (EfacturaSubmission.next_poll_at.is_(None))
                    | (EfacturaSubmission.next_poll_at <= moment),
                )
                .order_by(EfacturaSubmission.id)
                .limit(settings.submit_batch_size)
            ).scalars()
        )
    for submission_id in ids:
        with transaction() as session:
            submission = session.get(
                EfacturaSubmission,
                submission_id,
                with_for_update=session.get_bind().dialect.name == "postgresql",
            )
            if submission is None:
                continue
            service: Any = resolve_unknown if submission.state == S.UNKNOWN else poll_submission
            report.count(service(session, submission, client=client, settings=settings, now=moment))
    return report


def alert_deadlines(
    transaction: TransactionFactory,
    *,
    settings: EfacturaSettings,
    smtp: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> list[DeadlineAlert]:
    """Log (and e-mail, when ``alert_email`` is set) documents close to their deadline."""
    today: date = business_date(resolve_now(now))
    with transaction() as session:
        alerts = deadline_alerts(session, today=today, settings=settings, mark=True)
    for alert in alerts:
        log.warning("e-Factura deadline: %s", alert)
    if alerts and settings.alert_email and smtp is not None:
        send_alert_mail(alerts, to=settings.alert_email, smtp=smtp)
    return alerts


def send_alert_mail(alerts: list[DeadlineAlert], *, to: str, smtp: dict[str, Any]) -> None:
    """One e-mail listing every alert, through the configured SMTP server."""
    message = EmailMessage()
    message["Subject"] = f"e-Factura: {len(alerts)} document(s) close to the SPV deadline"
    message["From"] = smtp.get("MAIL_FROM") or "billing@localhost"
    message["To"] = to
    message.set_content(
        "These documents are not yet accepted by ANAF e-Factura:\n\n"
        + "\n".join(f"- {alert}" for alert in alerts)
        + "\n\nSee `praho efactura status NUMBER` for each one.\n"
    )
    with smtplib.SMTP(
        smtp.get("SMTP_HOST") or "127.0.0.1", int(smtp.get("SMTP_PORT") or 25), timeout=30
    ) as server:
        if smtp.get("SMTP_STARTTLS"):
            server.starttls()
        if smtp.get("SMTP_USER"):
            server.login(smtp["SMTP_USER"], smtp.get("SMTP_PASSWORD") or "")
        server.send_message(message)
