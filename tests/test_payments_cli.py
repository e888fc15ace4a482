"""``praho payments``: transfers recorded from the command line, settle, attempts."""

from praho.core.cli import main
from praho.core.models import Invoice, Payment, PaymentStatus
from praho.core.payments.testing import customer_with_card
from praho.core.services.payments import charge_invoice
from praho.core.testing import PrahoFactory, at
from sqlalchemy import func, select


def _invoke(praho_app, *args):
    return praho_app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)


def test_transfer_settle_and_attempts(praho_app, praho_committing):
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        customer = factory.customer(code="CLIPAY")
        first = factory.invoice(customer)
        second = factory.invoice(customer)
        numbers = (first.full_number, second.full_number)
        timeout = factory.invoice(customer_with_card(factory, "tok_timeout"))
    with praho_committing.transaction() as session:
        charge_invoice(session, session.get(Invoice, timeout.id), now=at("2020-01-01"))

    bad = [("121.005", "has more than 2 decimals"), ("abc", "is not a number")]
    for amount, message in bad:
        result = _invoke(praho_app, "payments", "transfer", "CLIPAY", amount, "OP-X", "--date",
                         "2026-03-02")
        assert result.exit_code != 0 and message in result.output
    result = _invoke(praho_app, "payments", "transfer", "CLIPAY", "50.00", "OP-X", "--date",
                     "2026-03-02", "--invoice", f"{numbers[1]}=40.00")
    assert result.exit_code == 0, result.output
    assert "allocated 40,00" in result.output and "credit 10,00" in result.output
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count()).select_from(Payment)).scalar_one() == 1
        assert session.get(Invoice, second.id).payment_status == PaymentStatus.PARTIALLY_PAID
        assert session.get(Invoice, first.id).payment_status == PaymentStatus.UNPAID

    listed = _invoke(praho_app, "payments", "attempts", "--status", "unknown")
    assert "fake" in listed.output and "unknown" in listed.output
    settled = _invoke(praho_app, "payments", "settle")
    assert "checked 1: settled 1" in settled.output
    with praho_committing.transaction() as session:
        assert session.get(Invoice, timeout.id).payment_status == PaymentStatus.PAID
