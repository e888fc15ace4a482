"""``praho billing``: run with progress and summary, status, preview, simulate, bad input."""

import json

import pytest
from praho.core.cli import main
from praho.core.models import Customer, Invoice
from praho.core.testing import PrahoFactory
from sqlalchemy import func, select


@pytest.fixture
def billed(praho_committing):
    """Three subscriptions due on 28 February 2026, one with a customer missing its CUI."""
    with praho_committing.transaction() as session:
        factory = PrahoFactory(session)
        euro = factory.price(currency="EUR", unit_amount_minor=1000)
        ids = [
            factory.subscription(start="2026-01-31").id,
            factory.subscription(euro, start="2026-01-31").id,
        ]
        broken = factory.subscription(start="2026-01-31")
        session.get(Customer, broken.customer_id).cui = None
        ids.append(broken.id)
    return ids


def _invoke(praho_app, *args):
    return praho_app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)


def test_billing_run_prints_progress_and_summary(praho_app, billed):
    result = _invoke(praho_app, "billing", "run", "--date", "2026-02-28", "--chunk-size", "2")
    assert result.exit_code == 0, result.output
    assert "billing chunks" in result.output
    assert "completed_with_failures" in result.output
    assert "documents issued:  2" in result.output
    assert "60.50 RON" in result.output and "12.10 EUR" in result.output
    assert (
        f"FAILED subscription {billed[2]} (period 2026-02-28): validation_failed: customer.cui"
        in result.output
    )
    status = _invoke(praho_app, "billing", "status", "--json")
    summary = json.loads(status.output)
    assert summary["counts"] == {"issued": 2, "failed": 1} and summary["due"] == 3
    again = _invoke(praho_app, "billing", "run", "--date", "2026-02-28", "--json", "--strict")
    assert again.exit_code == 1  # the broken customer still fails, --strict reports it
    assert json.loads(again.output)["counts"] == {"failed": 1}


def test_billing_run_refuses_a_bad_date(praho_app, praho_committing):
    result = _invoke(praho_app, "billing", "run", "--date", "2026-02-30")
    assert result.exit_code == 2 and "expected YYYY-MM-DD" in result.output


def test_billing_preview_and_simulate(praho_app, billed, praho_committing):
    preview = _invoke(praho_app, "billing", "preview", str(billed[0]), "--date", "2026-02-10")
    assert preview.exit_code == 0, preview.output
    assert "invoice on 2026-02-28" in preview.output and "total 60.50 RON" in preview.output
    missing = _invoke(praho_app, "billing", "preview", "999999")
    assert missing.exit_code == 1 and "no subscription 999999" in missing.output
    simulated = _invoke(
        praho_app, "billing", "simulate", "--from", "2026-02-01", "--to", "2026-03-31", "--json",
        "--no-collect",
    )
    assert simulated.exit_code == 0, simulated.output
    data = json.loads(simulated.output)
    assert data["documents_issued"] == 4 and data["amounts"] == {"RON": 2 * 6050, "EUR": 2 * 1210}
    # With collection (the default) nobody here has a card: the unpaid February invoices
    # are chased, the subscriptions suspended, and March is not renewed.
    chased = json.loads(_invoke(praho_app, "billing", "simulate", "--from", "2026-02-01",
                                "--to", "2026-03-31", "--json").output)
    assert chased["documents_issued"] == 2
    assert any("suspend:succeeded" in day["collections"] for day in chased["days"])
    with praho_committing.transaction() as session:
        assert (
            session.execute(select(func.count(Invoice.id))).scalar_one() == 3
        )  # live data untouched
    backwards = _invoke(
        praho_app, "billing", "simulate", "--from", "2026-03-01", "--to", "2026-02-01"
    )
    assert backwards.exit_code == 1 and "before" in backwards.output
