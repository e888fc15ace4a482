"""The CLI (``praho invoice xml``, ``praho efactura ...``), the Celery tasks and beat entries."""

from __future__ import annotations

from datetime import timedelta

from lxml import etree
from praho.core.cli import main
from praho.core.tasks import build_beat_schedule
from praho.plugins.ro_efactura.models import EfacturaSubmission
from praho.plugins.ro_efactura.tasks import (
    POLL_TASK,
    SUBMIT_TASK,
    poll_due_task,
    submit_pending_task,
)
from praho.plugins.ro_efactura.tests import scenarios
from praho.plugins.ro_efactura.tests.anaf_standin import GOOD_CODE
from sqlalchemy import select


def _number(db, invoice_id):
    from praho.core.models import Invoice

    with db.transaction() as session:
        return session.get(Invoice, invoice_id).full_number


def test_invoice_xml_writes_a_valid_file(praho_app, praho_committing, committed, tmp_path):
    number = _number(praho_committing, committed(scenarios.mixed_21_11))
    target = tmp_path / "factura.xml"
    result = praho_app.test_cli_runner().invoke(
        main, args=["invoice", "xml", number, "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    root = etree.parse(str(target)).getroot()
    assert root.findtext("{*}ID") == number
    stdout = praho_app.test_cli_runner().invoke(main, args=["invoice", "xml", number])
    assert stdout.exit_code == 0 and stdout.output.encode() == target.read_bytes()


def test_invoice_xml_refuses_a_proforma_with_a_reason(praho_app, praho_committing):
    from praho.core.models import DocumentKind
    from praho.core.testing import PrahoFactory

    with praho_committing.transaction() as session:
        number = PrahoFactory(session).invoice(kind=DocumentKind.PROFORMA).full_number
    result = praho_app.test_cli_runner().invoke(main, args=["invoice", "xml", number])
    assert result.exit_code == 1 and "proforma" in result.output


def test_authorize_token_submit_status_download_and_alerts(
    praho_app, praho_committing, committed, anaf, tmp_path
):
    runner = praho_app.test_cli_runner()
    url = runner.invoke(args=["efactura", "authorize"])
    assert url.exit_code == 0 and "/anaf-oauth2/v1/authorize?response_type=code" in url.output
    assert "token_content_type=jwt" in url.output
    stored = runner.invoke(args=["efactura", "token", "--cui", "RO14399840", GOOD_CODE])
    assert stored.exit_code == 0 and "stored ANAF tokens for CUI" in stored.output
    assert "access-" not in stored.output
    listed = runner.invoke(args=["efactura", "tokens"])
    assert listed.output.startswith("14399840: access until")

    anaf.state.processing_polls = 0
    number = _number(praho_committing, committed(scenarios.domestic_21))
    assert (
        runner.invoke(args=["efactura", "submit", number]).output.strip() == f"{number}: uploaded"
    )
    polled = runner.invoke(args=["efactura", "poll"])
    assert polled.exit_code == 0, polled.output
    with praho_committing.transaction() as session:
        submission = session.execute(select(EfacturaSubmission)).scalar_one()
        submission.next_poll_at = None
    assert '"accepted": 1' in runner.invoke(args=["efactura", "poll"]).output
    status = runner.invoke(args=["efactura", "status", number])
    assert f"{number}: accepted" in status.output and "uploading -> uploaded" in status.output
    archive = tmp_path / "raspuns.zip"
    downloaded = runner.invoke(args=["efactura", "download", number, "-o", str(archive)])
    assert downloaded.exit_code == 0 and archive.read_bytes().startswith(b"PK")
    alerts = runner.invoke(args=["efactura", "alerts"])
    assert alerts.exit_code == 0 and "no documents within" in alerts.output


def test_remote_validate_uses_anafs_validator(praho_app, tmp_path):
    from praho.plugins.ro_efactura.tests.test_validation import GOLDEN

    runner = praho_app.test_cli_runner()
    ok = runner.invoke(args=["efactura", "remote-validate", str(GOLDEN / "domestic_21.xml")])
    assert ok.exit_code == 0 and "ANAF: ok" in ok.output
    old = tmp_path / "old.xml"
    old.write_text((GOLDEN / "domestic_21.xml").read_text().replace("1.0.1", "1.0.0"))
    nok = runner.invoke(args=["efactura", "remote-validate", str(old)])
    assert nok.exit_code == 1 and "BR-RO-001" in nok.output


def test_retry_cli_requeues_a_rejected_document(praho_app, praho_committing, committed):
    number = _number(praho_committing, committed(scenarios.domestic_21))
    with praho_committing.transaction() as session:
        from praho.core.clock import utcnow
        from praho.plugins.ro_efactura.states import move

        submission = session.execute(select(EfacturaSubmission)).scalar_one()
        submission.state = "uploaded"
        session.add(move(submission, "rejected", now=utcnow(), errors=["x"]))
    result = praho_app.test_cli_runner().invoke(args=["efactura", "retry", number])
    assert result.output.strip() == f"{number}: pending"


def test_tasks_run_eagerly_against_the_standin(praho_committing, committed, authorized, anaf):
    anaf.state.processing_polls = 0
    invoice_id = committed(scenarios.domestic_21)
    assert submit_pending_task.delay().get() == {"uploaded": 1}
    with praho_committing.transaction() as session:
        submission = session.execute(
            select(EfacturaSubmission).where(EfacturaSubmission.invoice_id == invoice_id)
        ).scalar_one()
        submission.next_poll_at = submission.next_poll_at - timedelta(minutes=5)
    assert poll_due_task.delay().get() == {"accepted": 1}


def test_beat_schedule_has_the_efactura_entries(praho_app):
    schedule = build_beat_schedule(praho_app)
    assert schedule["efactura-submit"]["task"] == SUBMIT_TASK
    assert schedule["efactura-poll"]["task"] == POLL_TASK
    assert "efactura-deadline-alerts" in schedule


def test_einvoice_format_is_registered_by_id(praho_app):
    from praho.core.plugins import get_registry

    formats = get_registry().objects("register_einvoice_formats")
    assert formats["ubl_cius_ro"].media_type == "application/xml"
