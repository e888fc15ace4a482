"""e-Factura in the back office: submissions, submit now, re-check status, queue again,
download the XML sent and ANAF's response; a dashboard box for waiting and rejected ones.

Registered through ``register_admin_views`` (see plugin.py); every action calls this
plugin's own services, exactly as ``praho efactura submit|poll|retry`` do.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, url_for
from praho.admin.auth import READ
from praho.admin.views.base import Action, ActionContext, Download, Panel, PrahoModelView
from praho.core.errors import NotFound
from praho.plugins.ro_efactura.anaf_client import AnafClient
from praho.plugins.ro_efactura.models import EfacturaSubmission, SubmissionState
from praho.plugins.ro_efactura.settings import current_settings
from praho.plugins.ro_efactura.submissions import retry_submission
from praho.plugins.ro_efactura.transmission import poll_submission, upload_submission
from sqlalchemy import select
from sqlalchemy.orm import Session

S = SubmissionState
WAITING = (S.PENDING, S.UPLOADING, S.UPLOADED, S.PROCESSING, S.UNKNOWN)
PROBLEMS = (S.REJECTED, S.INVALID)


def _submit(ctx: ActionContext) -> str:
    settings = current_settings()
    # upload_submission runs its own short transactions around the ANAF call.
    state = upload_submission(
        current_app.extensions["praho.db"].transaction,
        ctx.obj.id,
        client=AnafClient(settings),
        settings=settings,
        now=ctx.now,
    )
    return f"{ctx.obj.document_number}: {state}"


def _recheck(ctx: ActionContext) -> str:
    settings = current_settings()
    state = poll_submission(
        ctx.session, ctx.obj, client=AnafClient(settings), settings=settings, now=ctx.now
    )
    return f"{ctx.obj.document_number}: {state}"


def _retry(ctx: ActionContext) -> str:
    submission = retry_submission(ctx.session, ctx.obj, actor=ctx.actor, now=ctx.now)
    return f"{submission.document_number}: {submission.state}"


def _sent_xml(_session: Session, submission: EfacturaSubmission) -> tuple[bytes, str, str]:
    if not submission.xml:
        raise NotFound(f"{submission.document_number}: no XML was prepared yet")
    return submission.xml, "application/xml", f"{submission.document_number}.xml"


def _response_zip(_session: Session, submission: EfacturaSubmission) -> tuple[bytes, str, str]:
    if not submission.response_zip:
        raise NotFound(f"{submission.document_number}: no ANAF response yet")
    return submission.response_zip, "application/zip", f"{submission.document_number}-anaf.zip"


class EfacturaSubmissionView(PrahoModelView):
    """One row per document sent (or to be sent) to ANAF's SPV."""

    column_list = (
        "document_number",
        "state",
        "issue_date",
        "deadline",
        "attempts",
        "upload_index",
        "b2c",
        "environment",
        "last_error",
    )
    column_details_list = (
        "document_number",
        "invoice_id",
        "state",
        "standard",
        "b2c",
        "extern",
        "environment",
        "issue_date",
        "deadline",
        "attempts",
        "upload_index",
        "uploaded_at",
        "poll_count",
        "next_poll_at",
        "download_id",
        "anaf_errors",
        "last_error",
        "resolved_at",
        "xml_sha256",
        "response_sha256",
    )
    column_export_list = column_details_list
    column_searchable_list = ("document_number", "upload_index")
    column_filters = ("state", "environment", "deadline", "issue_date", "b2c")
    column_default_sort = ("id", True)
    actions = (
        Action("submit", "Submit to ANAF", _submit, applies=lambda s: s.state == S.PENDING),
        Action(
            "recheck",
            "Check status",
            _recheck,
            applies=lambda s: (
                s.state in (S.UPLOADED, S.PROCESSING, S.ACCEPTED, S.REJECTED)
                and bool(s.upload_index)
            ),
        ),
        Action(
            "retry",
            "Queue again",
            _retry,
            applies=lambda s: s.state in PROBLEMS or s.state == S.UNKNOWN,
            style="warning",
        ),
    )
    downloads = (
        Download("xml", "Download XML", _sent_xml, roles=READ),
        Download(
            "response", "ANAF response", _response_zip, applies=lambda s: bool(s.response_zip)
        ),
    )

    def dashboard_panels(self, session: Session, today: date) -> list[Panel]:
        """Submissions waiting (with their deadline) and rejected or invalid ones."""
        rows = session.execute(
            select(EfacturaSubmission)
            .where(EfacturaSubmission.state.in_([*WAITING, *PROBLEMS]))
            .order_by(EfacturaSubmission.deadline)
            .limit(15)
        ).scalars()
        panel = Panel(
            "e-Factura waiting or rejected",
            ["Number", "Status", "Due date"],
            link=url_for(f"{self.endpoint}.index_view"),
        )
        panel.rows = [[s.document_number, str(s.state), s.deadline.isoformat()] for s in rows]
        return [panel]


def admin_views(session: Any) -> list[Any]:
    """The plugin's views, for ``register_admin_views``."""
    return [
        EfacturaSubmissionView(
            EfacturaSubmission, session, name="e-Factura", endpoint="efactura", category="Documents"
        )
    ]
