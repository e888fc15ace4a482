"""The e-mail outbox against a real SMTP server (aiosmtpd)."""

from datetime import UTC, datetime, timedelta

import pytest
from praho.core.errors import FieldError
from praho.core.models import EmailMessage, EmailStatus
from praho.core.services import mail

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_queued_message_is_delivered_after_commit(praho_committing, praho_smtp):
    with praho_committing.transaction() as session:
        mail.queue_email(session, to="ana@example.ro", template="test_message", language="ro",
                         context={"name": "Ana"}, key="t1", now=NOW)
        assert praho_smtp.messages == []  # nothing leaves before the commit
    [received] = praho_smtp.to("ana@example.ro")
    assert received["Subject"] == "Mesaj de test PRAHO pentru Ana"
    assert "diacritice: ăâîșț" in received.get_content()
    assert received["X-PRAHO-Message-Key"] == "t1"
    with praho_committing.transaction() as session:
        stored = session.query(EmailMessage).one()
        assert stored.status == EmailStatus.SENT and stored.attempts == 1


def test_same_key_is_one_message_sent_once(praho_committing, praho_smtp):
    for _ in range(3):
        with praho_committing.transaction() as session:
            mail.queue_email(session, to="ana@example.ro", template="test_message", language="en",
                             context={"name": "Ana"}, key="dunning:42", now=NOW)
    assert len(praho_smtp.messages) == 1
    assert praho_smtp.messages[0]["Subject"] == "PRAHO test message for Ana"


def test_rolled_back_work_sends_nothing(praho_committing, praho_smtp):
    with pytest.raises(RuntimeError), praho_committing.transaction() as session:
        mail.queue_email(session, to="ana@example.ro", template="test_message", language="ro",
                         context={"name": "Ana"}, key="t2", now=NOW)
        raise RuntimeError("the business operation failed")
    assert praho_smtp.messages == []
    with praho_committing.transaction() as session:
        assert session.query(EmailMessage).count() == 0


def test_a_rolled_back_savepoint_keeps_messages_queued_before_it(praho_committing, praho_smtp):
    with praho_committing.transaction() as session:
        mail.queue_email(session, to="ana@example.ro", template="test_message", language="ro",
                         context={"name": "Ana"}, key="t3", now=NOW)
        with pytest.raises(RuntimeError), session.begin_nested():
            mail.queue_email(session, to="ion@example.ro", template="test_message",
                             language="ro", context={"name": "Ion"}, key="t4", now=NOW)
            raise RuntimeError("one step failed; the rest of the work goes on")
    assert len(praho_smtp.to("ana@example.ro")) == 1  # sent at commit, not left for the sweep
    assert praho_smtp.to("ion@example.ro") == []


def test_smtp_down_is_retried_with_backoff(praho_committing, praho_app, praho_smtp):
    port = praho_app.config["SMTP_PORT"]
    praho_app.config["SMTP_PORT"] = 1  # nothing listens there
    with praho_committing.transaction() as session:
        mail.queue_email(session, to="ana@example.ro", template="test_message", language="ro",
                         context={"name": "Ana"}, key="t3", now=NOW)
    with praho_committing.transaction() as session:
        message = session.query(EmailMessage).one()
        assert message.status == EmailStatus.QUEUED and message.attempts == 1
        assert "ConnectionRefused" in message.last_error
        retry_at = message.next_attempt_at
    praho_app.config["SMTP_PORT"] = port
    with praho_committing.transaction() as session:
        assert mail.deliver_due(session, now=NOW) == 0  # not due yet
        assert mail.deliver_due(session, now=retry_at + timedelta(seconds=1)) == 1
    assert len(praho_smtp.messages) == 1


def test_language_fallback_and_bad_input(praho_session, praho_app):
    with pytest.raises(FieldError, match="to"):
        mail.queue_email(praho_session, to="not-an-address", template="test_message", language="ro",
                         context={}, key="x")
    with pytest.raises(mail.TemplateMissing):
        mail.queue_email(praho_session, to="a@b.ro", template="no_such_template", language="ro",
                         context={}, key="y")
    assert praho_session.query(EmailMessage).count() == 0


def test_cli_mail_test(praho_committing, praho_app, praho_smtp):
    result = praho_app.test_cli_runner().invoke(args=["mail", "test", "ops@example.ro"])
    assert result.exit_code == 0, result.output
    assert praho_smtp.to("ops@example.ro")
